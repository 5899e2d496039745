"""The pure parts of services/tier_events.py: the ACTIVITY_REFRESH expiry and its rounding."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from scrip.domain.tiers import Tier, new_tier
from scrip.services.tier_events import lifecycle_expiry, refreshed_expiry

_ids = (f"id-{n}" for n in itertools.count())
LEVELS = [{"key": "member", "rank": 1}]


def _tier(lifecycle: dict[str, Any] | None) -> Tier:
    body: dict[str, Any] = {"key": "status", "levels": LEVELS}
    if lifecycle is not None:
        body["lifecycle"] = lifecycle
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return new_tier(tier_id="t", program_id="p", body=body, now=now, new_id=lambda: next(_ids))


REFRESH = _tier({"retention": {"mode": "ACTIVITY_REFRESH", "duration": "720h"}})


def test_the_refreshed_expiry_is_rounded_up_to_the_hour() -> None:
    at = datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
    assert refreshed_expiry(REFRESH, at) == datetime(2026, 3, 31, 11, tzinfo=UTC)
    on_the_hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert refreshed_expiry(REFRESH, on_the_hour) == on_the_hour + timedelta(hours=720)
    # Every moment of one hour gives the same expiry: one write an hour at most.
    assert len({refreshed_expiry(REFRESH, at + timedelta(minutes=m)) for m in range(59)}) == 1


def test_other_retention_modes_are_not_refreshed() -> None:
    period = _tier({"retention": {"mode": "PERIOD_BASED"}, "qualification_period": {"type": "CALENDAR_YEAR"}})
    at = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert refreshed_expiry(period, at) is None
    assert refreshed_expiry(_tier(None), at) is None
    assert lifecycle_expiry(period, at) == datetime(2027, 1, 1, tzinfo=UTC)
    assert lifecycle_expiry(_tier(None), at) is None
    assert lifecycle_expiry(REFRESH, at) == datetime(2026, 3, 31, 11, tzinfo=UTC)
