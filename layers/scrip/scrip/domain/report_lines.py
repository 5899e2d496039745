"""What a journal entry does to the liability (05 §4): per asset × program, the signed change of
holders' balances per bucket, and which rollforward line (05 §4.4) explains each part.

Holders are PARTICIPANT and GROUP accounts ("liability", 05 §4); program wallets and system
accounts are not liability and have no line. A row's program is the posting's program: the
entry's, or for an entry without one (a lot's maturity or expiration) the lot's program, so
that a program's liability falls when its lots expire instead of leaving a negative
null-program row. Pure: no storage, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from scrip.domain.clock import to_rfc3339
from scrip.domain.errors import ApiError
from scrip.domain.ledger import ActionType, Bucket, EntityType, JournalEntry


class Line(StrEnum):
    """The rollforward lines of 05 §4.4, named as the report's fields."""

    ISSUED = "issued"
    ISSUANCE_RETURNS = "issuance_returns"
    REDEEMED = "redeemed"
    REDEMPTION_REVERSALS = "redemption_reversals"
    REDEMPTION_RECEIPTS = "redemption_receipts"
    REVERSAL_CLAWBACKS = "reversal_clawbacks"
    FORFEITED = "forfeited"
    EXPIRED = "expired"
    DEBITED = "debited"
    HOLDS_VOIDED = "holds_voided"
    TRANSFERS_NET = "transfers_net"
    ADJUSTMENTS_NET = "adjustments_net"
    BUCKET_MOVEMENTS_NET = "bucket_movements_net"


class UnclassifiedActivity(ApiError):
    """Ledger activity no rollforward line explains: the report fails rather than misstate (05 §4.4)."""

    status, code = 500, "unclassified_activity"


class AggregatesBehind(ApiError):
    """The stream-maintained aggregates lag the journal by more than a report may read from the
    journal itself: the report says so (503 with ``Retry-After``) rather than answer stale."""

    status, code = 503, "aggregates_behind"

    def __init__(self, message: str, *, retry_after_seconds: int, sealed_until: datetime | None) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds
        self.sealed_until = sealed_until

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


HOLDERS = frozenset({EntityType.PARTICIPANT, EntityType.GROUP})

# Action types whose holder postings move value between a holder's own buckets only.
_BUCKET_MOVES = frozenset({ActionType.HOLD, ActionType.RELEASE, ActionType.MATURITY})


def line_of(action: ActionType, entity_type: EntityType, bucket: Bucket, amount: Decimal) -> Line | None:
    """The line a posting contributes to; None for a posting that is not a holder's.

    Raises ``UnclassifiedActivity`` for a holder posting no line explains: a kind of entry
    unknown here, or a holder moved in a direction its operation never moves one.
    """
    if entity_type not in HOLDERS:
        return None
    inflow = amount > 0
    if action in _BUCKET_MOVES:
        # HOLD: AVAILABLE→HELD, RELEASE: HELD→AVAILABLE, MATURITY: DEFERRED→AVAILABLE; the legs
        # sum to zero over the buckets (any bucket, either sign).
        return Line.BUCKET_MOVEMENTS_NET
    if action is ActionType.TRANSFER:
        return Line.TRANSFERS_NET  # the source's debit and every recipient's credit
    found = _DIRECTED.get((action, inflow))
    if found is None:
        direction = "credits" if inflow else "debits"
        raise UnclassifiedActivity(
            f"a {action.value} journal entry that {direction} a {entity_type.value} account has no rollforward line",
            details={"action_type": action.value, "entity_type": entity_type.value, "bucket": bucket.value},
        )
    return found


