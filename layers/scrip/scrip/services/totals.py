"""System-account totals (decision 8), kept by the table's stream consumer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from scrip.domain.ledger import EntityType, JournalEntry
from scrip.storage import ledger as ledger_store
from scrip.storage import totals as total_store
from scrip.storage import transactions
from scrip.storage.totals import TotalKey


class TotalsFailed(Exception):
    """Applying stopped at ``images[first_unapplied]``; the entries before it are applied."""

    def __init__(self, first_unapplied: int) -> None:
        super().__init__(f"totals not applied from image {first_unapplied} on")
        self.first_unapplied = first_unapplied


def is_entry_image(image: dict[str, Any]) -> bool:
    """Whether a stream image is a journal entry's own item (not its list line or history line)."""
    return ledger_store.is_entry_item(image)


def _deltas(entry: JournalEntry) -> dict[TotalKey, Decimal]:
    """An entry's system postings, per asset, overall and per program they are attributed to."""
    deltas: dict[TotalKey, Decimal] = defaultdict(Decimal)
    for posting in entry.postings:
        if posting.account.entity_type is not EntityType.SYSTEM:
            continue
        account = posting.account.owner_id
        deltas[(entry.organization_id, account, posting.asset_id, None)] += posting.amount
        if posting.program_id:
            deltas[(entry.organization_id, account, posting.asset_id, posting.program_id)] += posting.amount
    return dict(deltas)


def apply_committed_entries(images: Sequence[dict[str, Any]]) -> int:
    """Add committed journal entries' system postings to the totals; how many were added now.

    ``images`` are entry items as the stream delivers them (plain Python values), in stream
    order. Consecutive entries share one transaction (a marker each, one update per total
    shard), up to DynamoDB's 100 items. A transaction refused because an entry was applied
    before (a redelivered batch) is redone one entry at a time, skipping those. Raises
    ``TotalsFailed`` naming the first image not applied when a transaction fails otherwise.
    """
    chunks: list[tuple[int, list[JournalEntry], dict[TotalKey, Decimal]]] = []
    seen: set[tuple[str, str]] = set()
    for index, image in enumerate(images):
        entry = ledger_store.entry_from_item(image)
        deltas = _deltas(entry)
        if not deltas or (entry.organization_id, entry.id) in seen:
            continue  # nothing to add, or twice in one batch (one transaction cannot put a key twice)
        seen.add((entry.organization_id, entry.id))
        if chunks:
            _, entries, summed = chunks[-1]
            if len(entries) + 1 + len(summed.keys() | deltas.keys()) <= transactions.MAX_ITEMS:
                entries.append(entry)
                for key, amount in deltas.items():
                    summed[key] = summed.get(key, Decimal(0)) + amount
                continue
        chunks.append((index, [entry], dict(deltas)))
    applied = 0
    for first, entries, summed in chunks:
        try:
            applied += _apply(entries, summed)
        except Exception as error:
            raise TotalsFailed(first) from error
    return applied


def _claims(entries: list[JournalEntry]) -> list[tuple[str, str]]:
    return [(entry.organization_id, entry.id) for entry in entries]


def _apply(entries: list[JournalEntry], summed: dict[TotalKey, Decimal]) -> int:
    try:
        transactions.write(total_store.apply_writes(_claims(entries), summed))
        return len(entries)
    except total_store.AlreadyApplied:
        if len(entries) == 1:
            return 0
    # Some entry of the chunk was applied before (a redelivery): each on its own, those refused.
    applied = 0
    for entry in entries:
        try:
            transactions.write(total_store.apply_writes(_claims([entry]), _deltas(entry)))
            applied += 1
        except total_store.AlreadyApplied:
            pass
    return applied


def system_total(organization_id: str, account: str, asset_id: str, program_id: str | None = None) -> Decimal:
    return total_store.read(organization_id, account, asset_id, program_id)
