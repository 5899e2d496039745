"""Keyset pagination (01-platform §4.7).

A cursor names the sort key of the last row returned and the query it belongs to. Resuming
strictly after that key means rows inserted or removed between pages never shift the page
boundary: nothing is skipped or repeated. The scope signature makes a cursor from one
endpoint or filter set a ``400`` on another instead of a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from scrip.domain.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page[T]:
    items: list[T]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def scope_signature(*parts: object) -> str:
    """A short digest of the endpoint and filters that a cursor is valid for."""
    text = json.dumps([str(p) if p is not None else None for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(sort_key: str, scope: str) -> str:
    raw = json.dumps({"k": sort_key, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> str:
    """The sort key a cursor resumes after; ``400`` if it is garbled or from another query."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_key, cursor_scope = data["k"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed("cursor is not valid", field="cursor", reason="invalid_cursor") from None
    if not isinstance(sort_key, str) or cursor_scope != scope:
        raise ValidationFailed(
            "cursor was issued for a different endpoint or filter set",
            field="cursor",
            reason="cursor_mismatch",
        )
    return sort_key
