"""The arithmetic of the expiration schedule (04 §8.10): calendar-aligned UTC buckets over a
window, and where each part of an asset's outstanding LOT value falls in it.

The index the report reads (``storage/expiring_lots.py``) keeps outstanding per expiry UTC month
(month rows, and "never"), per expiry UTC day (day rows) and, per day, the outstanding lots
themselves. A month other than those ``day_resolved_months`` names lies wholly before the window,
wholly after it, or (at month granularity) wholly inside it and inside one bucket, so its row is
placed as one; so does a whole day other than the day of ``from`` and the day of ``to``; the two
edge days are read lot by lot and each lot placed by its instant. That makes the placement exact
at any ``from``/``to`` while reading every month row, the day rows of the day-resolved months
only, and at most two days' lots.

Pure: no storage, no HTTP. Amounts are ``Decimal`` and summed exactly (see ``_exact``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import MAX_PREC, Decimal, Inexact, localcontext
from enum import StrEnum

from scrip.domain.errors import ValidationFailed


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# 400 buckets: a whole year of days (367 buckets for a leap year's 1 Jan to the next 1 Jan, both
# inclusive) with room to spare, ~7.6 years of weeks, 33 years of months. The bound keeps the
# response small (a bucket renders in ~130 bytes, so ~52 KB per asset) and the request's work
# bounded whatever the window: a day-granular window of a century would otherwise build and
# render 36,500 buckets per asset. A longer horizon is asked at a coarser granularity.
MAX_BUCKETS = 400

_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)


def _utc(moment: datetime, field: str) -> datetime:
    # A naive datetime has no instant; the API parses RFC 3339 with an offset, so one here is a
    # programming error, not a request to guess the machine's zone.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware")
    return moment.astimezone(UTC)


def _bucket_start(day: date, granularity: Granularity) -> date:
    """The first day of the bucket holding ``day``: itself, its week's Monday, its month's 1st."""
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def _next_start(start: date, granularity: Granularity) -> date:
    """The first day of the bucket after the one starting on ``start``.

    Raises ``OverflowError``/``ValueError`` past 9999-12-31 (``date``'s last day).
    """
    if granularity is Granularity.WEEK:
        return start + _ONE_WEEK
    if granularity is Granularity.MONTH:
        if start.month == 12:
            return date(start.year + 1, 1, 1)
        return start.replace(month=start.month + 1)
    return start + _ONE_DAY


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def bucket_count(window_from: datetime, window_to: datetime, granularity: Granularity) -> int:
    """How many buckets ``bucket_bounds`` returns for the window, counted without building them
    (so an enormous window is refused in constant time). 0 when ``window_from`` is after ``window_to``."""
    first = _bucket_start(_utc(window_from, "window_from").date(), granularity)
    last = _bucket_start(_utc(window_to, "window_to").date(), granularity)
    if last < first:
        return 0
    if granularity is Granularity.MONTH:
        return (last.year - first.year) * 12 + (last.month - first.month) + 1
    if granularity is Granularity.WEEK:
        return (last - first).days // 7 + 1
    return (last - first).days + 1


def bucket_bounds(
    window_from: datetime, window_to: datetime, granularity: Granularity
) -> list[tuple[datetime, datetime]]:
    """Calendar-aligned UTC buckets [start, end) covering [window_from, window_to] (both inclusive):
    the first starts at or before window_from, the last ends after window_to; weeks start Monday.

    Day buckets start at 00:00 UTC, week buckets on Monday 00:00 UTC, month buckets on the 1st at
    00:00 UTC. ``window_to`` is inclusive, so a ``window_to`` exactly on a boundary gets the bucket
    starting there. Consecutive buckets share their boundary (one's end is the next one's start).

    Raises ``ValidationFailed`` (400) when ``window_from`` is after ``window_to``, when the window
    needs more than ``MAX_BUCKETS`` buckets, or when the last bucket would end after 9999-12-31
    (not representable); the checks come before any bucket is built.
    """
    start, end = _utc(window_from, "window_from"), _utc(window_to, "window_to")
    if start > end:
        raise ValidationFailed("from must not be after to", field="from", reason="invalid_range", expected="from <= to")
    count = bucket_count(start, end, granularity)
    if count > MAX_BUCKETS:
        raise ValidationFailed(
            f"from..to at granularity {granularity.value} needs {count} buckets; at most {MAX_BUCKETS} are"
            " allowed: narrow the window or choose a coarser granularity",
            field="granularity",
            reason="too_many_buckets",
            expected=f"at most {MAX_BUCKETS} buckets",
            received=count,
        )
    last = _bucket_start(end.date(), granularity)
    try:
        _next_start(last, granularity)
    except (OverflowError, ValueError):
        raise ValidationFailed(
            "to is too late: its bucket would end after 9999-12-31",
            field="to",
            reason="out_of_range",
            expected="a bucket ending by 9999-12-31",
        ) from None
    bounds: list[tuple[datetime, datetime]] = []
    day = _bucket_start(start.date(), granularity)
    while day <= last:
        following = _next_start(day, granularity)
        bounds.append((_midnight(day), _midnight(following)))
        day = following
    return bounds


def edge_days(window_from: datetime, window_to: datetime) -> list[date]:
    """The UTC days whose lots are read one by one (the day of window_from and the day of window_to).

    Ascending and without repeats: one day when both fall on the same UTC day.
    """
    first = _utc(window_from, "window_from").date()
    last = _utc(window_to, "window_to").date()
    return [first] if first == last else sorted((first, last))


def _month_end(month: date) -> date:
    """The last day of the month starting on ``month`` (9999-12 included, which has no next month)."""
    if month.month == 12:
        return date(month.year, 12, 31)
    return month.replace(month=month.month + 1) - _ONE_DAY


def day_resolved_months(
    window_from: datetime, window_to: datetime, granularity: Granularity
) -> list[tuple[date, date]]:
    """The UTC days (ranges of whole months, [first, last] inclusive, ascending, disjoint) whose
    day rows the schedule needs; every other month is placed whole from its month row.

    At month granularity a month strictly between the month of ``from`` and the month of ``to``
    is wholly inside the window and is its own bucket, so only those two months need their days
    (one range when they are the same or adjacent months). Day and week buckets cut through
    months, so every month from the month of ``from`` to the month of ``to`` needs its days.
    """
    first = _utc(window_from, "window_from").date().replace(day=1)
    last = _utc(window_to, "window_to").date().replace(day=1)
    if granularity is Granularity.MONTH and (last.year * 12 + last.month) - (first.year * 12 + first.month) > 1:
        return [(first, _month_end(first)), (last, _month_end(last))]
    return [(first, _month_end(last))]


@dataclass(frozen=True)
class ScheduleBucket:
    start: datetime
    end: datetime
    amount: Decimal
    lot_count: int


@dataclass(frozen=True)
class AssetSchedule:
    asset_id: str
    total_outstanding: Decimal
    never_expiring: Decimal
    expiring_before_window: Decimal
    expiring_after_window: Decimal
    buckets: list[ScheduleBucket]


@contextmanager
def _exact() -> Iterator[None]:
    """Additions that never round. Amounts have up to 38 significant digits (``amounts.MAX_DIGITS``),
    more than the default context's 28, so a default sum could round and break the invariant; an
    unbounded precision keeps every sum exact, and ``Inexact`` trapped makes any rounding an error."""
    with localcontext() as context:
        context.prec = MAX_PREC
        context.traps[Inexact] = True
        yield


def asset_schedule(
    asset_id: str,
    window_from: datetime,
    window_to: datetime,
    granularity: Granularity,
    month_rows: Iterable[tuple[date | None, Decimal, int]],
    day_rows: Iterable[tuple[date, Decimal, int]],
    edge_lots: Iterable[tuple[datetime, Decimal]],
) -> AssetSchedule:
    """Month rows of the day-resolved months (``day_resolved_months``) are ignored (their day rows
    are placed instead), and so are day rows outside those months (their month rows hold them)
    and day rows of the edge days (their lots are placed by instant instead); a lot expiring
    exactly at window_from or window_to is inside the window; a bucket counts only what lies
    inside the window. Invariant: sum(b.amount) + never + before + after == total, exactly.

    ``month_rows``: (expiry UTC month as its 1st, or None for lots without ``expires_at``,
    outstanding, lot_count) of this asset, any program. ``day_rows``: (expiry UTC day,
    outstanding, lot_count) of this asset, any program; rows of one month or day may repeat (they
    are added). ``edge_lots``: (expires_at, remaining) of this asset's outstanding lots on
    ``edge_days()``; a lot with nothing remaining is left out of every count.

    Every bucket of ``bucket_bounds`` is in ``buckets``, in order, even when empty (amount 0,
    lot_count 0), so a client can chart the result without filling gaps. ``total_outstanding`` is
    the sum of every input taken (never-expiring and whole-month rows, non-edge day rows of the
    day-resolved months, edge lots), kept apart from the parts so that the tests check the
    invariant rather than restate it.

    Raises ``ValidationFailed`` as ``bucket_bounds`` does.
    """
    bounds = bucket_bounds(window_from, window_to, granularity)
    start, end = _utc(window_from, "window_from"), _utc(window_to, "window_to")
    edges = frozenset(edge_days(start, end))
    resolved = day_resolved_months(start, end, granularity)
    first_day, last_day = start.date(), end.date()
    first_month, last_month = first_day.replace(day=1), last_day.replace(day=1)
    starts = [bucket_start for bucket_start, _ in bounds]
    amounts = [Decimal(0)] * len(bounds)
    counts = [0] * len(bounds)
    never = before = after = total = Decimal(0)

    def bucket_of(moment: datetime) -> int:
        # The window lies inside the buckets (first start <= from, to < last end), so a moment in
        # [from, to] has a bucket.
        return bisect.bisect_right(starts, moment) - 1

    def day_resolved(day: date) -> bool:
        return any(low <= day <= high for low, high in resolved)

    def place_whole(period: date, first: date, last: date, outstanding: Decimal, lot_count: int) -> None:
        """A whole month or day: before the window, after it, or wholly inside it and inside one
        bucket (a month strictly between the months of from and to only at month granularity,
        where it is one bucket; a day strictly between the edge days, since buckets are whole
        days, weeks or months)."""
        nonlocal total, before, after
        total += outstanding
        if period < first:
            before += outstanding
        elif period > last:
            after += outstanding
        else:
            index = bucket_of(_midnight(period))
            amounts[index] += outstanding
            counts[index] += lot_count

    with _exact():
        for month, outstanding, lot_count in month_rows:
            if month is None:
                total += outstanding
                never += outstanding
            elif not day_resolved(month.replace(day=1)):
                place_whole(month.replace(day=1), first_month, last_month, outstanding, lot_count)
        for day, outstanding, lot_count in day_rows:
            if day not in edges and day_resolved(day):
                place_whole(day, first_day, last_day, outstanding, lot_count)
        for expires_at, remaining in edge_lots:
            if remaining == 0:
                continue
            total += remaining
            moment = _utc(expires_at, "expires_at")
            if moment < start:
                before += remaining
            elif moment > end:
                after += remaining
            else:
                index = bucket_of(moment)
                amounts[index] += remaining
                counts[index] += 1
        buckets = [
            ScheduleBucket(bucket_start, bucket_end, amount, count)
            for (bucket_start, bucket_end), amount, count in zip(bounds, amounts, counts, strict=True)
        ]
    return AssetSchedule(
        asset_id=asset_id,
        total_outstanding=total,
        never_expiring=never,
        expiring_before_window=before,
        expiring_after_window=after,
        buckets=buckets,
    )
