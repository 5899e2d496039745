"""The expiration schedule's arithmetic (04 §8.10): calendar-aligned UTC buckets, and each part of
an asset's outstanding placed in a bucket, before the window, after it or never, from month rows
for whole months, day rows for whole days of the day-resolved months and lot by lot on the edge
days."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import MAX_PREC, Context, Decimal, Inexact, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrip.domain.errors import ValidationFailed
from scrip.domain.expiration_schedule import (
    MAX_BUCKETS,
    AssetSchedule,
    Granularity,
    ScheduleBucket,
    asset_schedule,
    bucket_bounds,
    bucket_count,
    day_resolved_months,
    edge_days,
)

D, W, M = Granularity.DAY, Granularity.WEEK, Granularity.MONTH
US = timedelta(microseconds=1)
# The tests' own sums must not round either (amounts reach 38 significant digits, the default
# context keeps 28): a rounded expectation would hide, or invent, a difference.
EXACT = Context(prec=MAX_PREC, traps=[Inexact])


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def starts(bounds: list[tuple[datetime, datetime]]) -> list[datetime]:
    return [start for start, _ in bounds]


def check_invariant(schedule: AssetSchedule) -> None:
    with localcontext(EXACT):
        parts = (
            sum((b.amount for b in schedule.buckets), Decimal(0))
            + schedule.never_expiring
            + schedule.expiring_before_window
            + schedule.expiring_after_window
        )
    assert parts == schedule.total_outstanding


# ------------------------------------------------------------------ bucket_bounds


def test_granularity_values_are_the_query_parameter_values() -> None:
    assert [g.value for g in Granularity] == ["day", "week", "month"]


def test_month_buckets_from_31_january_into_february_of_a_non_leap_year() -> None:
    assert bucket_bounds(at(2027, 1, 31, 12), at(2027, 2, 28, 23, 59), M) == [
        (at(2027, 1, 1), at(2027, 2, 1)),
        (at(2027, 2, 1), at(2027, 3, 1)),
    ]


def test_month_buckets_from_31_january_into_february_of_a_leap_year() -> None:
    assert bucket_bounds(at(2028, 1, 31), at(2028, 2, 29, 23, 59, 59, 999999), M) == [
        (at(2028, 1, 1), at(2028, 2, 1)),
        (at(2028, 2, 1), at(2028, 3, 1)),
    ]


def test_day_bucket_of_29_february_2028_ends_on_1_march() -> None:
    assert bucket_bounds(at(2028, 2, 28, 6), at(2028, 3, 1, 6), D) == [
        (at(2028, 2, 28), at(2028, 2, 29)),
        (at(2028, 2, 29), at(2028, 3, 1)),
        (at(2028, 3, 1), at(2028, 3, 2)),
    ]


def test_day_buckets_of_february_2027_skip_from_28_february_to_1_march() -> None:
    assert starts(bucket_bounds(at(2027, 2, 27), at(2027, 3, 1), D)) == [
        at(2027, 2, 27),
        at(2027, 2, 28),
        at(2027, 3, 1),
    ]


def test_month_buckets_from_december_into_january_change_the_year() -> None:
    assert bucket_bounds(at(2026, 12, 15), at(2027, 1, 10), M) == [
        (at(2026, 12, 1), at(2027, 1, 1)),
        (at(2027, 1, 1), at(2027, 2, 1)),
    ]


def test_week_buckets_start_monday_across_a_year_boundary() -> None:
    # 2026-12-30 is a Wednesday; its week starts Monday 28 December and runs into 2027.
    assert bucket_bounds(at(2026, 12, 30, 18), at(2027, 1, 5), W) == [
        (at(2026, 12, 28), at(2027, 1, 4)),
        (at(2027, 1, 4), at(2027, 1, 11)),
    ]


def test_week_buckets_across_a_month_boundary_are_not_cut_at_the_month() -> None:
    # 2027-03-31 is a Wednesday: its week holds the end of March and the start of April.
    assert bucket_bounds(at(2027, 3, 31), at(2027, 4, 2), W) == [(at(2027, 3, 29), at(2027, 4, 5))]


def test_week_bucket_of_a_sunday_starts_the_monday_before() -> None:
    assert bucket_bounds(at(2027, 1, 3, 23, 59), at(2027, 1, 3, 23, 59), W) == [(at(2026, 12, 28), at(2027, 1, 4))]


def test_from_mid_bucket_gets_the_bucket_holding_it() -> None:
    assert bucket_bounds(at(2027, 5, 17, 13, 45), at(2027, 6, 3), M)[0] == (at(2027, 5, 1), at(2027, 6, 1))
    assert bucket_bounds(at(2027, 5, 17, 13, 45), at(2027, 5, 18), D)[0] == (at(2027, 5, 17), at(2027, 5, 18))


@pytest.mark.parametrize(
    ("granularity", "to", "last"),
    [
        (D, at(2027, 3, 2), (at(2027, 3, 2), at(2027, 3, 3))),
        (W, at(2027, 3, 8), (at(2027, 3, 8), at(2027, 3, 15))),
        (M, at(2027, 4, 1), (at(2027, 4, 1), at(2027, 5, 1))),
    ],
)
def test_to_exactly_on_a_boundary_gets_the_bucket_starting_there(
    granularity: Granularity, to: datetime, last: tuple[datetime, datetime]
) -> None:
    bounds = bucket_bounds(at(2027, 3, 1, 12), to, granularity)
    assert bounds[-1] == last
    assert bounds[-2][1] == to


@pytest.mark.parametrize("granularity", list(Granularity))
def test_from_equal_to_is_one_bucket(granularity: Granularity) -> None:
    assert len(bucket_bounds(at(2027, 6, 9, 8), at(2027, 6, 9, 8), granularity)) == 1


def test_from_equal_to_on_a_boundary_is_the_bucket_starting_there() -> None:
    assert bucket_bounds(at(2027, 3, 1), at(2027, 3, 1), D) == [(at(2027, 3, 1), at(2027, 3, 2))]
    assert bucket_bounds(at(2027, 3, 1), at(2027, 3, 1), W) == [(at(2027, 3, 1), at(2027, 3, 8))]
    assert bucket_bounds(at(2027, 3, 1), at(2027, 3, 1), M) == [(at(2027, 3, 1), at(2027, 4, 1))]


def test_bounds_are_utc_whatever_offset_the_window_carries() -> None:
    # 00:30 on 1 March at +02:00 is 22:30 UTC on 28 February: the February bucket.
    plus_two = timezone(timedelta(hours=2))
    bounds = bucket_bounds(
        datetime(2027, 3, 1, 0, 30, tzinfo=plus_two), datetime(2027, 3, 1, 0, 30, tzinfo=plus_two), M
    )
    assert bounds == [(at(2027, 2, 1), at(2027, 3, 1))]
    assert bounds[0][0].tzinfo is UTC


def test_from_after_to_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        bucket_bounds(at(2027, 3, 2), at(2027, 3, 1, 23, 59), D)
    assert (caught.value.status, caught.value.code) == (400, "validation_error")
    assert caught.value.details is not None
    assert caught.value.details["reason"] == "invalid_range"
    assert caught.value.details["field"] == "from"


def test_from_one_microsecond_after_to_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        bucket_bounds(at(2027, 3, 1) + US, at(2027, 3, 1), M)


def test_max_buckets_covers_a_leap_year_of_days_from_1_january_to_1_january() -> None:
    assert len(bucket_bounds(at(2028, 1, 1), at(2029, 1, 1), D)) == 367 <= MAX_BUCKETS


@pytest.mark.parametrize(
    ("granularity", "step"),
    [(D, timedelta(days=1)), (W, timedelta(days=7))],
)
def test_max_buckets_is_allowed_and_one_more_is_a_validation_error(granularity: Granularity, step: timedelta) -> None:
    start = at(2027, 3, 1)  # a Monday
    assert len(bucket_bounds(start, start + step * (MAX_BUCKETS - 1), granularity)) == MAX_BUCKETS
    with pytest.raises(ValidationFailed) as caught:
        bucket_bounds(start, start + step * MAX_BUCKETS, granularity)
    assert caught.value.details is not None
    assert caught.value.details["reason"] == "too_many_buckets"
    assert caught.value.details["received"] == MAX_BUCKETS + 1


def test_max_buckets_of_months() -> None:
    assert len(bucket_bounds(at(2000, 1, 1), at(2000 + MAX_BUCKETS // 12, MAX_BUCKETS % 12, 1), M)) == MAX_BUCKETS
    with pytest.raises(ValidationFailed):
        bucket_bounds(at(2000, 1, 1), at(2000 + MAX_BUCKETS // 12, MAX_BUCKETS % 12 + 1, 1), M)


def test_an_enormous_window_is_refused_without_building_its_buckets() -> None:
    began = time.perf_counter()
    with pytest.raises(ValidationFailed):
        bucket_bounds(at(1, 1, 1), at(9999, 12, 30), D)
    assert time.perf_counter() - began < 0.05


@pytest.mark.parametrize(
    ("granularity", "to"),
    [(D, at(9999, 12, 31)), (W, at(9999, 12, 27)), (M, at(9999, 12, 1))],
)
def test_a_last_bucket_ending_after_year_9999_is_a_validation_error(granularity: Granularity, to: datetime) -> None:
    with pytest.raises(ValidationFailed) as caught:
        bucket_bounds(to, to, granularity)
    assert caught.value.details is not None
    assert (caught.value.details["field"], caught.value.details["reason"]) == ("to", "out_of_range")


def test_the_last_representable_buckets_and_the_first_day_of_the_calendar() -> None:
    assert bucket_bounds(at(9999, 12, 30), at(9999, 12, 30), D) == [(at(9999, 12, 30), at(9999, 12, 31))]
    assert bucket_bounds(at(9999, 11, 30), at(9999, 11, 30), M) == [(at(9999, 11, 1), at(9999, 12, 1))]
    # 0001-01-01 is a Monday: the first week starts on it, not before it.
    assert bucket_bounds(at(1, 1, 3), at(1, 1, 3), W) == [(at(1, 1, 1), at(1, 1, 8))]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_bounds(datetime(2027, 1, 1), at(2027, 1, 2), D)


granularities = st.sampled_from(list(Granularity))
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC))
# A span that stays within MAX_BUCKETS at the coarsest and goes beyond it at the finest.
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4000))


@given(instants, spans, granularities)
def test_bounds_tile_the_window_with_aligned_buckets(
    start: datetime, span: timedelta, granularity: Granularity
) -> None:
    end = start + span
    count = bucket_count(start, end, granularity)
    if count > MAX_BUCKETS:
        with pytest.raises(ValidationFailed):
            bucket_bounds(start, end, granularity)
        return
    bounds = bucket_bounds(start, end, granularity)
    assert len(bounds) == count
    assert bounds[0][0] <= start < bounds[0][1]
    assert bounds[-1][0] <= end < bounds[-1][1]
    for (_, previous_end), (next_start, _) in itertools.pairwise(bounds):
        assert previous_end == next_start
    for bucket_start, bucket_end in bounds:
        assert bucket_start.tzinfo is UTC
        assert bucket_start.time() == bucket_end.time() == datetime.min.time()
        if granularity is W:
            assert bucket_start.weekday() == 0
            assert bucket_end - bucket_start == timedelta(days=7)
        elif granularity is M:
            assert bucket_start.day == bucket_end.day == 1
            assert (bucket_end.year * 12 + bucket_end.month) - (bucket_start.year * 12 + bucket_start.month) == 1
        else:
            assert bucket_end - bucket_start == timedelta(days=1)


# ------------------------------------------------------------------ edge_days


def test_edge_days_are_the_utc_days_of_from_and_to() -> None:
    assert edge_days(at(2027, 1, 31, 23), at(2027, 3, 1, 0, 0, 1)) == [date(2027, 1, 31), date(2027, 3, 1)]


def test_edge_days_of_one_day_window_is_that_day_once() -> None:
    assert edge_days(at(2027, 1, 31), at(2027, 1, 31, 23, 59, 59, 999999)) == [date(2027, 1, 31)]


def test_edge_days_are_utc_days() -> None:
    minus_five = timezone(timedelta(hours=-5))
    # 21:00 on 31 January at -05:00 is 02:00 UTC on 1 February.
    assert edge_days(datetime(2027, 1, 31, 21, tzinfo=minus_five), at(2027, 2, 3)) == [
        date(2027, 2, 1),
        date(2027, 2, 3),
    ]


# ------------------------------------------------------------------ asset_schedule

FROM, TO = at(2027, 1, 15, 12), at(2027, 3, 10, 6)  # month buckets: January, February, March


def index_rows(
    rows: list[tuple[date | None, Decimal, int]], window: tuple[datetime, datetime], granularity: Granularity
) -> tuple[list[tuple[date | None, Decimal, int]], list[tuple[date, Decimal, int]]]:
    """Rows per expiry day (None: never) as the index holds and the service reads them: every
    day in its month's row, and the day rows of the day-resolved months."""
    resolved = day_resolved_months(window[0], window[1], granularity)
    months = [(day.replace(day=1) if day is not None else None, amount, count) for day, amount, count in rows]
    days = [
        (day, amount, count)
        for day, amount, count in rows
        if day is not None and any(low <= day <= high for low, high in resolved)
    ]
    return months, days


