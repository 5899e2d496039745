"""The expiration schedule's index (``storage.expiring_lots``), applied from the table's stream.

The ledger totals consumer hands every change of a lot item here. A lot's outstanding value is
its ``remaining`` while it is AVAILABLE, HELD or DEFERRED, else 0; a change moves its expiry
day's row and expiry month's row (never-expiring lots: the month row ``NEVER`` only) by new
outstanding − old outstanding (and ``lot_count`` when it starts or stops having some), in one
transaction once per stream record (the record's claim), and puts or deletes the lot's line
when it has an expiry. A change that moves nothing (a lot rewritten as it was, AVAILABLE to
HELD with the same remainder) writes nothing.

Lot items are never deleted today; a removal would count as the lot ceasing to be outstanding.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from scrip.domain.lots import LotStatus
from scrip.storage import expiring_lots as store
from scrip.storage import items

# (old image, new image) of one stream record; either is None for an insert or a removal.
Change = tuple[dict[str, Any] | None, dict[str, Any] | None]

_OUTSTANDING = frozenset({LotStatus.AVAILABLE.value, LotStatus.HELD.value, LotStatus.DEFERRED.value})


@dataclass(frozen=True)
class LotChange:
    """A lot item's stream record: its ``eventID`` (the claim) and images."""

    event_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class ExpiringLotsFailed(Exception):
    """Applying stopped at ``changes[first_unapplied]``; the changes before it are applied."""

    def __init__(self, first_unapplied: int) -> None:
        super().__init__(f"expiring lots not applied from change {first_unapplied} on")
        self.first_unapplied = first_unapplied


def is_lot_change(change: Change) -> bool:
    """Whether a stream record is a lot item's (the event source's filter passes others)."""
    old, new = change
    image = new or old
    return bool(image) and image.get("entity") == "LOT"  # type: ignore[union-attr]


def _outstanding(image: dict[str, Any] | None) -> Decimal:
    if not image or image.get("status") not in _OUTSTANDING:
        return Decimal(0)
    return Decimal(str(image.get("remaining") or 0))


def _line(image: dict[str, Any] | None) -> store.ExpiringLot | None:
    """The line an image files: an outstanding lot with an expiry."""
    if image is None or _outstanding(image) <= 0:
        return None
    expires_at = items.moment(image.get("expires_at"))
    if expires_at is None:
        return None
    return store.ExpiringLot(
        lot_id=str(image["id"]),
        asset_id=str(image["asset_id"]),
        program_id=image.get("program_id"),
        expires_at=expires_at.astimezone(UTC),
        remaining=_outstanding(image),
    )


def _day(image: dict[str, Any]) -> date | None:
    expires_at = items.moment(image.get("expires_at"))
    return store.expiry_day_of(expires_at) if expires_at is not None else None


def day_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[store.DayChange]:
    """What a lot's change adds to the day rows: the old image's outstanding taken from its row,
    the new one's added to its row (the same row unless the lot's expiry or program changed)."""
    sums: dict[tuple[str, str | None, date | None], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for image, sign in ((old, -1), (new, 1)):
        if image is None:
            continue
        outstanding = _outstanding(image)
        row = sums[(str(image["asset_id"]), image.get("program_id"), _day(image))]
        row[0] += sign * outstanding
        row[1] += sign * int(outstanding > 0)
    return [
        store.DayChange(asset_id=asset, program_id=program, day=day, outstanding=amount, lot_count=count)
        for (asset, program, day), (amount, count) in sums.items()
        if amount != 0 or count != 0
    ]


def month_changes(days: Sequence[store.DayChange]) -> list[store.MonthChange]:
    """The month rows a record's day changes move, each row once: a lot moved to another day of
    the same month leaves its month row as it was (and writes nothing to it)."""
    sums: dict[tuple[str, str | None, date | None], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for change in days:
        row = sums[(change.asset_id, change.program_id, change.day.replace(day=1) if change.day else None)]
        row[0] += change.outstanding
        row[1] += change.lot_count
    return [
        store.MonthChange(asset_id=asset, program_id=program, month=month, outstanding=amount, lot_count=count)
        for (asset, program, month), (amount, count) in sums.items()
        if amount != 0 or count != 0
    ]


def _apply(change: LotChange) -> None:
    image = change.new or change.old
    assert image is not None
    org_id = store.organization_of(image)
    moved = day_changes(change.old, change.new)
    if moved:
        # A redelivered record finds its claim: its rows were moved; its line is written again below.
        with contextlib.suppress(store.AlreadyApplied):
            store.add_to_rows(org_id, change.event_id, str(image["id"]), moved, month_changes(moved))
    old_line, new_line = _line(change.old), _line(change.new)
    if old_line is not None and (new_line is None or _place(new_line) != _place(old_line)):
        store.delete_line(org_id, old_line.lot_id, old_line.asset_id, old_line.expires_at)
    if new_line is not None and new_line != old_line:
        store.put_line(org_id, new_line)


def _place(line: store.ExpiringLot) -> tuple[str, date]:
    """What a line's key is made of besides the lot id."""
    return line.asset_id, store.expiry_day_of(line.expires_at)


def apply_changes(changes: Sequence[LotChange]) -> None:
    """Apply each change in stream order; ``ExpiringLotsFailed`` names the first one not applied."""
    for index, change in enumerate(changes):
        try:
            _apply(change)
        except Exception as error:
            raise ExpiringLotsFailed(index) from error
