"""The reports of 05 §4.1–4.4, computed from the ledger's movements (``services.ledger_aggregates``).

A report never reads the journal or the balances itself: ``ledger_aggregates.movements`` gives,
per asset × program, the signed change of holders' balances per bucket and per rollforward line
over any period; the stream-kept counts (``services.report_counts``) give what is not an amount.
Liability at an instant is the movement from the beginning up to it, so the same ``as_of``
always gives the same answer.

Every balance that a report states next to its explanation is computed on its own (the opening
and closing liabilities are two movements from the beginning; the lines are the period's), and
the two must agree to the last digit: a mismatch is ``unclassified_activity`` (05 §4.4), never a
plug line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from scrip.domain import clock
from scrip.domain.assets import Asset
from scrip.domain.errors import ValidationFailed
from scrip.domain.ledger import Bucket
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.report_lines import Line, Movement, UnclassifiedActivity
from scrip.services import ledger_aggregates, report_counts
from scrip.storage import assets as asset_store
from scrip.storage import programs as program_store
from scrip.storage import report_counts as count_store

# A timestamp's resolution (``clock.to_rfc3339`` keeps microseconds): the last instant before ``from``.
_TICK = timedelta(microseconds=1)
BUCKET_ORDER = (Bucket.AVAILABLE, Bucket.HELD, Bucket.DEFERRED)
# 05 §4.4: outflow lines are stated as positive magnitudes and subtracted, the others added.
OUTFLOW_LINES = frozenset(
    {
        Line.ISSUANCE_RETURNS,
        Line.REDEEMED,
        Line.REVERSAL_CLAWBACKS,
        Line.FORFEITED,
        Line.EXPIRED,
        Line.DEBITED,
        Line.HOLDS_VOIDED,
    }
)
# Folded into ledger-summary's total_redeemed (net of reversals, 05 §4.1 [inferred]).
_REDEMPTION_LINES = (Line.REDEEMED, Line.REDEMPTION_REVERSALS, Line.REDEMPTION_RECEIPTS, Line.REVERSAL_CLAWBACKS)
_ZERO = Decimal(0)

RowKey = tuple[str, str | None]


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Names:
    """The asset and program of a row, read from their own items (never the journal)."""

    asset: Asset
    program_id: str | None
    program_name: str | None


@dataclass(frozen=True)
class LiabilityLine:
    names: Names
    bucket: Bucket | None
    balance: Decimal


@dataclass(frozen=True)
class Liability:
    as_of: datetime
    page: Page[LiabilityLine]


@dataclass(frozen=True)
class RollforwardLine:
    names: Names
    opening: Decimal
    lines: Mapping[Line, Decimal]  # in the report's sign convention
    closing: Decimal


@dataclass(frozen=True)
class SummaryPeriod:
    opening: Decimal
    closing: Decimal
    issued: Decimal
    redeemed: Decimal
    expired: Decimal
    forfeited: Decimal
    other_net: Decimal


@dataclass(frozen=True)
class SummaryLine:
    asset: Asset
    total_issued: Decimal
    total_redeemed: Decimal
    total_expired: Decimal
    total_forfeited: Decimal
    current_balance: Decimal
    participant_count: int
    period: SummaryPeriod | None


@dataclass(frozen=True)
class ActivityLine:
    program_id: str
    program_name: str
    event_count: int
    journal_count: int
    total_issued: Decimal
    total_redeemed: Decimal
    unique_participants: int
    last_activity_at: datetime | None
    configuration: count_store.ProgramConfiguration


# ---------------------------------------------------------------- validation


def period_of(start: datetime | None, end: datetime | None, *, required: bool) -> Period | None:
    """``from``/``to``: both or neither (both when ``required``), ``from`` not after ``to``."""
    if start is None and end is None and not required:
        return None
    if start is None or end is None:
        missing = "from" if start is None else "to"
        other = "to" if start is None else "from"
        message = f"{missing} is required" if required else f"{missing} is required with {other}"
        raise ValidationFailed(message, field=missing, reason="missing")
    if start > end:
        raise ValidationFailed("from must not be after to", field="from", reason="invalid_range", expected="from <= to")
    return Period(start, end)


def _require_scope(org_id: str, asset_id: str | None, program_id: str | None) -> None:
    """Unknown ids are 404 as everywhere in the API, not an empty report."""
    if program_id is not None:
        program_store.require(org_id, program_id)
    if asset_id is not None:
        asset_store.require(org_id, asset_id)


# ---------------------------------------------------------------- shared arithmetic


def _by_key(movements: Iterable[Movement]) -> dict[RowKey, Movement]:
    return {(m.asset_id, m.program_id): m for m in movements}


def _signed_sum(lines: Mapping[Line, Decimal]) -> Decimal:
    return sum(lines.values(), _ZERO)


def _check(reconciles: bool, what: str) -> None:
    if not reconciles:
        raise UnclassifiedActivity(f"{what} do not reconcile: the ledger holds activity no line explains")


def _liability_until(
    org_id: str, until: datetime, asset_id: str | None, program_id: str | None
) -> dict[RowKey, Movement]:
    return _by_key(ledger_aggregates.movements(org_id, until=until, asset_id=asset_id, program_id=program_id))


@dataclass(frozen=True)
class _Resume:
    """Where a page starts: the instant the first page was computed at and the last row's key.

    A report without an explicit instant is computed at "now"; its cursor carries the first
    page's instant, so that every page of it describes the same ledger."""

    instant: datetime
    after: str | None


