"""Webhook secrets encrypted with KMS: stored as ciphertext, decrypted only to sign.

The ciphertext is bound to its organization and endpoint (encryption context), so a copied
blob does not decrypt for another endpoint. Plaintexts are cached per container for a minute:
a rotation takes effect at once because a rotated secret is a new ciphertext.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import boto3

from scrip import settings

_CACHE_SECONDS = 60
_plaintexts: dict[bytes, tuple[float, str]] = {}


@cache
def _client() -> Any:
    return boto3.client("kms")


def reset() -> None:
    _client.cache_clear()
    _plaintexts.clear()


def _context(org_id: str, endpoint_id: str) -> dict[str, str]:
    return {"organization_id": org_id, "webhook_endpoint_id": endpoint_id}


def encrypt(org_id: str, endpoint_id: str, secret: str) -> bytes:
    response = _client().encrypt(
        KeyId=settings.current().secrets_key_id,
        Plaintext=secret.encode(),
        EncryptionContext=_context(org_id, endpoint_id),
    )
    return bytes(response["CiphertextBlob"])


def decrypt(org_id: str, endpoint_id: str, ciphertext: bytes) -> str:
    cached = _plaintexts.get(ciphertext)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    response = _client().decrypt(CiphertextBlob=ciphertext, EncryptionContext=_context(org_id, endpoint_id))
    secret = bytes(response["Plaintext"]).decode()
    _plaintexts[ciphertext] = (time.monotonic() + _CACHE_SECONDS, secret)
    return secret
