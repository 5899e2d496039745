"""The pure parts of redemption reversals (05 §2.9): the size a reversal may take, the
redemption after it, and which consumed lots get value back (LIFO) and how."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from scrip.domain.errors import ApiError, UnprocessableError, ValidationFailed
from scrip.domain.lots import Lot, LotOrigin, LotStatus
from scrip.domain.programs import RedemptionTargetType
from scrip.domain.redemptions import (
    ConsumedLot,
    Redemption,
    RedemptionKind,
    RedemptionStatus,
    RedemptionTarget,
)
from scrip.domain.reversals import ReversalSize, given_back, restoration, reversed_redemption, size

NOW = datetime(2026, 3, 5, 9, 12, tzinfo=UTC)


def redemption(kind: RedemptionKind = RedemptionKind.RAW, **changes: object) -> Redemption:
    unit = kind is RedemptionKind.UNIT_BASED
    base = Redemption(
        organization_id="org",
        id="r1",
        participant_id="p1",
        program_id="prog",
        asset_id="a1",
        scale=0,
        kind=kind,
        amount=Decimal(5000),
        description="Redeemed",
        journal_entry_id="j1",
        target=RedemptionTarget(RedemptionTargetType.SYSTEM_REDEMPTION),
        consumed_lots=(),
        reward_id="rw" if kind is not RedemptionKind.RAW else None,
        quantity=2 if unit else None,
        unit_cost=Decimal(2500) if kind is not RedemptionKind.RAW else None,
        reversed_amount=Decimal(0),
        reversed_quantity=0 if unit else None,
        status=RedemptionStatus.COMPLETED,
        idempotency_key=None,
        request_fingerprint=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def code(error: ApiError) -> tuple[int, str]:
    return error.status, error.code


def test_no_field_reverses_whatever_remains() -> None:
    assert size(redemption(reversed_amount=Decimal(1200)), amount=None, quantity=None) == ReversalSize(
        Decimal(3800), None
    )
    unit = redemption(RedemptionKind.UNIT_BASED, reversed_amount=Decimal(2500), reversed_quantity=1)
    assert size(unit, amount=None, quantity=None) == ReversalSize(Decimal(2500), 1)


def test_units_return_the_stored_unit_cost() -> None:
    assert size(redemption(RedemptionKind.UNIT_BASED), amount=None, quantity=1) == ReversalSize(Decimal(2500), 1)


@pytest.mark.parametrize(
    ("kind", "amount", "quantity"),
    [
        (RedemptionKind.UNIT_BASED, Decimal(1), None),
        (RedemptionKind.RAW, None, 1),
        (RedemptionKind.AMOUNT_BASED, None, 1),
        (RedemptionKind.RAW, Decimal(1), 1),
        (RedemptionKind.RAW, Decimal(0), None),
        (RedemptionKind.UNIT_BASED, None, 0),
    ],
)
def test_the_wrong_field_both_or_a_non_positive_value_is_400(
    kind: RedemptionKind, amount: Decimal | None, quantity: int | None
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        size(redemption(kind), amount=amount, quantity=quantity)
    assert code(raised.value) == (400, "validation_error")


def test_too_many_decimals_is_400_invalid_scale() -> None:
    with pytest.raises(ApiError) as raised:
        size(redemption(), amount=Decimal("1.5"), quantity=None)
    assert code(raised.value) == (400, "invalid_scale")


def test_the_cumulative_bounds_are_422() -> None:
    with pytest.raises(UnprocessableError) as raised:
        size(redemption(reversed_amount=Decimal(4000)), amount=Decimal(1001), quantity=None)
    assert code(raised.value) == (422, "reversal_exceeds_remaining")
    assert raised.value.details == {"remaining_amount": "1000", "status": "COMPLETED"}
    assert size(redemption(reversed_amount=Decimal(4000)), amount=Decimal(1000), quantity=None).amount == 1000
    unit = redemption(RedemptionKind.UNIT_BASED, reversed_amount=Decimal(2500), reversed_quantity=1)
    with pytest.raises(UnprocessableError) as raised:
        size(unit, amount=None, quantity=2)
    assert raised.value.code == "reversal_exceeds_remaining" and raised.value.details["remaining_quantity"] == 1


def test_a_fully_reversed_redemption_is_422() -> None:
    done = redemption(reversed_amount=Decimal(5000), status=RedemptionStatus.FULLY_REVERSED)
    with pytest.raises(UnprocessableError) as raised:
        size(done, amount=None, quantity=None)
    assert code(raised.value) == (422, "reversal_exceeds_remaining")


def test_the_redemption_after_a_reversal() -> None:
    later = NOW + timedelta(days=1)
    unit = redemption(RedemptionKind.UNIT_BASED)
    partly = reversed_redemption(unit, ReversalSize(Decimal(2500), 1), later)
    assert (partly.reversed_amount, partly.reversed_quantity, partly.status) == (
        Decimal(2500),
        1,
        RedemptionStatus.PARTIALLY_REVERSED,
    )
    assert partly.updated_at == later and partly.version == unit.version + 1
    whole = reversed_redemption(partly, ReversalSize(Decimal(2500), 1), later)
    assert (whole.reversed_quantity, whole.status) == (2, RedemptionStatus.FULLY_REVERSED)


CONSUMED = (
    ConsumedLot("oldest", NOW, Decimal(10)),
    ConsumedLot("middle", NOW, Decimal(20)),
    ConsumedLot("newest", NOW, Decimal(15)),
)


def parts(found: list[ConsumedLot]) -> list[tuple[str, Decimal]]:
    return [(lot.lot_id, lot.amount) for lot in found]


def test_restoration_is_lifo_and_continues_below_earlier_reversals() -> None:
    assert parts(restoration(CONSUMED, Decimal(0), Decimal(20))) == [("newest", 15), ("middle", 5)]
    assert parts(restoration(CONSUMED, Decimal(20), Decimal(20))) == [("middle", 15), ("oldest", 5)]
    assert parts(restoration(CONSUMED, Decimal(40), Decimal(5))) == [("oldest", 5)]
    assert parts(restoration(CONSUMED, Decimal(0), Decimal(45))) == [("newest", 15), ("middle", 20), ("oldest", 10)]
    assert restoration((), Decimal(0), Decimal(5)) == []  # a SIMPLE asset consumed no lot


def lot(status: LotStatus, remaining: str, amount: str = "20") -> Lot:
    return Lot(
        "lot1",
        "a1",
        Decimal(amount),
        Decimal(remaining),
        status,
        NOW,
        NOW + timedelta(days=30),
        None,
        "ref" if status is LotStatus.HELD else None,
        LotOrigin.CREDIT,
        "prog",
    )


def test_a_lot_gets_back_what_was_taken_with_its_creation_and_expiry() -> None:
    back = given_back(lot(LotStatus.AVAILABLE, "5"), Decimal(15))
    assert (back.id, back.remaining, back.status, back.created_at) == ("lot1", 20, LotStatus.AVAILABLE, NOW)
    for emptied in (LotStatus.CONSUMED, LotStatus.EXPIRED):
        back = given_back(lot(emptied, "0"), Decimal(7))
        assert (back.id, back.remaining, back.status) == ("lot1", 7, LotStatus.AVAILABLE)
        assert back.expires_at == NOW + timedelta(days=30)


def test_a_lot_held_since_keeps_its_hold_and_the_value_comes_back_in_a_split() -> None:
    held = lot(LotStatus.HELD, "5")
    back = given_back(held, Decimal(15))
    assert back.id != held.id and (back.amount, back.remaining, back.status) == (15, 15, LotStatus.AVAILABLE)
    assert back.reference_id is None and back.created_at == held.created_at and back.expires_at == held.expires_at
