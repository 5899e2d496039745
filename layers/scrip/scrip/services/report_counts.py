"""The reports' counts (``storage.report_counts``), applied from the table's stream.

The ledger totals consumer hands every change it receives here (balance items of participants,
journal entries, events reaching ``COMPLETED``): a balance crossing zero moves its asset's
holder count, a participant's first earning or redeeming entry in a program counts them among
the program's participants, and a completed event counts on its program's day. Each is counted
once per change whatever the redeliveries (the storage's claims).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain.events import EventStatus
from scrip.domain.ledger import ActionType, EntityType
from scrip.storage import items
from scrip.storage import ledger as ledger_store
from scrip.storage import report_counts as count_store

# (old image, new image) of one stream record; either is None for an insert or a removal.
Change = tuple[dict[str, Any] | None, dict[str, Any] | None]


class CountsFailed(Exception):
    """Counting stopped at ``changes[first_uncounted]``; the changes before it are counted."""

    def __init__(self, first_uncounted: int) -> None:
        super().__init__(f"report counts not applied from change {first_uncounted} on")
        self.first_uncounted = first_uncounted


def is_counted(change: Change) -> bool:
    """Whether a change concerns a count (the event source's filter passes a few more)."""
    old, new = change
    image = new or old
    return (
        count_store.is_participant_balance(image)
        or count_store.is_event(new)
        or (old is None and new is not None and ledger_store.is_entry_item(new))
    )


def _holds_value(image: dict[str, Any] | None) -> bool:
    if not image:
        return False
    return any(Decimal(str(image.get(bucket) or 0)) != 0 for bucket in ("available", "held", "deferred"))


def _count_holder(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    delta = int(_holds_value(new)) - int(_holds_value(old))
    if delta == 0:
        return  # no zero crossed: most changes, and they write nothing
    image = new or old
    assert image is not None
    version = int(new["version"]) if new else int(image["version"]) + 1
    count_store.count_holder_change(
        count_store.organization_of(image), str(image["owner_id"]), str(image["asset_id"]), version, delta
    )


def _earners(image: dict[str, Any]) -> set[str]:
    """Participants an entry shows earning (credited by a CREDIT) or redeeming in its program."""
    entry = ledger_store.entry_from_item(image)
    if entry.program_id is None or entry.action_type not in (ActionType.CREDIT, ActionType.REDEMPTION):
        return set()
    wanted_sign = 1 if entry.action_type is ActionType.CREDIT else -1
    return {
        posting.account.owner_id
        for posting in entry.postings
        if posting.account.entity_type is EntityType.PARTICIPANT and posting.amount * wanted_sign > 0
    }


def _count_earners(image: dict[str, Any]) -> None:
    org_id, program_id = str(image["organization_id"]), str(image.get("program_id"))
    for participant_id in sorted(_earners(image)):
        if count_store.is_earner(org_id, program_id, participant_id):
            continue
        with contextlib.suppress(count_store.AlreadyCounted):
            count_store.count_earner(org_id, program_id, participant_id)


def _count_event(old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    if new.get("status") != EventStatus.COMPLETED.value or (old and old.get("status") == EventStatus.COMPLETED.value):
        return
    processed_at: datetime | None = items.moment(new.get("processed_at") or new.get("updated_at"))
    assert processed_at is not None
    with contextlib.suppress(count_store.AlreadyCounted):
        count_store.count_event(str(new["organization_id"]), str(new["program_id"]), str(new["id"]), processed_at)


def _apply(change: Change) -> None:
    old, new = change
    if count_store.is_participant_balance(new or old):
        with contextlib.suppress(count_store.AlreadyCounted):
            _count_holder(old, new)
    elif new is not None and count_store.is_event(new):
        _count_event(old, new)
    elif old is None and new is not None and ledger_store.is_entry_item(new):
        _count_earners(new)


def apply_changes(changes: Sequence[Change]) -> None:
    """Count each change in stream order; ``CountsFailed`` names the first one not counted."""
    for index, change in enumerate(changes):
        try:
            _apply(change)
        except Exception as error:
            raise CountsFailed(index) from error


def holders(org_id: str, asset_id: str) -> int:
    return count_store.total(org_id, count_store.HOLDERS, asset_id)


def earners(org_id: str, program_id: str) -> int:
    return count_store.total(org_id, count_store.EARNERS, program_id)


def events_processed(org_id: str, program_id: str, start: datetime | None, end: datetime | None) -> int:
    return count_store.events_processed(org_id, program_id, start, end)