def _resume(cursor: str | None, scope: str, default_instant: datetime) -> _Resume:
    if not cursor:
        return _Resume(default_instant, None)
    instant, _, after = decode_cursor(cursor, scope).partition("|")
    try:
        return _Resume(clock.parse_rfc3339(instant), after)
    except ValueError:
        raise ValidationFailed("cursor is not valid", field="cursor", reason="invalid_cursor") from None


def _page[T](rows: Sequence[tuple[str, T]], *, limit: int, resume: _Resume, scope: str) -> Page[T]:
    """Rows (sort key, row) in key order, after the resumed key. Callers read what a row needs
    beyond the movements (names, counts) for the page's rows only."""
    after = resume.after
    remaining = [(key, row) for key, row in sorted(rows, key=lambda kv: kv[0]) if after is None or key > after]
    chosen = remaining[:limit]
    next_cursor = (
        encode_cursor(f"{clock.to_rfc3339(resume.instant)}|{chosen[-1][0]}", scope) if len(remaining) > limit else None
    )
    return Page([row for _, row in chosen], next_cursor)


def _row_sort_key(asset_id: str, program_id: str | None, *more: str) -> str:
    # Rows without a program first, as ledger_aggregates orders them.
    return "#".join((asset_id, program_id or "", *more))


def _names(org_id: str, row_keys: Iterable[RowKey]) -> dict[RowKey, Names]:
    wanted = list(dict.fromkeys(row_keys))
    found_assets = asset_store.get_many(org_id, sorted({asset_id for asset_id, _ in wanted}))
    program_names: dict[str, str | None] = {}
    for program_id in sorted({p for _, p in wanted if p is not None}):
        program = program_store.get(org_id, program_id)
        program_names[program_id] = program.name if program else None
    return {
        (asset_id, program_id): Names(
            found_assets[asset_id], program_id, program_names.get(program_id) if program_id else None
        )
        for asset_id, program_id in wanted
    }


# ---------------------------------------------------------------- liability (05 §4.3)


def liability(
    caller: Caller,
    *,
    as_of: datetime | None,
    asset_id: str | None,
    program_id: str | None,
    by_bucket: bool,
    limit: int,
    cursor: str | None,
) -> Liability:
    org_id = caller.organization_id
    _require_scope(org_id, asset_id, program_id)
    # The cursor carries the instant: every page of one report describes the same ledger.
    scope = scope_signature("reports/liability", clock.to_rfc3339_or_none(as_of), asset_id, program_id, by_bucket)
    resume = _resume(cursor, scope, as_of if as_of is not None else clock.now())
    moment = resume.instant
    rows = [m for m in _liability_until(org_id, moment, asset_id, program_id).values() if m.entry_count > 0]
    keyed: list[tuple[str, tuple[Movement, Bucket | None]]] = []
    for movement in rows:
        if by_bucket:
            keyed += [
                (_row_sort_key(movement.asset_id, movement.program_id, str(i)), (movement, bucket))
                for i, bucket in enumerate(BUCKET_ORDER)
            ]
        else:
            keyed.append((_row_sort_key(movement.asset_id, movement.program_id), (movement, None)))
    page = _page(keyed, limit=limit, resume=resume, scope=scope)
    names = _names(org_id, ((m.asset_id, m.program_id) for m, _ in page.items))
    lines = [
        LiabilityLine(
            names[(m.asset_id, m.program_id)],
            bucket,
            m.net if bucket is None else m.buckets.get(bucket, _ZERO),
        )
        for m, bucket in page.items
    ]
    return Liability(moment, Page(lines, page.next_cursor))


