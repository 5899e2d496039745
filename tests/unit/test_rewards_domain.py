"""The reward's rules and status machine (05 §1.1-1.2), without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.errors import InvalidScale, ValidationFailed
from scrip.domain.rewards import (
    RedemptionType,
    Reward,
    RewardStatus,
    RewardView,
    apply_update,
    effective_status,
    new_reward,
    stored_status,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _reward(**fields: Any) -> Reward:
    defaults: dict[str, Any] = {
        "organization_id": "o",
        "program_id": "p",
        "reward_id": "r",
        "scale": 2,
        "now": NOW,
        "name": "Coffee",
        "redemption_type": RedemptionType.UNIT_BASED,
        "asset_id": "a",
        "unit_cost": Decimal("25"),
        "status": RewardStatus.ACTIVE,
    }
    return new_reward(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("stored", "max_total", "count", "shown"),
    [
        (RewardStatus.ACTIVE, None, 10**6, RewardStatus.ACTIVE),  # uncapped never runs out
        (RewardStatus.ACTIVE, 5, 4, RewardStatus.ACTIVE),
        (RewardStatus.ACTIVE, 5, 5, RewardStatus.OUT_OF_STOCK),  # reaching the cap
        (RewardStatus.ACTIVE, 5, 7, RewardStatus.OUT_OF_STOCK),  # cap lowered below the count
        (RewardStatus.DRAFT, 5, 5, RewardStatus.DRAFT),  # automatic moves never touch DRAFT...
        (RewardStatus.ARCHIVED, 5, 9, RewardStatus.ARCHIVED),  # ...or ARCHIVED
    ],
)
def test_effective_status(stored: RewardStatus, max_total: int | None, count: int, shown: RewardStatus) -> None:
    assert effective_status(stored, max_total, count) is shown


def test_out_of_stock_sent_by_a_client_is_stored_as_active() -> None:
    assert stored_status(RewardStatus.OUT_OF_STOCK) is RewardStatus.ACTIVE
    assert _reward(status=RewardStatus.OUT_OF_STOCK).status is RewardStatus.ACTIVE
    assert all(stored_status(s) is s for s in RewardStatus if s is not RewardStatus.OUT_OF_STOCK)


def test_view_moves_back_to_active_when_a_reversal_gives_a_unit_back() -> None:
    reward = _reward(max_total=2)
    assert RewardView(reward, 2).status is RewardStatus.OUT_OF_STOCK
    assert RewardView(reward, 1).status is RewardStatus.ACTIVE


def test_cap_changes_move_the_shown_status() -> None:
    reward = _reward(max_total=10)
    lowered = apply_update(reward, {"max_total": 3}, NOW)
    assert RewardView(lowered, 3).status is RewardStatus.OUT_OF_STOCK
    raised = apply_update(lowered, {"max_total": 4}, NOW)
    assert RewardView(raised, 3).status is RewardStatus.ACTIVE
    cleared = apply_update(lowered, {"max_total": None}, NOW)
    assert RewardView(cleared, 3).status is RewardStatus.ACTIVE


@pytest.mark.parametrize("field", ["max_total", "max_per_participant"])
def test_caps_are_refused_on_amount_based(field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _reward(redemption_type=RedemptionType.AMOUNT_BASED, **{field: 1})
    assert refused.value.details == {
        "reason": "not_allowed",
        "message": refused.value.message,
        "field": field,
        "fields": [field],
    }
    amount_based = _reward(redemption_type=RedemptionType.AMOUNT_BASED)
    with pytest.raises(ValidationFailed):
        apply_update(amount_based, {field: 1}, NOW)


def test_unit_cost_must_be_positive_and_within_scale() -> None:
    with pytest.raises(ValidationFailed):
        _reward(unit_cost=Decimal("0"))
    with pytest.raises(InvalidScale):
        _reward(unit_cost=Decimal("0.001"))
    assert _reward(unit_cost=Decimal("0.010")).unit_cost == Decimal("0.010")  # trailing zeros are cosmetic


def test_window_end_not_before_start() -> None:
    with pytest.raises(ValidationFailed):
        _reward(available_from=NOW, available_until=NOW - timedelta(seconds=1))
    reward = _reward(available_from=NOW, available_until=NOW)
    with pytest.raises(ValidationFailed):
        apply_update(reward, {"available_from": NOW + timedelta(days=1)}, NOW)
    assert apply_update(reward, {"available_until": None}, NOW).available_until is None


@pytest.mark.parametrize("field", ["redemption_type", "asset_id"])
def test_immutable_fields_are_refused_even_unchanged(field: str) -> None:
    reward = _reward()
    with pytest.raises(ValidationFailed) as refused:
        apply_update(reward, {field: getattr(reward, field)}, NOW)
    assert refused.value.details is not None and refused.value.details["reason"] == "immutable"


def test_update_without_change_keeps_updated_at() -> None:
    reward = _reward(category="Gift")
    later = NOW + timedelta(hours=1)
    assert apply_update(reward, {"category": "Gift", "status": "ACTIVE"}, later) is reward
    renamed = apply_update(reward, {"name": "Tea", "metadata": {"k": 1}}, later)
    assert (renamed.name, renamed.metadata, renamed.updated_at) == ("Tea", {"k": 1}, later)