def schedule(
    rows: list[tuple[date | None, Decimal, int]] = [],  # noqa: B006 - never mutated
    lots: list[tuple[datetime, Decimal]] = [],  # noqa: B006 - never mutated
    granularity: Granularity = M,
    window: tuple[datetime, datetime] = (FROM, TO),
) -> AssetSchedule:
    months, days = index_rows(rows, window, granularity)
    result = asset_schedule("asset-1", window[0], window[1], granularity, months, days, lots)
    check_invariant(result)
    return result


def amounts(result: AssetSchedule) -> list[tuple[Decimal, int]]:
    return [(b.amount, b.lot_count) for b in result.buckets]


def test_nothing_outstanding_still_has_every_bucket_empty() -> None:
    result = schedule()
    assert result == AssetSchedule(
        asset_id="asset-1",
        total_outstanding=Decimal(0),
        never_expiring=Decimal(0),
        expiring_before_window=Decimal(0),
        expiring_after_window=Decimal(0),
        buckets=[
            ScheduleBucket(at(2027, 1, 1), at(2027, 2, 1), Decimal(0), 0),
            ScheduleBucket(at(2027, 2, 1), at(2027, 3, 1), Decimal(0), 0),
            ScheduleBucket(at(2027, 3, 1), at(2027, 4, 1), Decimal(0), 0),
        ],
    )


