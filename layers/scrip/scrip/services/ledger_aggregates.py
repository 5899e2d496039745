"""How holders' balances moved, per asset × program, over any period (the reports' data, 05 §4).

``movements`` answers for entries created in [since, until] without reading the whole journal:

* The table's stream consumer (``services.totals``) adds every committed entry to row items per
  UTC month, day, hour and minute, in the transaction that claims the entry (a redelivered
  batch adds nothing), and counts the entries it added per minute.
* A minute is *sealed* when it is at least ``SEAL_DELAY`` old (no entry can still be created
  in it) and the aggregates count as many entries up to it as the journal's list lines hold
  (the aggregates never hold an entry the journal lacks, so equal totals mean every minute is
  complete). The organization's checkpoint remembers the sealed point; the reads that verify
  it move it forward.
* Verifying is bounded per call: steps of the journal (an hour first, doubled after a light
  step, halved after a heavy one, at most ``MAX_STEP``), each saved as soon as it is verified,
  until ``SEAL_BUDGET_SECONDS`` have passed. A first report after months of activity therefore
  answers 503 ``aggregates_behind`` (below; ``Retry-After`` 1 s) within the budget rather than
  be cut at the API's 29 s with nothing saved, and each retry goes on from the saved
  checkpoint. An organization without a checkpoint starts at its creation minute (or its
  first entry, when a moved clock dated one earlier), not at 1970.
* A period is read as whole months, days, hours and minutes of the aggregates up to the sealed
  point, and from the journal itself for the rest: the part of a minute at each end and the
  unsealed tail. A tail longer than ``MAX_TAIL`` means the stream is behind: the report raises
  ``AggregatesBehind`` rather than read hours of journal, or answer stale numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scrip.domain import clock
from scrip.domain.ledger import JournalEntry
from scrip.domain.report_lines import (
    MINUTE,
    AggregatesBehind,
    Level,
    Line,
    Movement,
    RowKey,
    Tally,
    UnclassifiedActivity,
    add_all,
    ceil_to,
    decompose,
    entry_tallies,
    floor_to,
    movements_of,
    period_of,
)
from scrip.storage import ledger as ledger_store
from scrip.storage import organizations as organization_store
from scrip.storage import report_aggregates as aggregate_store
from scrip.storage import transactions
from scrip.storage.report_aggregates import AggregateKey

__all__ = ["AggregatesBehind", "Line", "Movement", "UnclassifiedActivity", "movements"]

# An entry takes its created_at before its transaction commits: a minute is complete only once
# every transaction that could still commit into it has (clock skew between functions, retries).
SEAL_DELAY = timedelta(minutes=5)
# How much unsealed journal a report reads itself before it answers 503 instead.
MAX_TAIL = timedelta(hours=6)
RETRY_AFTER_SECONDS = 60
# When the answer was the budget rather than the stream: the next call verifies further.
VERIFYING_RETRY_AFTER_SECONDS = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Wall time a call spends verifying before it answers from what is sealed (or 503): well
# within the API's 29 s, with room for the step under way and the report's own reads.
SEAL_BUDGET_SECONDS = 8.0
FIRST_STEP = timedelta(hours=1)
# A step's reads grow with its entries, not its length (count items exist only for minutes
# with entries): the cap bounds what one step may find after a run of empty ones.
MAX_STEP = timedelta(days=31)
# Journal entries in a step below which the next is doubled, above which it is halved.
LIGHT_STEP_ENTRIES = 5_000
HEAVY_STEP_ENTRIES = 50_000


# ------------------------------------------------------------------ applying (the stream)


@dataclass
class Contribution:
    """What entries add to the aggregates: row sums per (level, period, row), entries per minute."""

    rows: dict[AggregateKey, Tally] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def size_with(self, other: Contribution) -> int:
        """How many items the two together update."""
        return len(self.rows.keys() | other.rows.keys()) + len(self.counts.keys() | other.counts.keys())

    def add(self, other: Contribution) -> None:
        add_all(self.rows, other.rows.items())
        for minute, count in other.counts.items():
            self.counts[minute] = self.counts.get(minute, 0) + count


def contribution(entry: JournalEntry) -> Contribution:
    found = Contribution(counts={period_of(Level.MINUTE, entry.created_at): 1})
    for (asset_id, program_id), tally in entry_tallies(entry).items():
        for level in Level:
            found.rows[(level, period_of(level, entry.created_at), asset_id, program_id)] = tally
    return found


def raise_last_entry_at(org_id: str, shard: int, report: Contribution) -> None:
    latest = {key: tally.last_entry_at for key, tally in report.rows.items() if tally.last_entry_at is not None}
    aggregate_store.raise_last_entry_at(org_id, shard, latest)


def writes(org_id: str, shard: int, report: Contribution) -> list[transactions.Write]:
    return aggregate_store.row_writes(org_id, shard, report.rows, report.counts)


# ------------------------------------------------------------------ reading


def _in_scope(key: RowKey, asset_id: str | None, program_id: str | None) -> bool:
    return (asset_id is None or key[0] == asset_id) and (program_id is None or key[1] == program_id)


def journal_tallies(
    org_id: str,
    start: datetime | None,
    end: datetime,
    *,
    end_inclusive: bool,
    asset_id: str | None = None,
    program_id: str | None = None,
) -> dict[RowKey, Tally]:
    """The rows of the entries created in [start, end] (or [start, end)), read from the journal."""
    rows: dict[RowKey, Tally] = {}
    for entry in ledger_store.journal_entries_between(
        org_id, start, end, end_inclusive=end_inclusive, asset_id=asset_id
    ):
        add_all(rows, ((k, t) for k, t in entry_tallies(entry).items() if _in_scope(k, asset_id, program_id)))
    return rows


@dataclass(frozen=True)
class Seal:
    point: datetime  # the instant before which the aggregates hold every entry (a minute boundary)
    unfinished: bool  # the budget ran out with more to verify (not a stream behind)


def sealed_point(org_id: str, now: datetime | None = None, *, budget_seconds: float | None = None) -> datetime:
    """The instant before which the aggregates hold every entry (a minute boundary), moving the
    checkpoint forward step by step within ``budget_seconds`` (``SEAL_BUDGET_SECONDS`` when
    None; at least one step is verified whatever the budget)."""
    return seal(org_id, now, budget_seconds=budget_seconds).point


def seal(org_id: str, now: datetime | None = None, *, budget_seconds: float | None = None) -> Seal:
    budget = SEAL_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    checkpoint = aggregate_store.read_checkpoint(org_id)
    start = checkpoint.sealed_until or _first_minute(org_id)
    target = floor_to(Level.MINUTE, (now or clock.now()) - SEAL_DELAY)
    step = FIRST_STEP
    while start < target:
        end = min(start + step, target)
        journal_count = ledger_store.journal_count_between(org_id, start, end)
        aggregated = aggregate_store.counts_by_minute(
            org_id, period_of(Level.MINUTE, start), period_of(Level.MINUTE, end - MINUTE)
        )
        if sum(aggregated.values()) == journal_count:
            sealed = end
        else:  # the stream is behind in this step: sealed up to the first minute it has not completed
            sealed = _first_minute_behind(org_id, start, end, aggregated)
        if sealed > start:
            if not aggregate_store.save_checkpoint(org_id, checkpoint, sealed):
                # Another report moved it meanwhile: both points were verified, the larger holds
                # (and that report goes on verifying: as unfinished as this one).
                theirs = aggregate_store.read_checkpoint(org_id).sealed_until
                point = max(sealed, theirs) if theirs is not None else sealed
                return Seal(point, unfinished=point < target)
            checkpoint = aggregate_store.Checkpoint(sealed, checkpoint.version + 1)
            start = sealed
        if sealed < end:
            return Seal(start, unfinished=False)
        if time.monotonic() >= deadline:
            return Seal(start, unfinished=start < target)
        step = _next_step(step, journal_count)
    return Seal(start, unfinished=False)


def _first_minute(org_id: str) -> datetime:
    """Where an organization's first verification starts: its creation minute (``EPOCH`` when it
    has no organization item)."""
    created = organization_store.created_at(org_id)
    if created is None:
        return EPOCH
    first = floor_to(Level.MINUTE, created)
    # Only a moved clock (tests, the bench, an import) dates an entry before the creation: one
    # Query per list shard that finds nothing otherwise, and never again once a step is saved.
    earlier = ledger_store.journal_times_between(org_id, None, first)
    return clock.parse_rfc3339(earlier[0][:16] + ":00Z") if earlier else first


def _first_minute_behind(org_id: str, start: datetime, end: datetime, aggregated: dict[str, int]) -> datetime:
    journal = Counter(stamp[:16] for stamp in ledger_store.journal_times_between(org_id, start, end))
    minutes = journal.keys() | aggregated.keys()
    behind = min(minute for minute in minutes if journal[minute] != aggregated.get(minute, 0))
    return clock.parse_rfc3339(behind + ":00Z")


def _next_step(step: timedelta, journal_count: int) -> timedelta:
    """Whole minutes: the checkpoint is a minute boundary."""
    if journal_count < LIGHT_STEP_ENTRIES:
        return min(step * 2, MAX_STEP)
    if journal_count > HEAVY_STEP_ENTRIES:
        return max(MINUTE * (step // MINUTE // 2), MINUTE)
    return step


def movements(
    org_id: str,
    *,
    until: datetime,
    since: datetime | None = None,
    asset_id: str | None = None,
    program_id: str | None = None,
) -> list[Movement]:
    """Entries with since <= created_at <= until (since None: from the beginning), per asset ×
    program, ordered by asset then program.

    Raises ``UnclassifiedActivity`` (500) when a holder posting has no rollforward line, and
    ``AggregatesBehind`` (503) when more than ``MAX_TAIL`` of the period is not yet sealed.
    """
    if since is not None and since > until:
        return []
    now = clock.now()
    sealing = seal(org_id, now)
    sealed = sealing.point
    first = EPOCH if since is None else ceil_to(Level.MINUTE, since)
    last = min(floor_to(Level.MINUTE, until), sealed)  # [first, last): whole sealed minutes
    rows: dict[RowKey, Tally] = {}
    if first < last:
        for span in decompose(first, last):
            add_all(
                rows,
                aggregate_store.read_rows(
                    org_id,
                    span.level,
                    span.first_period,
                    span.last_period,
                    asset_id=asset_id,
                    program_id=program_id,
                ),
            )
        if since is not None and since < first:
            add_all(rows, _journal(org_id, since, first, False, asset_id, program_id).items())
        tail_start = last
    else:
        tail_start = since or EPOCH
    # Entries are not created after "now": a future ``until`` adds no tail to read.
    if min(until, now) - tail_start > MAX_TAIL and tail_start >= sealed:
        if sealing.unfinished:  # this call's budget ran out: the next one goes on at once
            raise AggregatesBehind(
                f"the report aggregates are verified up to {clock.to_rfc3339(sealed)} so far; "
                "each call verifies more of them",
                retry_after_seconds=VERIFYING_RETRY_AFTER_SECONDS,
                sealed_until=sealed,
            )
        raise AggregatesBehind(
            f"the report aggregates are complete up to {clock.to_rfc3339(sealed)}; the period needs more",
            retry_after_seconds=RETRY_AFTER_SECONDS,
            sealed_until=sealed,
        )
    add_all(rows, _journal(org_id, tail_start, until, True, asset_id, program_id).items())
    return movements_of(rows)


def _journal(
    org_id: str, start: datetime, end: datetime, end_inclusive: bool, asset_id: str | None, program_id: str | None
) -> dict[RowKey, Tally]:
    return journal_tallies(org_id, start, end, end_inclusive=end_inclusive, asset_id=asset_id, program_id=program_id)
