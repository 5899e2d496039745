"""The one source of "now", so that tests and schedules can move time.

``SCRIP_CLOCK_OFFSET_SECONDS`` shifts the wall clock (the local stack sets it when a test moves
time); production leaves it unset.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    offset = os.environ.get("SCRIP_CLOCK_OFFSET_SECONDS")
    current = datetime.now(UTC)
    return current + timedelta(seconds=float(offset)) if offset else current


def to_rfc3339(moment: datetime) -> str:
    """UTC with a ``Z``; microseconds kept so that timestamps sort as strings and stay unique."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_rfc3339_or_none(moment: datetime | None) -> str | None:
    return to_rfc3339(moment) if moment is not None else None


def parse_rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset or Z")
    return moment.astimezone(UTC)
