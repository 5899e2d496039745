"""Operator use cases: organizations and their API keys (decision 6: no dashboard)."""

from __future__ import annotations

from dataclasses import replace

from scrip.domain import clock, ids
from scrip.domain.errors import NotFound
from scrip.domain.organizations import ApiKey, KeyStatus, Organization, display_prefix, generate_key, hash_key
from scrip.storage import organizations as organization_store


def create_organization(name: str, organization_id: str | None = None) -> Organization:
    organization = Organization(id=organization_id or ids.new_id(), name=name, status="ACTIVE", created_at=clock.now())
    organization_store.create_organization(organization)
    return organization


def issue_api_key(
    organization_id: str, name: str = "default", *, raw_key: str | None = None, label: str = "live"
) -> tuple[ApiKey, str]:
    """A new key for the organization and its raw value, which is never stored or shown again."""
    raw = raw_key or generate_key(label)
    if not raw.startswith("sk_"):
        raise ValueError("API keys start with sk_")
    key = ApiKey(
        id=ids.new_id(),
        organization_id=organization_id,
        name=name,
        key_hash=hash_key(raw),
        display_prefix=display_prefix(raw),
        status=KeyStatus.ACTIVE,
        created_at=clock.now(),
    )
    organization_store.add_api_key(key)
    return key, raw


def list_api_keys(organization_id: str) -> list[ApiKey]:
    return organization_store.list_api_keys(organization_id)


def revoke_api_key(organization_id: str, key_id: str) -> ApiKey:
    for key in organization_store.list_api_keys(organization_id):
        if key.id == key_id:
            if key.status is KeyStatus.REVOKED:
                return key
            revoked = replace(key, status=KeyStatus.REVOKED, revoked_at=clock.now())
            organization_store.revoke_api_key(revoked)
            return revoked
    raise NotFound(f"API key {key_id} not found in organization {organization_id}")
