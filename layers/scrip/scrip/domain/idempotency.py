"""Request fingerprints for idempotency (00-README decision 1, 01-platform §4.12).

Two requests are "the same payload" when their canonical forms match: key order, whitespace
and trailing decimal zeros do not matter. Amount fields arrive here already parsed to
``Decimal`` (by the request models), so ``"100"`` and ``"100.00"`` hash alike while a string
that merely looks numeric (an ``external_id`` of ``"007"``) keeps its spelling.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from scrip.domain.amounts import canonical_decimal
from scrip.domain.clock import to_rfc3339

# Operation families: one key string may be reused across families (an event and a transfer
# may share ``order-42``) without colliding.
FAMILIES = frozenset({"event", "hold", "release", "forfeit", "void_hold", "redemption", "reversal", "transfer"})
MAX_KEY_LENGTH = 255


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": canonical_decimal(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return to_rfc3339(value)
    if isinstance(value, float):
        # Floats only reach here from free-form client data (event_data); repr is exact.
        return {"$float": repr(value)}
    return value


def fingerprint(payload: Any) -> str:
    text = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyScope:
    """Where a key lives: organization, program and operation family."""

    organization_id: str
    program_id: str
    family: str
    key: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown idempotency family {self.family!r}")
        if not 1 <= len(self.key) <= MAX_KEY_LENGTH:
            raise ValueError("idempotency key must be 1-255 characters")


@dataclass(frozen=True)
class StoredResponse:
    """What a replay answers: the original status and body."""

    status: int
    body: Any


@dataclass(frozen=True)
class IdempotentAnswer:
    """What an idempotent operation answers: the response ``api/`` rendered for the first
    request, stored with its key, and whether this is a replay of it."""

    response: StoredResponse
    replayed: bool