# (action, whether the holder's posting is an inflow) → line. CREDIT issues to a holder from the
# issuance source (a settle is a VOID_HOLD then a CREDIT, two entries); a REDEMPTION debits the
# redeemer and, when the target is itself a holder, credits it (a receipt); its reversal gives
# back to the redeemer and takes from such a target (a clawback).
_DIRECTED: Mapping[tuple[ActionType, bool], Line] = {
    (ActionType.CREDIT, True): Line.ISSUED,
    (ActionType.DEBIT, False): Line.DEBITED,
    (ActionType.FORFEIT, False): Line.FORFEITED,
    (ActionType.EXPIRATION, False): Line.EXPIRED,
    (ActionType.VOID_HOLD, False): Line.HOLDS_VOIDED,
    (ActionType.REDEMPTION, False): Line.REDEEMED,
    (ActionType.REDEMPTION, True): Line.REDEMPTION_RECEIPTS,
    (ActionType.REDEMPTION_REVERSAL, True): Line.REDEMPTION_REVERSALS,
    (ActionType.REDEMPTION_REVERSAL, False): Line.REVERSAL_CLAWBACKS,
}

RowKey = tuple[str, str | None]  # (asset id, program id or None)


@dataclass
class Tally:
    """The running sums of one asset × program row (an aggregate item, or a report's row)."""

    buckets: dict[Bucket, Decimal] = field(default_factory=dict)
    lines: dict[Line, Decimal] = field(default_factory=dict)
    entry_count: int = 0  # journal entries with a holder posting in the row
    journal_count: int = 0  # journal entries with any posting in the row (wallet funding too)
    last_entry_at: datetime | None = None  # the latest of those entries
    # Holder postings no line explains (a kind of entry this code does not know). The stream
    # consumer keeps them rather than stop on them; a report that meets one fails (05 §4.4).
    unclassified: int = 0

    def add(self, other: Tally) -> None:
        for bucket, amount in other.buckets.items():
            self.buckets[bucket] = self.buckets.get(bucket, Decimal(0)) + amount
        for line, amount in other.lines.items():
            self.lines[line] = self.lines.get(line, Decimal(0)) + amount
        self.entry_count += other.entry_count
        self.journal_count += other.journal_count
        self.unclassified += other.unclassified
        if other.last_entry_at is not None and (self.last_entry_at is None or other.last_entry_at > self.last_entry_at):
            self.last_entry_at = other.last_entry_at


def entry_tallies(entry: JournalEntry) -> dict[RowKey, Tally]:
    """What one entry adds to each row it has a posting in. A holder posting no line explains
    moves its bucket and counts as ``unclassified`` (``movements_of`` then refuses the row)."""
    rows: dict[RowKey, Tally] = {}
    for posting in entry.postings:
        row = rows.setdefault((posting.asset_id, posting.program_id), Tally(journal_count=1))
        row.last_entry_at = entry.created_at
        if posting.account.entity_type not in HOLDERS:
            continue
        row.entry_count = 1
        row.buckets[posting.bucket] = row.buckets.get(posting.bucket, Decimal(0)) + posting.amount
        try:
            line = line_of(entry.action_type, posting.account.entity_type, posting.bucket, posting.amount)
        except UnclassifiedActivity:
            row.unclassified += 1
            continue
        assert line is not None
        row.lines[line] = row.lines.get(line, Decimal(0)) + posting.amount
    return rows


@dataclass(frozen=True)
class Movement:
    """The movement of holders' balances of one asset × program (program None: postings without
    a program) over a period. ``lines`` are SIGNED contributions (an expiry is negative) and sum
    to the buckets' sum: a report turns them into 05 §4.4's sign convention."""

    asset_id: str
    program_id: str | None
    buckets: Mapping[Bucket, Decimal]
    lines: Mapping[Line, Decimal]
    entry_count: int
    journal_count: int
    last_entry_at: datetime | None

    @property
    def net(self) -> Decimal:
        """The change of the row's liability over every bucket."""
        return sum(self.buckets.values(), Decimal(0))

    def line(self, line: Line) -> Decimal:
        return self.lines.get(line, Decimal(0))


