"""Authentication of API keys (01-platform §3)."""

from __future__ import annotations

from scrip.domain.errors import Unauthorized
from scrip.domain.organizations import KEY_PREFIX, Caller, KeyStatus, hash_key, hashes_match
from scrip.storage import organizations as organization_store


def authenticate(raw_key: str | None) -> Caller:
    """The caller behind ``raw_key``; ``401 unauthorized`` for anything else.

    Missing, malformed, unknown and revoked keys get the same answer, so a caller learns
    nothing about which keys exist.
    """
    if not raw_key or not raw_key.startswith(KEY_PREFIX):
        raise Unauthorized("missing or malformed API key")
    key = organization_store.find_api_key_by_hash(hash_key(raw_key))
    if key is None or key.status is not KeyStatus.ACTIVE or not hashes_match(key.key_hash, raw_key):
        raise Unauthorized("invalid or revoked API key")
    return Caller(organization_id=key.organization_id, api_key_id=key.id)
