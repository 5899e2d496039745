"""System-account totals (decision 8) and the report aggregates (05 §4), kept by the table's stream consumer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scrip.domain.ledger import EntityType, JournalEntry
from scrip.services import ledger_aggregates
from scrip.storage import keys, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import totals as total_store
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


@dataclass
class _Chunk:
    """Consecutive entries applied in one transaction: their claims, the system totals and the
    report aggregates they add (``ledger_aggregates``)."""

    first_image: int
    entries: list[JournalEntry] = field(default_factory=list)
    totals: dict[TotalKey, Decimal] = field(default_factory=dict)
    report: ledger_aggregates.Contribution = field(default_factory=ledger_aggregates.Contribution)

    def size_with(
        self, entry: JournalEntry, deltas: dict[TotalKey, Decimal], report: ledger_aggregates.Contribution
    ) -> int:
        """How many items the transaction would hold with ``entry`` added."""
        return len(self.entries) + 1 + len(self.totals.keys() | deltas.keys()) + self.report.size_with(report)

    def add(self, entry: JournalEntry, deltas: dict[TotalKey, Decimal], report: ledger_aggregates.Contribution) -> None:
        self.entries.append(entry)
        for key, amount in deltas.items():
            self.totals[key] = self.totals.get(key, Decimal(0)) + amount
        self.report.add(report)


def apply_committed_entries(images: Sequence[dict[str, Any]]) -> int:
    """Add committed journal entries to the system totals and the report aggregates; how many
    were added now.

    ``images`` are entry items as the stream delivers them (plain Python values), in stream
    order. Every entry is claimed (a marker), even one without a system posting: the report
    aggregates count every entry, and a minute is complete when they hold all of its entries.
    Consecutive entries share one transaction (a marker each, one update per total shard and
    per aggregate row), up to DynamoDB's 100 items. A transaction refused because an entry was
    applied before (a redelivered batch) is redone one entry at a time, skipping those. Raises
    ``TotalsFailed`` naming the first image not applied when a transaction fails otherwise.
    """
    chunks: list[_Chunk] = []
    seen: set[tuple[str, str]] = set()
    for index, image in enumerate(images):
        entry = ledger_store.entry_from_item(image)
        if (entry.organization_id, entry.id) in seen:
            continue  # twice in one batch (one transaction cannot put a key twice)
        seen.add((entry.organization_id, entry.id))
        deltas, report = _deltas(entry), ledger_aggregates.contribution(entry)
        # One organization per transaction: its report rows are written to that organization's
        # partitions, on the shard of its first entry.
        same_org = chunks and chunks[-1].entries[0].organization_id == entry.organization_id
        if not (same_org and chunks[-1].size_with(entry, deltas, report) <= transactions.MAX_ITEMS):
            chunks.append(_Chunk(index))
        chunks[-1].add(entry, deltas, report)
    applied = 0
    for chunk in chunks:
        try:
            applied += _apply(chunk)
        except Exception as error:
            raise TotalsFailed(chunk.first_image) from error
    return applied


def _claims(entries: list[JournalEntry]) -> list[tuple[str, str]]:
    return [(entry.organization_id, entry.id) for entry in entries]


def _writes(
    entries: list[JournalEntry], summed: dict[TotalKey, Decimal], report: ledger_aggregates.Contribution
) -> list[transactions.Write]:
    shard = keys.shard_of(entries[0].id, keys.REPORT_SHARDS)
    report_writes = ledger_aggregates.writes(entries[0].organization_id, shard, report)
    return [*total_store.apply_writes(_claims(entries), summed), *report_writes]


def _apply(chunk: _Chunk) -> int:
    # The rows' latest entry first: a maximum, idempotent, outside the transaction (a condition
    # in it would cancel it). Before it, so that a minute whose count is complete has its
    # maximum too; once for the chunk, whichever of its entries the transaction then adds.
    first = chunk.entries[0]
    ledger_aggregates.raise_last_entry_at(
        first.organization_id, keys.shard_of(first.id, keys.REPORT_SHARDS), chunk.report
    )
    try:
        transactions.write(_writes(chunk.entries, chunk.totals, chunk.report))
        return len(chunk.entries)
    except total_store.AlreadyApplied:
        if len(chunk.entries) == 1:
            return 0
    # Some entry of the chunk was applied before (a redelivery): each on its own, those refused.
    applied = 0
    for entry in chunk.entries:
        try:
            transactions.write(_writes([entry], _deltas(entry), ledger_aggregates.contribution(entry)))
            applied += 1
        except total_store.AlreadyApplied:
            pass
    return applied


def system_total(organization_id: str, account: str, asset_id: str, program_id: str | None = None) -> Decimal:
    return total_store.read(organization_id, account, asset_id, program_id)
