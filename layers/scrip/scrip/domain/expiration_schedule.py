"""The arithmetic of the expiration schedule (04 §8.10): calendar-aligned UTC buckets over a
window, and where each part of an asset's outstanding LOT value falls in it.

The index the report reads (``storage/expiring_lots.py``) keeps outstanding per expiry UTC day
(day rows) and, per day, the outstanding lots themselves. A whole day other than the day of
``from`` and the day of ``to`` lies wholly inside the window or wholly outside it, so its row is
placed as one; the two edge days are read lot by lot and each lot placed by its instant. That
makes the placement exact at any ``from``/``to`` while reading at most two days' lots.

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
    day_rows: Iterable[tuple[date | None, Decimal, int]],
    edge_lots: Iterable[tuple[datetime, Decimal]],
) -> AssetSchedule:
    """Rows of the edge days are ignored (their lots are placed by instant instead); a lot expiring
    exactly at window_from or window_to is inside the window; a bucket counts only what lies inside
    the window. Invariant: sum(b.amount) + never + before + after == total, exactly.

    ``day_rows``: (expiry UTC day or None for lots without ``expires_at``, outstanding, lot_count)
    of this asset, any program; rows of one day may repeat (they are added). ``edge_lots``:
    (expires_at, remaining) of this asset's outstanding lots on ``edge_days()``; a lot with nothing
    remaining is left out of every count.

    Every bucket of ``bucket_bounds`` is in ``buckets``, in order, even when empty (amount 0,
    lot_count 0), so a client can chart the result without filling gaps. ``total_outstanding`` is
    the sum of every input taken (never-expiring rows, non-edge day rows, edge lots), kept apart
    from the parts so that the tests check the invariant rather than restate it.

    Raises ``ValidationFailed`` as ``bucket_bounds`` does.
    """
    bounds = bucket_bounds(window_from, window_to, granularity)
    start, end = _utc(window_from, "window_from"), _utc(window_to, "window_to")
    edges = frozenset(edge_days(start, end))
    first_day, last_day = start.date(), end.date()
    starts = [bucket_start for bucket_start, _ in bounds]
    amounts = [Decimal(0)] * len(bounds)
    counts = [0] * len(bounds)
    never = before = after = total = Decimal(0)

    def bucket_of(moment: datetime) -> int:
        # The window lies inside the buckets (first start <= from, to < last end), so a moment in
        # [from, to] has a bucket.
        return bisect.bisect_right(starts, moment) - 1

    with _exact():
        for day, outstanding, lot_count in day_rows:
            if day is not None and day in edges:
                continue
            total += outstanding
            if day is None:
                never += outstanding
            elif day < first_day:
                before += outstanding
            elif day > last_day:
                after += outstanding
            else:
                # Strictly between the edge days: the whole day is inside the window, and inside
                # one bucket, since buckets are whole days, weeks or months.
                index = bucket_of(_midnight(day))
                amounts[index] += outstanding
                counts[index] += lot_count
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
