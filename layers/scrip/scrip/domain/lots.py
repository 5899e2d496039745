"""Lots of LOT-mode assets (04 §8): creation, FIFO consumption, splitting, expiry, maturity.

A lot is one credit with its own remainder, expiry and maturity. Lots back the owner's
buckets: the remainders of AVAILABLE lots add up to the AVAILABLE balance (or to 0 while it is
overdrawn), HELD lots to HELD, DEFERRED lots to DEFERRED. These functions only compute new lot
states; the ledger service commits them with the balance change they back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from scrip.domain import ids
from scrip.domain.ledger import Bucket


class LotStatus(StrEnum):
    DEFERRED = "DEFERRED"
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    CONSUMED = "CONSUMED"
    EXPIRED = "EXPIRED"


class LotOrigin(StrEnum):
    CREDIT = "CREDIT"
    CREDIT_HELD = "CREDIT_HELD"  # a provisional credit: void hold returns it to the source
    HOLD_SPLIT = "HOLD_SPLIT"
    RELEASE_SPLIT = "RELEASE_SPLIT"


BUCKET_STATUS = {
    Bucket.AVAILABLE: LotStatus.AVAILABLE,
    Bucket.HELD: LotStatus.HELD,
    Bucket.DEFERRED: LotStatus.DEFERRED,
}


@dataclass(frozen=True)
class Lot:
    id: str
    asset_id: str
    amount: Decimal
    remaining: Decimal
    status: LotStatus
    created_at: datetime
    expires_at: datetime | None
    matures_at: datetime | None
    reference_id: str | None
    origin: LotOrigin
    program_id: str | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def fifo_key(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)


@dataclass(frozen=True)
class LotFilters:
    """Which lots an operation may touch (04 §5.2); all given filters must match."""

    lot_ids: frozenset[str] | None = None
    earned_from: datetime | None = None
    earned_to: datetime | None = None
    reference_id: str | None = None

    def match(self, lot: Lot) -> bool:
        if self.lot_ids is not None and lot.id not in self.lot_ids:
            return False
        if self.earned_from is not None and lot.created_at < self.earned_from:
            return False
        if self.earned_to is not None and lot.created_at > self.earned_to:
            return False
        return self.reference_id is None or lot.reference_id == self.reference_id


@dataclass(frozen=True)
class LotChanges:
    """The lots an operation rewrites (changed) or creates (new), and what it took from each."""

    changed: list[Lot]
    new: list[Lot]
    processed: list[tuple[str, Decimal]]  # (source lot id, amount), as lots_processed reports
    moved: Decimal


def new_lot(
    *,
    asset_id: str,
    amount: Decimal,
    now: datetime,
    bucket: Bucket,
    expires_at: datetime | None,
    matures_at: datetime | None,
    reference_id: str | None,
    program_id: str | None,
) -> Lot:
    """A credit's lot: DEFERRED when it matures later, HELD when credited to HELD (04 §8.3)."""
    if matures_at is not None and matures_at > now:
        status, origin = LotStatus.DEFERRED, LotOrigin.CREDIT
    elif bucket is Bucket.HELD:
        status, origin = LotStatus.HELD, LotOrigin.CREDIT_HELD
    else:
        status, origin = LotStatus.AVAILABLE, LotOrigin.CREDIT
    return Lot(
        ids.new_id(), asset_id, amount, amount, status, now, expires_at, matures_at, reference_id, origin, program_id
    )


def eligible(lots: list[Lot], status: LotStatus, filters: LotFilters, now: datetime) -> list[Lot]:
    """Lots of ``status`` with something left, not past expiry, matching the filters, FIFO."""
    return sorted(
        (
            lot
            for lot in lots
            if lot.status is status and lot.remaining > 0 and not lot.expired(now) and filters.match(lot)
        ),
        key=lambda lot: lot.fifo_key,
    )


def consume(lots: list[Lot], need: Decimal | None) -> LotChanges:
    """Drain ``lots`` oldest first until ``need`` is met (all of them when ``need`` is None)."""
    changed, processed, moved = [], [], Decimal(0)
    for lot in lots:
        if need is not None and moved == need:
            break
        take = lot.remaining if need is None else min(lot.remaining, need - moved)
        remaining = lot.remaining - take
        changed.append(replace(lot, remaining=remaining, status=LotStatus.CONSUMED if remaining == 0 else lot.status))
        processed.append((lot.id, take))
        moved += take
    return LotChanges(changed, [], processed, moved)


def move(lots: list[Lot], need: Decimal | None, target: LotStatus, reference_id: str | None) -> LotChanges:
    """Move value between AVAILABLE and HELD, splitting the last lot when needed (04 §8.6).

    A lot moved whole keeps its id; a partial take leaves the remainder in the original lot and
    moves the part into a new lot with the same creation, expiry and maturity.
    """
    changed, new, processed, moved = [], [], [], Decimal(0)
    origin = LotOrigin.HOLD_SPLIT if target is LotStatus.HELD else LotOrigin.RELEASE_SPLIT
    stamp = reference_id if target is LotStatus.HELD else None
    for lot in lots:
        if need is not None and moved == need:
            break
        take = lot.remaining if need is None else min(lot.remaining, need - moved)
        if take == lot.remaining:
            changed.append(replace(lot, status=target, reference_id=stamp if target is LotStatus.HELD else None))
        else:
            changed.append(replace(lot, remaining=lot.remaining - take))
            new.append(
                replace(
                    lot, id=ids.new_id(), amount=take, remaining=take, status=target, reference_id=stamp, origin=origin
                )
            )
        processed.append((lot.id, take))
        moved += take
    return LotChanges(changed, new, processed, moved)


def release(lots: list[Lot], need: Decimal | None, overdraft: Decimal) -> LotChanges:
    """Release HELD value to AVAILABLE, repaying an ``overdraft`` of AVAILABLE first (04 §8.5).

    The value that repays the overdraft backs no lot once released (as a credit into an
    overdraft makes a lot of the excess only): that part of the held lots is consumed, oldest
    first, and only the rest moves to AVAILABLE lots.
    """
    total = sum((lot.remaining for lot in lots), Decimal(0)) if need is None else need
    repaid = consume(lots, min(overdraft, total)) if overdraft > 0 else LotChanges([], [], [], Decimal(0))
    after = {lot.id: lot for lot in repaid.changed}
    left = [after.get(lot.id, lot) for lot in lots]
    moved = move([lot for lot in left if lot.remaining > 0], total - repaid.moved, LotStatus.AVAILABLE, None)
    changed = {lot.id: lot for lot in [*repaid.changed, *moved.changed]}
    taken: dict[str, Decimal] = {}
    for lot_id, take in [*repaid.processed, *moved.processed]:
        taken[lot_id] = taken.get(lot_id, Decimal(0)) + take
    return LotChanges(list(changed.values()), moved.new, list(taken.items()), repaid.moved + moved.moved)


def close(lots: list[Lot], status: LotStatus) -> LotChanges:
    """Empty every lot into ``status`` (void hold, settle, expiry)."""
    changed = [replace(lot, remaining=Decimal(0), status=status) for lot in lots]
    return LotChanges(
        changed, [], [(lot.id, lot.remaining) for lot in lots], sum((lot.remaining for lot in lots), Decimal(0))
    )


def mature(lots: list[Lot]) -> LotChanges:
    changed = [replace(lot, status=LotStatus.AVAILABLE) for lot in lots]
    return LotChanges(
        changed, [], [(lot.id, lot.remaining) for lot in lots], sum((lot.remaining for lot in lots), Decimal(0))
    )