def test_whole_days_inside_the_window_go_to_their_bucket_with_their_lot_count() -> None:
    result = schedule(
        rows=[
            (date(2027, 1, 16), Decimal("10"), 2),
            (date(2027, 1, 31), Decimal("5.5"), 1),
            (date(2027, 3, 9), Decimal("7"), 3),
            (date(2027, 3, 9), Decimal("1"), 1),  # a second row of the same day (another program)
        ]
    )
    assert amounts(result) == [(Decimal("15.5"), 3), (Decimal(0), 0), (Decimal(8), 4)]
    assert result.total_outstanding == Decimal("23.5")


def test_never_expiring_rows_are_never_expiring() -> None:
    result = schedule(rows=[(None, Decimal(40), 4), (None, Decimal(2), 1)])
    assert result.never_expiring == Decimal(42)
    assert result.total_outstanding == Decimal(42)
    assert amounts(result) == [(Decimal(0), 0)] * 3


def test_whole_days_before_and_after_the_window() -> None:
    result = schedule(
        rows=[(date(2027, 1, 14), Decimal(3), 1), (date(2026, 6, 1), Decimal(4), 1), (date(2027, 3, 11), Decimal(9), 2)]
    )
    assert (result.expiring_before_window, result.expiring_after_window) == (Decimal(7), Decimal(9))
    assert amounts(result) == [(Decimal(0), 0)] * 3


def test_rows_of_the_edge_days_are_ignored() -> None:
    # The edge days' lots are placed one by one; their rows would count them twice.
    result = schedule(rows=[(date(2027, 1, 15), Decimal(100), 5), (date(2027, 3, 10), Decimal(200), 7)])
    assert result.total_outstanding == Decimal(0)
    assert amounts(result) == [(Decimal(0), 0)] * 3
    assert (result.expiring_before_window, result.expiring_after_window) == (Decimal(0), Decimal(0))


def test_a_lot_exactly_at_from_is_inside_and_one_microsecond_earlier_is_before() -> None:
    result = schedule(lots=[(FROM, Decimal(6)), (FROM - US, Decimal(1))])
    assert amounts(result)[0] == (Decimal(6), 1)
    assert result.expiring_before_window == Decimal(1)


def test_a_lot_exactly_at_to_is_inside_and_one_microsecond_later_is_after() -> None:
    result = schedule(lots=[(TO, Decimal(6)), (TO + US, Decimal(1))])
    assert amounts(result)[2] == (Decimal(6), 1)
    assert result.expiring_after_window == Decimal(1)


def test_a_bucket_holding_from_counts_only_what_lies_inside_the_window() -> None:
    # The January bucket starts on the 1st, the window on the 15th at noon: a lot of the 15th
    # in the morning, and whole days before the 15th, are before the window.
    result = schedule(
        rows=[(date(2027, 1, 3), Decimal(50), 1)],
        lots=[(at(2027, 1, 15, 11, 59), Decimal(5)), (at(2027, 1, 15, 12, 1), Decimal(2))],
    )
    assert amounts(result)[0] == (Decimal(2), 1)
    assert result.expiring_before_window == Decimal(55)


