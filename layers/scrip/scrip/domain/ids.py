"""Identifiers: lowercase canonical UUIDs for resources, ``req_`` ids for requests."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex
