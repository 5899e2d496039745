"""Lots of LOT-mode assets (04 §8), computed without storage: creation, FIFO eligibility,
consumption, the splits of holds and releases, releases into an overdraft, expiry and maturity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from scrip.domain.ledger import Bucket
from scrip.domain.lots import (
    Lot,
    LotFilters,
    LotOrigin,
    LotStatus,
    close,
    consume,
    eligible,
    mature,
    move,
    new_lot,
    release,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _lot(amount: str, age_days: int = 0, **changes: object) -> Lot:
    lot = new_lot(
        asset_id="asset",
        amount=Decimal(amount),
        now=NOW - timedelta(days=age_days),
        bucket=Bucket.AVAILABLE,
        expires_at=None,
        matures_at=None,
        reference_id=None,
        program_id="program",
    )
    return replace(lot, **changes)  # type: ignore[arg-type]


def test_a_credit_makes_an_available_a_deferred_or_a_held_lot() -> None:
    common = {"asset_id": "a", "amount": Decimal(5), "now": NOW, "reference_id": None, "program_id": "p"}
    plain = new_lot(bucket=Bucket.AVAILABLE, expires_at=None, matures_at=None, **common)  # type: ignore[arg-type]
    later = new_lot(bucket=Bucket.AVAILABLE, expires_at=None, matures_at=NOW + timedelta(days=1), **common)  # type: ignore[arg-type]
    matured = new_lot(bucket=Bucket.AVAILABLE, expires_at=None, matures_at=NOW, **common)  # type: ignore[arg-type]
    held = new_lot(bucket=Bucket.HELD, expires_at=None, matures_at=None, **common)  # type: ignore[arg-type]

    assert (plain.status, plain.origin, plain.remaining) == (LotStatus.AVAILABLE, LotOrigin.CREDIT, Decimal(5))
    assert (later.status, later.origin) == (LotStatus.DEFERRED, LotOrigin.CREDIT)
    assert matured.status is LotStatus.AVAILABLE
    assert (held.status, held.origin) == (LotStatus.HELD, LotOrigin.CREDIT_HELD)


def test_a_lot_is_expired_from_its_expiry_on() -> None:
    lot = _lot("1", expires_at=NOW)

    assert lot.expired(NOW) and not lot.expired(NOW - timedelta(microseconds=1))
    assert not _lot("1").expired(NOW + timedelta(days=9999))


def test_eligible_lots_are_live_unexpired_matching_and_oldest_first() -> None:
    young, old, older = _lot("1", 1), _lot("2", 5), _lot("3", 9)
    spent = _lot("4", 7, remaining=Decimal(0), status=LotStatus.CONSUMED)
    gone = _lot("5", 8, expires_at=NOW)
    held = _lot("6", 6, status=LotStatus.HELD)

    found = eligible([young, spent, old, gone, held, older], LotStatus.AVAILABLE, LotFilters(), NOW)

    assert found == [older, old, young]


def test_filters_select_by_id_creation_window_and_reference() -> None:
    first, second = _lot("1", 3, reference_id="order-1"), _lot("1", 1)
    lots = [first, second]

    assert eligible(lots, LotStatus.AVAILABLE, LotFilters(lot_ids=frozenset({second.id})), NOW) == [second]
    window = LotFilters(earned_from=NOW - timedelta(days=2), earned_to=NOW)
    assert eligible(lots, LotStatus.AVAILABLE, window, NOW) == [second]
    assert eligible(lots, LotStatus.AVAILABLE, LotFilters(reference_id="order-1"), NOW) == [first]


def test_consume_drains_oldest_first_and_stops_at_the_need() -> None:
    a, b, c = _lot("4", 3), _lot("5", 2), _lot("6", 1)

    changes = consume([a, b, c], Decimal(7))

    assert [(lot.id, lot.remaining, lot.status) for lot in changes.changed] == [
        (a.id, Decimal(0), LotStatus.CONSUMED),
        (b.id, Decimal(2), LotStatus.AVAILABLE),
    ]
    assert changes.processed == [(a.id, Decimal(4)), (b.id, Decimal(3))]
    assert changes.moved == 7 and changes.new == []
    assert consume([a, b], None).moved == 9


def test_a_partial_hold_splits_the_last_lot_and_a_whole_one_keeps_its_id() -> None:
    a, b = _lot("4", 3), _lot("5", 2, expires_at=NOW + timedelta(days=3))

    changes = move([a, b], Decimal(6), LotStatus.HELD, "order-9")

    whole, rest = changes.changed
    (split,) = changes.new
    assert (whole.id, whole.status, whole.reference_id) == (a.id, LotStatus.HELD, "order-9")
    assert (rest.id, rest.remaining, rest.status) == (b.id, Decimal(3), LotStatus.AVAILABLE)
    assert split.id not in (a.id, b.id)
    assert (split.amount, split.remaining, split.status, split.origin) == (
        Decimal(2),
        Decimal(2),
        LotStatus.HELD,
        LotOrigin.HOLD_SPLIT,
    )
    assert (split.created_at, split.expires_at, split.reference_id) == (b.created_at, b.expires_at, "order-9")
    assert changes.processed == [(a.id, Decimal(4)), (b.id, Decimal(2))] and changes.moved == 6


def test_a_release_clears_the_reference_and_marks_its_split() -> None:
    held = _lot("5", 1, status=LotStatus.HELD, reference_id="order-1")

    whole = move([held], None, LotStatus.AVAILABLE, "ignored")
    part = move([held], Decimal(2), LotStatus.AVAILABLE, "ignored")

    assert (whole.changed[0].status, whole.changed[0].reference_id) == (LotStatus.AVAILABLE, None)
    (split,) = part.new
    assert (split.origin, split.reference_id, split.remaining) == (LotOrigin.RELEASE_SPLIT, None, Decimal(2))
    assert (part.changed[0].remaining, part.changed[0].reference_id) == (Decimal(3), "order-1")


def test_expiry_closes_every_lot_and_maturity_makes_them_available() -> None:
    a, b = _lot("4", 2, remaining=Decimal(1)), _lot("5", 1, status=LotStatus.DEFERRED)

    expired = close([a, b], LotStatus.EXPIRED)
    matured = mature([b])

    assert [(lot.remaining, lot.status) for lot in expired.changed] == [(0, LotStatus.EXPIRED)] * 2
    assert expired.processed == [(a.id, Decimal(1)), (b.id, Decimal(5))] and expired.moved == 6
    assert [(lot.remaining, lot.status) for lot in matured.changed] == [(Decimal(5), LotStatus.AVAILABLE)]
    assert matured.moved == 5


def _held(amount: str, age_days: int) -> Lot:
    """A provisional credit's HELD lot, as a release finds it."""
    return _lot(amount, age_days, status=LotStatus.HELD, origin=LotOrigin.CREDIT_HELD, reference_id="order-1")