def test_a_bucket_holding_to_counts_only_what_lies_inside_the_window() -> None:
    result = schedule(
        rows=[(date(2027, 3, 20), Decimal(50), 1)],
        lots=[(at(2027, 3, 10, 6, 0, 1), Decimal(5)), (at(2027, 3, 10, 5), Decimal(2))],
    )
    assert amounts(result)[2] == (Decimal(2), 1)
    assert result.expiring_after_window == Decimal(55)


def test_a_lot_with_nothing_remaining_is_not_counted() -> None:
    result = schedule(lots=[(FROM, Decimal("0.00"))])
    assert amounts(result)[0] == (Decimal(0), 0)


def test_from_equal_to_places_only_lots_at_that_instant_inside() -> None:
    instant = at(2027, 2, 10, 9, 30)
    result = schedule(
        rows=[
            (date(2027, 2, 10), Decimal(999), 9),
            (date(2027, 2, 9), Decimal(1), 1),
            (date(2027, 2, 11), Decimal(2), 1),
        ],
        lots=[(instant, Decimal(3)), (instant - US, Decimal(4)), (instant + US, Decimal(5))],
        granularity=D,
        window=(instant, instant),
    )
    assert amounts(result) == [(Decimal(3), 1)]
    assert (result.expiring_before_window, result.expiring_after_window) == (Decimal(5), Decimal(7))
    assert result.total_outstanding == Decimal(15)


def test_day_granularity_puts_each_whole_day_in_its_own_bucket() -> None:
    result = schedule(
        rows=[(date(2027, 2, 28), Decimal(1), 1), (date(2027, 3, 1), Decimal(2), 1)],
        granularity=D,
        window=(at(2027, 2, 27, 12), at(2027, 3, 2, 12)),
    )
    assert amounts(result) == [(Decimal(0), 0), (Decimal(1), 1), (Decimal(2), 1), (Decimal(0), 0)]


def test_week_granularity_across_the_year_boundary() -> None:
    result = schedule(
        rows=[
            (date(2026, 12, 31), Decimal(1), 1),
            (date(2027, 1, 3), Decimal(2), 1),
            (date(2027, 1, 4), Decimal(4), 2),
        ],
        lots=[(at(2027, 1, 6, 23), Decimal(8))],
        granularity=W,
        window=(at(2026, 12, 29), at(2027, 1, 6, 23)),
    )
    assert [(b.start, b.amount, b.lot_count) for b in result.buckets] == [
        (at(2026, 12, 28), Decimal(3), 2),
        (at(2027, 1, 4), Decimal(12), 3),
    ]


def test_edge_lots_are_placed_by_instant_in_any_offset() -> None:
    plus_nine = timezone(timedelta(hours=9))
    # 08:00 on 10 March at +09:00 is 23:00 UTC on 9 March: inside the window and the March bucket.
    result = schedule(lots=[(datetime(2027, 3, 10, 8, tzinfo=plus_nine), Decimal(1))])
    assert amounts(result)[2] == (Decimal(1), 1)


def test_sums_are_exact_beyond_the_default_decimal_precision() -> None:
    # 38 significant digits (amounts.MAX_DIGITS): a default-context sum would round to 28.
    big = Decimal("12345678901234567890.123456789012345678")
    result = schedule(rows=[(date(2027, 2, 1), big, 1)] * 3, lots=[(FROM, Decimal("0.000000000000000001"))])
    assert amounts(result)[1][0] == Decimal("37037036703703703670.370370367037037034")
    assert result.total_outstanding == Decimal("37037036703703703670.370370367037037035")


def test_amounts_keep_their_scale() -> None:
    result = schedule(rows=[(date(2027, 2, 1), Decimal("1.50"), 1), (date(2027, 2, 2), Decimal("2.25"), 1)])
    assert str(amounts(result)[1][0]) == "3.75"


def test_an_invalid_window_is_the_bounds_validation_error() -> None:
    with pytest.raises(ValidationFailed):
        asset_schedule("asset-1", TO, FROM, M, [], [], [])


# ------------------------------------------------------------------ month rows and day-resolved months


def test_at_month_granularity_only_the_months_of_from_and_to_need_days() -> None:
    assert day_resolved_months(FROM, TO, M) == [
        (date(2027, 1, 1), date(2027, 1, 31)),
        (date(2027, 3, 1), date(2027, 3, 31)),
    ]


def test_at_month_granularity_adjacent_or_equal_months_are_one_range() -> None:
    assert day_resolved_months(at(2028, 1, 31), at(2028, 2, 3), M) == [(date(2028, 1, 1), date(2028, 2, 29))]
    assert day_resolved_months(at(2027, 2, 3), at(2027, 2, 9), M) == [(date(2027, 2, 1), date(2027, 2, 28))]


@pytest.mark.parametrize("granularity", [D, W])
def test_day_and_week_buckets_need_every_month_from_the_month_of_from_to_the_month_of_to(
    granularity: Granularity,
) -> None:
    assert day_resolved_months(at(2026, 12, 30, 18), at(2027, 3, 2), granularity) == [
        (date(2026, 12, 1), date(2027, 3, 31))
    ]


def test_the_last_month_of_the_calendar_ends_on_31_december_9999() -> None:
    assert day_resolved_months(at(9999, 12, 1), at(9999, 12, 30), D) == [(date(9999, 12, 1), date(9999, 12, 31))]