# ---------------------------------------------------------------- rollforward (05 §4.4)


def reported_lines(signed: Mapping[Line, Decimal]) -> dict[Line, Decimal]:
    """Every line in 05 §4.4's convention: outflows as positive magnitudes (to subtract)."""
    return {line: -signed.get(line, _ZERO) if line in OUTFLOW_LINES else signed.get(line, _ZERO) for line in Line}


def explained_change(reported: Mapping[Line, Decimal]) -> Decimal:
    """The change the reported lines explain: inflows and nets added, outflows subtracted."""
    return sum((-v if line in OUTFLOW_LINES else v for line, v in reported.items()), _ZERO)


def rollforward(
    caller: Caller,
    *,
    period: Period,
    asset_id: str | None,
    program_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[RollforwardLine]:
    org_id = caller.organization_id
    _require_scope(org_id, asset_id, program_id)
    opening = _liability_until(org_id, period.start - _TICK, asset_id, program_id)
    closing = _liability_until(org_id, period.end, asset_id, program_id)
    within = _by_key(
        ledger_aggregates.movements(
            org_id, since=period.start, until=period.end, asset_id=asset_id, program_id=program_id
        )
    )
    rows: list[tuple[str, tuple[RowKey, Decimal, dict[Line, Decimal], Decimal]]] = []
    for key, closed in closing.items():
        if closed.entry_count == 0:
            continue  # wallet funding only: no holder ever moved in this row
        open_ = opening[key].net if key in opening else _ZERO
        signed = dict(within[key].lines) if key in within else {}
        reported = reported_lines(signed)
        # Read apart, the balances and the lines must agree: that is the rollforward's proof.
        _check(closed.net - open_ == explained_change(reported) == _signed_sum(signed), "rollforward lines")
        rows.append((_row_sort_key(*key), (key, open_, reported, closed.net)))
    scope = scope_signature(
        "reports/liability-rollforward",
        clock.to_rfc3339(period.start),
        clock.to_rfc3339(period.end),
        asset_id,
        program_id,
    )
    page = _page(rows, limit=limit, resume=_resume(cursor, scope, period.end), scope=scope)
    names = _names(org_id, (key for key, *_ in page.items))
    lines = [RollforwardLine(names[key], open_, reported, close) for key, open_, reported, close in page.items]
    return Page(lines, page.next_cursor)


# ---------------------------------------------------------------- ledger summary (05 §4.1)


def _per_asset(movements: Iterable[Movement]) -> dict[str, tuple[Decimal, dict[Line, Decimal], int]]:
    """Per asset: the net change, the signed line sums, the holder entries (rows summed over programs)."""
    found: dict[str, tuple[Decimal, dict[Line, Decimal], int]] = {}
    for m in movements:
        net, lines, entries = found.get(m.asset_id, (_ZERO, {}, 0))
        for line, amount in m.lines.items():
            lines[line] = lines.get(line, _ZERO) + amount
        found[m.asset_id] = (net + m.net, lines, entries + m.entry_count)
    return found


def _line(lines: Mapping[Line, Decimal], line: Line) -> Decimal:
    return lines.get(line, _ZERO)


def ledger_summary(
    caller: Caller, *, program_id: str | None, period: Period | None, limit: int, cursor: str | None
) -> Page[SummaryLine]:
    org_id = caller.organization_id
    _require_scope(org_id, None, program_id)
    scope = scope_signature(
        "reports/ledger-summary",
        program_id,
        clock.to_rfc3339(period.start) if period else None,
        clock.to_rfc3339(period.end) if period else None,
    )
    resume = _resume(cursor, scope, clock.now())
    all_time = _per_asset(ledger_aggregates.movements(org_id, until=resume.instant, program_id=program_id))
    rows = [(asset_id, asset_id) for asset_id, (_, _, entries) in all_time.items() if entries > 0]
    page = _page(rows, limit=limit, resume=resume, scope=scope)
    periods = _summary_periods(org_id, program_id, period) if period else {}
    found_assets = asset_store.get_many(org_id, page.items)
    lines = []
    for asset_id in page.items:
        current, signed, _ = all_time[asset_id]
        _check(current == _signed_sum(signed), "ledger summary totals")
        expired, forfeited = -_line(signed, Line.EXPIRED), -_line(signed, Line.FORFEITED)
        redeemed = -sum((_line(signed, line) for line in _REDEMPTION_LINES), _ZERO)
        lines.append(
            SummaryLine(
                asset=found_assets[asset_id],
                # Everything the formula does not name is folded in here, so that it holds (05 §4.1).
                total_issued=current + redeemed + expired + forfeited,
                total_redeemed=redeemed,
                total_expired=expired,
                total_forfeited=forfeited,
                current_balance=current,
                participant_count=report_counts.holders(org_id, asset_id),
                period=periods.get(asset_id, SummaryPeriod(*[_ZERO] * 7)) if period else None,
            )
        )
    return Page(lines, page.next_cursor)


def _summary_periods(org_id: str, program_id: str | None, period: Period) -> dict[str, SummaryPeriod]:
    opening = _per_asset(ledger_aggregates.movements(org_id, until=period.start - _TICK, program_id=program_id))
    closing = _per_asset(ledger_aggregates.movements(org_id, until=period.end, program_id=program_id))
    within = _per_asset(
        ledger_aggregates.movements(org_id, since=period.start, until=period.end, program_id=program_id)
    )
    found = {}
    for asset_id, (close, _, _) in closing.items():
        open_ = opening[asset_id][0] if asset_id in opening else _ZERO
        signed = within[asset_id][1] if asset_id in within else {}
        issued, redeemed = _line(signed, Line.ISSUED), -_line(signed, Line.REDEEMED)
        expired, forfeited = -_line(signed, Line.EXPIRED), -_line(signed, Line.FORFEITED)
        named = {Line.ISSUED, Line.REDEEMED, Line.EXPIRED, Line.FORFEITED}
        other = sum((amount for line, amount in signed.items() if line not in named), _ZERO)
        _check(close - open_ == issued - redeemed - expired - forfeited + other, "ledger summary period")
        found[asset_id] = SummaryPeriod(open_, close, issued, redeemed, expired, forfeited, other)
    return found


# ---------------------------------------------------------------- program activity (05 §4.2)


def _per_program(movements: Iterable[Movement]) -> dict[str, tuple[int, Decimal, Decimal, datetime | None]]:
    """Per program: journal entries, credits issued, gross redemptions, the latest entry."""
    found: dict[str, tuple[int, Decimal, Decimal, datetime | None]] = {}
    for m in movements:
        if m.program_id is None:
            continue
        count, issued, redeemed, last = found.get(m.program_id, (0, _ZERO, _ZERO, None))
        if m.last_entry_at is not None and (last is None or m.last_entry_at > last):
            last = m.last_entry_at
        found[m.program_id] = (
            count + m.journal_count,
            issued + m.line(Line.ISSUED),
            redeemed - m.line(Line.REDEEMED),
            last,
        )
    return found


def program_activity(
    caller: Caller, *, since: datetime | None, period: Period | None, limit: int, cursor: str | None
) -> Page[ActivityLine]:
    """Programs with journal entries (in the period when one is given) and, with ``since``, whose
    latest entry is after it. A program's journal count sums its asset rows: an entry that
    moves two assets of one program counts in both [inferred; no operation does so today]."""
    org_id = caller.organization_id
    scope = scope_signature(
        "reports/program-activity",
        clock.to_rfc3339(since) if since else None,
        clock.to_rfc3339(period.start) if period else None,
        clock.to_rfc3339(period.end) if period else None,
    )
    resume = _resume(cursor, scope, clock.now())
    all_time = _per_program(ledger_aggregates.movements(org_id, until=resume.instant))
    windowed = (
        _per_program(ledger_aggregates.movements(org_id, since=period.start, until=period.end)) if period else all_time
    )
    rows = [
        (program_id, program_id)
        for program_id, (count, _, _, last) in all_time.items()
        if program_id in windowed
        and windowed[program_id][0] > 0
        and (since is None or (last is not None and last > since))
    ]
    page = _page(rows, limit=limit, resume=resume, scope=scope)
    lines = []
    for program_id in page.items:
        count, _, _, last = all_time[program_id]
        _, issued, redeemed, _ = windowed[program_id]
        program = program_store.get(org_id, program_id)
        lines.append(
            ActivityLine(
                program_id=program_id,
                program_name=program.name if program else "",
                event_count=report_counts.events_processed(
                    org_id, program_id, period.start if period else None, period.end if period else None
                ),
                journal_count=count,
                total_issued=issued,
                total_redeemed=redeemed,
                unique_participants=report_counts.earners(org_id, program_id),
                last_activity_at=last,
                configuration=count_store.program_configuration(org_id, program_id),
            )
        )
    return Page(lines, page.next_cursor)