# Releasing HELD lots into an overdrawn AVAILABLE balance (04 §8.5): the overdraft is repaid
# first, and only the rest of the released value is backed by AVAILABLE lots.


def test_no_overdraft_moves_everything_to_available() -> None:
    lot = _held("8", 1)
    changes = release([lot], None, overdraft=Decimal(0))
    assert changes.moved == Decimal(8)
    assert [(c.status, c.remaining) for c in changes.changed] == [(LotStatus.AVAILABLE, Decimal(8))]
    assert changes.new == []


def test_an_overdraft_larger_than_the_release_consumes_all_of_it() -> None:
    lot = _held("8", 1)
    changes = release([lot], None, overdraft=Decimal(10))
    assert changes.moved == Decimal(8)
    assert [(c.status, c.remaining) for c in changes.changed] == [(LotStatus.CONSUMED, Decimal(0))]
    assert changes.new == [] and changes.processed == [(lot.id, Decimal(8))]


def test_the_excess_over_the_overdraft_becomes_available_lots_oldest_first() -> None:
    older, newer = _held("5", 2), _held("5", 1)
    changes = release([older, newer], Decimal(8), overdraft=Decimal(3))
    assert changes.moved == Decimal(8)
    by_id = {lot.id: lot for lot in changes.changed}
    # 3 of the older lot repay the overdraft, its other 2 move whole; 3 of the newer one split off
    assert by_id[older.id].status is LotStatus.AVAILABLE and by_id[older.id].remaining == Decimal(2)
    assert by_id[newer.id].status is LotStatus.HELD and by_id[newer.id].remaining == Decimal(2)
    assert [(n.status, n.remaining) for n in changes.new] == [(LotStatus.AVAILABLE, Decimal(3))]
    assert dict(changes.processed) == {older.id: Decimal(5), newer.id: Decimal(3)}
    backed = sum(
        (lot.remaining for lot in [*changes.changed, *changes.new] if lot.status is LotStatus.AVAILABLE), Decimal(0)
    )
    assert backed == changes.moved - Decimal(3)