def test_month_rows_before_between_and_after_the_months_of_from_and_to_are_placed_whole() -> None:
    result = asset_schedule(
        "asset-1",
        FROM,
        TO,
        M,
        [
            (date(2026, 12, 1), Decimal(1), 1),
            (date(2027, 2, 1), Decimal(20), 3),
            (date(2027, 2, 1), Decimal(2), 1),  # another program's row of the same month
            (date(2027, 4, 1), Decimal(300), 2),
            (None, Decimal(4000), 5),
        ],
        [],
        [],
    )
    check_invariant(result)
    assert amounts(result) == [(Decimal(0), 0), (Decimal(22), 4), (Decimal(0), 0)]
    assert (result.expiring_before_window, result.expiring_after_window) == (Decimal(1), Decimal(300))
    assert (result.never_expiring, result.total_outstanding) == (Decimal(4000), Decimal(4323))


def test_month_rows_of_day_resolved_months_are_replaced_by_their_days() -> None:
    # January and March are read by day: their month rows would count their days twice.
    result = asset_schedule(
        "asset-1",
        FROM,
        TO,
        M,
        [(date(2027, 1, 1), Decimal(100), 9), (date(2027, 3, 1), Decimal(100), 9)],
        [(date(2027, 1, 20), Decimal(5), 1), (date(2027, 3, 2), Decimal(7), 2)],
        [],
    )
    check_invariant(result)
    assert amounts(result) == [(Decimal(5), 1), (Decimal(0), 0), (Decimal(7), 2)]
    assert result.total_outstanding == Decimal(12)


def test_day_rows_outside_the_day_resolved_months_are_left_to_their_month_rows() -> None:
    result = asset_schedule(
        "asset-1", FROM, TO, M, [(date(2027, 2, 1), Decimal(3), 1)], [(date(2027, 2, 10), Decimal(3), 1)], []
    )
    check_invariant(result)
    assert amounts(result) == [(Decimal(0), 0), (Decimal(3), 1), (Decimal(0), 0)]
    assert result.total_outstanding == Decimal(3)


@pytest.mark.parametrize("granularity", [D, W])
def test_at_day_and_week_granularity_month_rows_inside_the_window_are_never_placed_whole(
    granularity: Granularity,
) -> None:
    # February lies inside the window but cuts across day and week buckets: only its days count.
    result = asset_schedule(
        "asset-1",
        at(2027, 1, 25),
        at(2027, 3, 3),
        granularity,
        [(date(2027, 2, 1), Decimal(50), 5)],
        [(date(2027, 2, 10), Decimal(6), 1)],
        [],
    )
    check_invariant(result)
    assert result.total_outstanding == Decimal(6)
    (placed,) = [b for b in result.buckets if b.amount]
    assert placed.start <= at(2027, 2, 10) < placed.end


# ------------------------------------------------------------------ against a lot-by-lot model


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime, datetime, Granularity]:
    granularity = draw(granularities)
    days = {D: 60, W: 400, M: 1500}[granularity]
    start = draw(instants)
    end = start + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=days)))
    return start, end, granularity


@st.composite
def lots_near(draw: st.DrawFn, start: datetime, end: datetime) -> list[tuple[datetime | None, Decimal]]:
    """Lots around the window: never expiring, exactly at or a microsecond from either end, on the
    edge days, anywhere in or near the window."""
    span_us = int((end - start) / US)
    margin_us = int(timedelta(days=40) / US)
    moment = st.one_of(
        st.none(),
        st.sampled_from([start, end, start - US, end + US, start + US, end - US]),
        st.integers(-margin_us, span_us + margin_us).map(lambda offset: start + offset * US),
        st.integers(-86_400_000_000, 86_400_000_000).map(lambda offset: start + offset * US),
        st.integers(-86_400_000_000, 86_400_000_000).map(lambda offset: end + offset * US),
    )
    remaining = st.decimals(min_value=0, max_value=10**24, places=6, allow_nan=False, allow_infinity=False)
    return draw(st.lists(st.tuples(moment, remaining), max_size=40))


@given(st.data())
def test_the_schedule_from_day_rows_and_edge_lots_equals_placing_every_lot_by_instant(data: st.DataObject) -> None:
    start, end, granularity = data.draw(windows())
    lots = data.draw(lots_near(start, end))

    with localcontext(EXACT):
        check_against_model(start, end, granularity, lots)