def movements_of(rows: Mapping[RowKey, Tally]) -> list[Movement]:
    """The rows as movements, ordered by asset then program (no program first); zero sums
    dropped. Raises ``UnclassifiedActivity`` when a row holds an unclassified posting."""
    found = []
    for (asset_id, program_id), tally in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if tally.journal_count == 0:
            continue
        if tally.unclassified:
            raise UnclassifiedActivity(
                f"{tally.unclassified} holder postings of asset {asset_id} have no rollforward line",
                details={"asset_id": asset_id, "program_id": program_id, "postings": tally.unclassified},
            )
        found.append(
            Movement(
                asset_id=asset_id,
                program_id=program_id,
                buckets={b: a for b, a in tally.buckets.items() if a != 0},
                lines={line: a for line, a in tally.lines.items() if a != 0},
                entry_count=tally.entry_count,
                journal_count=tally.journal_count,
                last_entry_at=tally.last_entry_at,
            )
        )
    return found


def add_all[K](into: dict[K, Tally], more: Iterable[tuple[K, Tally]]) -> None:
    """Add each (key, tally) into ``into`` (fresh tallies: ``more``'s are never changed)."""
    for key, tally in more:
        into.setdefault(key, Tally()).add(tally)


# ------------------------------------------------------------------ periods
# The aggregates keep a row per UTC month, day, hour and minute. A period is named by the
# prefix of the RFC 3339 text of any instant in it ("2026-03", "2026-03-02", "2026-03-02T18",
# "2026-03-02T18:04"), so periods of one level sort as their instants do.


class Level(StrEnum):
    MONTH = "MONTH"
    DAY = "DAY"
    HOUR = "HOUR"
    MINUTE = "MINUTE"


_PREFIX = {Level.MONTH: 7, Level.DAY: 10, Level.HOUR: 13, Level.MINUTE: 16}
_FINER_FIRST = (Level.MINUTE, Level.HOUR, Level.DAY, Level.MONTH)
MINUTE = timedelta(minutes=1)


def period_of(level: Level, moment: datetime) -> str:
    return to_rfc3339(moment)[: _PREFIX[level]]


def floor_to(level: Level, moment: datetime) -> datetime:
    """The start of the ``level`` period holding ``moment``."""
    utc = moment.astimezone(UTC)
    start = utc.replace(second=0, microsecond=0)
    if level is not Level.MINUTE:
        start = start.replace(minute=0)
    if level in (Level.DAY, Level.MONTH):
        start = start.replace(hour=0)
    if level is Level.MONTH:
        start = start.replace(day=1)
    return start


def ceil_to(level: Level, moment: datetime) -> datetime:
    """The first ``level`` boundary at or after ``moment``."""
    start = floor_to(level, moment)
    if start == moment:
        return start
    if level is Level.MONTH:
        if start.month == 12:
            return start.replace(year=start.year + 1, month=1)
        return start.replace(month=start.month + 1)
    step = {Level.MINUTE: MINUTE, Level.HOUR: timedelta(hours=1), Level.DAY: timedelta(days=1)}[level]
    return start + step


@dataclass(frozen=True)
class Span:
    """Whole periods of one level: from the period starting at ``start`` to the one ending at ``end``."""

    level: Level
    start: datetime
    end: datetime

    @property
    def first_period(self) -> str:
        return period_of(self.level, self.start)

    @property
    def last_period(self) -> str:
        return period_of(self.level, self.end - timedelta(microseconds=1))


def decompose(start: datetime, end: datetime) -> list[Span]:
    """[start, end) (whole minutes) as the fewest whole periods: minutes up to the first hour,
    hours up to the first day, days up to the first month, whole months, then days, hours and
    minutes down to ``end``. At most seven spans, whatever the length."""
    spans: list[Span] = []
    level = 0
    while level < len(_FINER_FIRST) - 1:
        boundary = ceil_to(_FINER_FIRST[level + 1], start)
        if boundary > end:
            break
        if start < boundary:
            spans.append(Span(_FINER_FIRST[level], start, boundary))
        start = boundary
        level += 1
    while level >= 0:
        boundary = floor_to(_FINER_FIRST[level], end)
        if start < boundary:
            spans.append(Span(_FINER_FIRST[level], start, boundary))
            start = boundary
        level -= 1
    return spans
