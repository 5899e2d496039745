"""Conversions between domain values and item attributes shared by the repositories."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain.clock import parse_rfc3339, to_rfc3339


def timestamp(moment: datetime | None) -> str | None:
    return to_rfc3339(moment) if moment is not None else None


def moment(value: Any) -> datetime | None:
    return parse_rfc3339(value) if value else None


def decimal_or_none(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None