def check_against_model(
    start: datetime, end: datetime, granularity: Granularity, lots: list[tuple[datetime | None, Decimal]]
) -> None:
    # The index as storage keeps it: outstanding and lot count per expiry month (and never) and
    # per expiry day, lots of the edge days; read as the service reads it: every month row, the
    # day rows of the day-resolved months, the edge days' lots.
    months: dict[date | None, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    days: dict[date, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    for expires_at, remaining in lots:
        month = None if expires_at is None else expires_at.date().replace(day=1)
        amount, count = months[month]
        months[month] = (amount + remaining, count + (remaining > 0))
        if expires_at is not None:
            amount, count = days[expires_at.date()]
            days[expires_at.date()] = (amount + remaining, count + (remaining > 0))
    resolved = day_resolved_months(start, end, granularity)
    day_rows = [(d, a, c) for d, (a, c) in days.items() if any(low <= d <= high for low, high in resolved)]
    edges = edge_days(start, end)
    edge_lots = [(e, r) for e, r in lots if e is not None and e.date() in edges]
    result = asset_schedule(
        "a", start, end, granularity, [(m, a, c) for m, (a, c) in months.items()], day_rows, edge_lots
    )

    # The truth: every lot placed by its own instant.
    bounds = bucket_bounds(start, end, granularity)
    expected_amounts = [Decimal(0)] * len(bounds)
    expected_counts = [0] * len(bounds)
    never = before = after = Decimal(0)
    for expires_at, remaining in lots:
        if expires_at is None:
            never += remaining
        elif expires_at < start:
            before += remaining
        elif expires_at > end:
            after += remaining
        else:
            (index,) = [i for i, (s, e) in enumerate(bounds) if s <= expires_at < e]
            expected_amounts[index] += remaining
            expected_counts[index] += remaining > 0
    assert [(b.start, b.end) for b in result.buckets] == bounds
    assert [b.amount for b in result.buckets] == expected_amounts
    assert [b.lot_count for b in result.buckets] == expected_counts
    assert (result.never_expiring, result.expiring_before_window, result.expiring_after_window) == (
        never,
        before,
        after,
    )
    assert result.total_outstanding == sum((r for _, r in lots), Decimal(0))
    check_invariant(result)


amounts_drawn = st.decimals(min_value=0, max_value=10**30, places=8, allow_nan=False, allow_infinity=False)
dates_drawn = st.dates(min_value=date(2019, 1, 1), max_value=date(2046, 12, 31))


@given(
    windows(),
    st.lists(st.tuples(st.one_of(st.none(), dates_drawn), amounts_drawn, st.integers(0, 50)), max_size=30),
    st.lists(st.tuples(dates_drawn, amounts_drawn, st.integers(0, 50)), max_size=60),
    st.lists(st.tuples(instants, amounts_drawn), max_size=20),
)
def test_invariant_holds_for_any_rows_and_lots(
    window: tuple[datetime, datetime, Granularity],
    month_rows: list[tuple[date | None, Decimal, int]],
    day_rows: list[tuple[date, Decimal, int]],
    lots: list[tuple[datetime, Decimal]],
) -> None:
    start, end, granularity = window
    result = asset_schedule("a", start, end, granularity, month_rows, day_rows, lots)
    check_invariant(result)
    assert len(result.buckets) == bucket_count(start, end, granularity)
    edges = set(edge_days(start, end))
    resolved = day_resolved_months(start, end, granularity)

    def day_resolved(day: date) -> bool:
        return any(low <= day <= high for low, high in resolved)

    with localcontext(EXACT):
        taken = (
            sum((a for m, a, _ in month_rows if m is None or not day_resolved(m.replace(day=1))), Decimal(0))
            + sum((a for d, a, _ in day_rows if d not in edges and day_resolved(d)), Decimal(0))
            + sum((r for _, r in lots), Decimal(0))
        )
    assert result.total_outstanding == taken
