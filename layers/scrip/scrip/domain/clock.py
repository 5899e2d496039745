"""The one source of "now", so that tests and schedules can move time.

``SCRIP_CLOCK_OFFSET_SECONDS`` shifts the wall clock (the local stack sets it when a test moves
time); production leaves it unset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from scrip import settings

# What a timestamp input may be (documented in the OpenAPI text): RFC 3339 with a four-digit
# year, within bounds every later computation can hold (the Unix epoch, and the last year a
# four-digit year and Python's datetime can write).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
INPUT_TEXT = (
    "an RFC 3339 timestamp with a UTC offset or Z, such as 2025-01-15T10:30:00Z, "
    "between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
)

# RFC 3339 date-time only: fromisoformat alone also takes ISO 8601 forms RFC 3339 refuses
# (basic "20250302T180400Z", week dates, minutes without seconds).
_RFC3339_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# Before years were padded, a year below 1000 was stored with fewer digits ("579-02-03T...").
_SHORT_YEAR = re.compile(r"(\d{1,3})(-.*)", re.DOTALL)


def now() -> datetime:
    offset = settings.current().clock_offset_seconds
    current = datetime.now(UTC)
    return current + timedelta(seconds=offset) if offset else current


def to_rfc3339(moment: datetime) -> str:
    """UTC with a ``Z``; microseconds kept so that timestamps sort as strings and stay unique.

    The year is written with four digits whatever it is: ``strftime("%Y")`` writes year 579 as
    ``579``, which neither sorts with the others nor parses back.
    """
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        # Year 1 or 9999 with an offset lies past what datetime holds in UTC: as a bound (a
        # list filter), the first or last representable moment means the same.
        utc = datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)
    return f"{utc.year:04d}-{utc.strftime('%m-%dT%H:%M:%S.%f')}Z"


def to_rfc3339_or_none(moment: datetime | None) -> str | None:
    return to_rfc3339(moment) if moment is not None else None


def parse_rfc3339(text: str) -> datetime:
    """A stored or trusted timestamp (any ISO 8601 form with an offset), in UTC; ``ValueError`` if unreadable."""
    normalized = text.replace("Z", "+00:00").replace("z", "+00:00")
    short = _SHORT_YEAR.fullmatch(normalized)
    if short is not None:
        normalized = short.group(1).zfill(4) + short.group(2)
    moment = datetime.fromisoformat(normalized)
    if moment.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset or Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


def parse_input(value: object) -> datetime:
    """A client's timestamp: RFC 3339, four-digit year, within ``EARLIEST``..``LATEST`` (else ``ValueError``)."""
    if not isinstance(value, str) or not _RFC3339_SHAPE.fullmatch(value):
        raise ValueError(f"must be {INPUT_TEXT}")
    try:
        moment = parse_rfc3339(value)
    except ValueError:
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be {INPUT_TEXT}")
    return moment
