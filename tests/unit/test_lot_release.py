"""Releasing HELD lots into an overdrawn AVAILABLE balance (04 §8.5): the overdraft is repaid
first, and only the rest of the released value is backed by AVAILABLE lots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from scrip.domain.ledger import Bucket
from scrip.domain.lots import Lot, LotStatus, new_lot, release

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _held(amount: str, age_days: int) -> Lot:
    return new_lot(
        asset_id="a",
        amount=Decimal(amount),
        now=NOW - timedelta(days=age_days),
        bucket=Bucket.HELD,
        expires_at=None,
        matures_at=None,
        reference_id="order-1",
        program_id="p",
    )


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
