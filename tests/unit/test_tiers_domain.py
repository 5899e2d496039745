"""Tier definitions as pure functions (02 §4.2-4.8): validation, PATCH merge, documents."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import tiers
from scrip.domain.errors import Conflict, ValidationFailed
from scrip.domain.tiers import DowngradeMode, QualificationOperator, TierArchived, TierStatus

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
_ids = (f"id-{n}" for n in itertools.count())


def _new_id() -> str:
    return next(_ids)


def _tier(**body: Any) -> tiers.Tier:
    defaults: dict[str, Any] = {"key": "status", "levels": [{"key": "silver", "rank": 1}, {"key": "gold", "rank": 2}]}
    return tiers.new_tier(tier_id="t", program_id="p", body={**defaults, **body}, now=NOW, new_id=_new_id)


def _field(error: pytest.ExceptionInfo[ValidationFailed]) -> Any:
    assert error.value.details is not None
    return error.value.details.get("field")


def test_helpers_find_levels_by_key_and_rank() -> None:
    tier = _tier(levels=[{"key": "gold", "rank": 2}, {"key": "silver", "rank": 1}])
    assert [lv.key for lv in tier.levels] == ["silver", "gold"]
    assert tier.level("gold") is not None and tier.level("gold") == tier.by_rank(2)
    assert tier.level("bronze") is None and tier.by_rank(3) is None
    assert tier.lifecycle is None and tier.status is TierStatus.ACTIVE


def test_lifecycle_defaults_and_document_round_trip() -> None:
    body = {
        "retention": {"mode": "ACTIVITY_REFRESH", "duration": "1h30m"},
        "qualification_period": {"type": "FIXED_YEAR", "start_month": 3, "start_day": 31},
        "downgrade_policy": {"min_level": "silver"},
        "counters": {"rollover": "EXCESS", "qualifying": ["a", "b", "a"]},
    }
    lifecycle = tiers.parse_lifecycle(body)
    assert lifecycle is not None
    assert lifecycle.downgrade_mode is DowngradeMode.DROP_TO_QUALIFYING and lifecycle.grace_days == 0
    assert lifecycle.extend_months == 0 and lifecycle.retention_duration == timedelta(minutes=90)
    assert lifecycle.qualifying_counters == ("a", "b")
    document = tiers.lifecycle_document(lifecycle)
    assert document["retention"] == {"mode": "ACTIVITY_REFRESH", "duration": "1h30m"}
    assert tiers.parse_lifecycle(document) == lifecycle
    assert tiers.parse_lifecycle({}) is None and tiers.parse_lifecycle(None) is None


@pytest.mark.parametrize(("month", "day", "valid"), [(2, 28, True), (2, 29, False), (4, 30, True), (4, 31, False)])
def test_fixed_year_start_must_exist_every_year(month: int, day: int, valid: bool) -> None:
    body = {"qualification_period": {"type": "FIXED_YEAR", "start_month": month, "start_day": day}}
    if valid:
        assert tiers.parse_lifecycle(body) is not None
    else:
        with pytest.raises(ValidationFailed) as error:
            tiers.parse_lifecycle(body)
        assert _field(error) == "lifecycle.qualification_period.start_day"


def test_qualification_thresholds_are_exact() -> None:
    qualification = tiers.parse_qualification(
        {"mode": "ANY", "criteria": [{"counter": "spend", "operator": "<", "threshold": 0.1}]}, field="q"
    )
    assert qualification is not None
    (criterion,) = qualification.criteria
    assert criterion.threshold == Decimal("0.1") and criterion.operator is QualificationOperator.LT
    assert tiers.qualification_document(qualification)["criteria"][0]["threshold"] == 0.1
    assert tiers.parse_qualification({}, field="q") is None


def test_min_level_must_be_a_level() -> None:
    with pytest.raises(ValidationFailed) as error:
        _tier(lifecycle={"downgrade_policy": {"min_level": "bronze"}})
    assert _field(error) == "lifecycle.downgrade_policy.min_level"


def test_duplicates_in_a_request_are_400() -> None:
    with pytest.raises(ValidationFailed):
        _tier(levels=[{"key": "a", "rank": 1}, {"key": "a", "rank": 2}])
    with pytest.raises(ValidationFailed):
        _tier(levels=[{"key": "a", "rank": 1}, {"key": "b", "rank": 1}])


def test_update_unchanged_returns_the_same_tier() -> None:
    tier = _tier()
    assert tiers.apply_update(tier, {}, LATER, _new_id) is tier
    assert tiers.apply_update(tier, {"levels": [{"key": "gold", "rank": 2}]}, LATER, _new_id) is tier
    assert tiers.apply_update(tier, {"lifecycle": None, "key": "status"}, LATER, _new_id) is tier


def test_update_upserts_and_stamps_only_changed_levels() -> None:
    tier = _tier()
    updated = tiers.apply_update(
        tier, {"levels": [{"key": "gold", "display_name": "Gold"}, {"key": "platinum", "rank": 3}]}, LATER, _new_id
    )
    silver, gold, platinum = updated.levels
    assert silver == tier.levels[0]
    assert gold.display_name == "Gold" and gold.updated_at == LATER and gold.created_at == NOW
    assert platinum.created_at == LATER and updated.updated_at == LATER


def test_update_rank_conflict_is_409_and_swap_is_fine() -> None:
    tier = _tier()
    with pytest.raises(Conflict):
        tiers.apply_update(tier, {"levels": [{"key": "gold", "rank": 1}]}, LATER, _new_id)
    swapped = tiers.apply_update(
        tier, {"levels": [{"key": "gold", "rank": 1}, {"key": "silver", "rank": 2}]}, LATER, _new_id
    )
    assert [lv.key for lv in swapped.levels] == ["gold", "silver"]


def test_update_lifecycle_empty_clears_and_min_level_is_rechecked() -> None:
    tier = _tier(lifecycle={"downgrade_policy": {"mode": "HOLD", "min_level": "silver"}})
    assert tiers.apply_update(tier, {"lifecycle": {}}, LATER, _new_id).lifecycle is None
    with pytest.raises(ValidationFailed):
        tiers.apply_update(tier, {"lifecycle": {"downgrade_policy": {"min_level": "bronze"}}}, LATER, _new_id)


def test_archive_is_one_way_and_freezes_the_tier() -> None:
    archived = tiers.archive(_tier(), LATER)
    assert archived.status is TierStatus.ARCHIVED and archived.archived_at == LATER
    with pytest.raises(TierArchived):
        tiers.archive(archived, LATER)
    with pytest.raises(TierArchived):
        tiers.apply_update(archived, {"display_name": "x"}, LATER, _new_id)


@pytest.mark.parametrize(
    ("duration", "text"),
    [(timedelta(hours=2160), "2160h"), (timedelta(minutes=90), "1h30m"), (timedelta(seconds=5), "5s")],
)
def test_format_duration(duration: timedelta, text: str) -> None:
    assert tiers.format_duration(duration) == text
