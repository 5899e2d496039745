"""Identifiers: lowercase canonical UUIDs for resources, ``req_`` ids for requests."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


def canonical_uuid(text: str) -> str | None:
    """The canonical form of ``text`` if it is a UUID, else None."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        return None
