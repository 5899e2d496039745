"""Organizations and their API keys (01-platform §2.1, §3.1; decision 6).

A key is ``sk_`` + a label + 256 random bits. Only its SHA-256 is stored: the raw key is
shown once, at creation. The keys are random, so a plain hash (not a slow password hash)
resists guessing while keeping authentication to one lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "sk_"


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    organization_id: str
    name: str
    key_hash: str
    display_prefix: str
    status: KeyStatus
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling: the organization every request is confined to, and the key used."""

    organization_id: str
    api_key_id: str


def generate_key(label: str = "live") -> str:
    return f"{KEY_PREFIX}{label}_{secrets.token_urlsafe(32)}"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def hashes_match(stored_hash: str, raw_key: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_key(raw_key))


def display_prefix(raw_key: str) -> str:
    """Enough of the key for an operator to tell keys apart; never enough to use it."""
    return raw_key[:12]
