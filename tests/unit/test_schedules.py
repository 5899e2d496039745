"""The schedule arithmetic of automations (06 §1.5, §1.8, §1.9) without storage or a clock: the
cron grammar and its refusals, time zones, daylight-saving edges, missed runs, and the four
participant_state schedule configs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import schedules as s
from scrip.domain.errors import ValidationFailed

BERLIN = s.parse_zone("Europe/Berlin")
CHICAGO = s.parse_zone("America/Chicago")
UTC_ZONE = s.parse_zone("UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression: str, zone: Any, after: datetime, count: int) -> list[datetime]:
    schedule, moments = s.parse_cron(expression), []
    for _ in range(count):
        after = schedule.next_fire(zone, after)
        moments.append(after)
    return moments


def refusal(call: Any) -> s.ScheduleError:
    with pytest.raises(s.ScheduleError) as raised:
        call()
    return raised.value


# --- cron grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minute_field", "minutes"),
    [
        ("*", tuple(range(60))),
        ("5", (5,)),
        ("10-13", (10, 11, 12, 13)),
        ("1,15,30", (1, 15, 30)),
        ("*/15", (0, 15, 30, 45)),
        ("10-50/20", (10, 30, 50)),
        ("0-4,*/30,58-59", (0, 1, 2, 3, 4, 30, 58, 59)),
        ("007", (7,)),
    ],
)
def test_every_documented_item_form_is_accepted(minute_field: str, minutes: tuple[int, ...]) -> None:
    assert s.parse_cron(f"{minute_field} 9 * * *").minutes == minutes


def test_day_of_week_seven_is_sunday_like_zero() -> None:
    assert s.parse_cron("0 9 * * 7").days_of_week == s.parse_cron("0 9 * * 0").days_of_week == {0}
    assert s.parse_cron("0 9 * * 5-7").days_of_week == {5, 6, 0}
    assert s.parse_cron("0 9 * * */2").days_of_week == {0, 2, 4, 6}


def test_blanks_between_fields_may_be_several_spaces_or_tabs() -> None:
    assert s.parse_cron(" 0  9\t* * 1 ").days_of_week == {1}


@pytest.mark.parametrize(
    ("expression", "cron_field", "position", "says"),
    [
        ("", None, 1, "is empty"),
        ("* * * *", "day_of_week", 8, "has 4 fields"),
        ("0 0 9 * * 1", None, 11, "seconds and year fields"),
        ("0 9 * * 1 2027", None, 11, "seconds and year fields"),
        ("@daily", None, 1, "macros"),
        ("0 9 * * * @weekly", None, 11, "macros"),
        ("CRON_TZ=Europe/Berlin 0 9 * * *", None, 1, "inline time zones"),
        ("TZ=UTC 0 9 * * *", None, 1, "inline time zones"),
        ("60 * * * *", "minute", 1, "value 60 is outside 0-59"),
        ("0 24 * * *", "hour", 3, "value 24 is outside 0-23"),
        ("0 9 0 * *", "day_of_month", 5, "value 0 is outside 1-31"),
        ("0 9 1 13 *", "month", 7, "value 13 is outside 1-12"),
        ("0 9 * * 8", "day_of_week", 9, "value 8 is outside 0-7"),
        ("0 9 * * 1-9", "day_of_week", 11, "value 9 is outside 0-7"),
        ("0 9 * * MON", "day_of_week", 9, "names are not supported"),
        ("0 9 * JAN *", "month", 7, "names are not supported"),
        ("0 9 ? * 1", "day_of_month", 5, "unexpected character '?'"),
        ("0 9 L * *", "day_of_month", 5, "unexpected character 'L'"),
        ("0 9 * * 1#2", "day_of_week", 10, "unexpected character '#'"),
        ("H 9 * * *", "minute", 1, "unexpected character 'H'"),
        ("5/10 * * * *", "minute", 2, "a step needs * or a range"),
        ("*/0 * * * *", "minute", 3, "step 0 is outside 1-59"),
        ("*/60 * * * *", "minute", 3, "step 60 is outside 1-59"),
        ("0 9-17/0 * * *", "hour", 8, "step 0"),
        ("30-10 * * * *", "minute", 1, "runs backwards"),
        ("1,,2 * * * *", "minute", 3, "empty list item"),
        ("1, * * * *", "minute", 3, "empty list item"),
        ("1-2-3 * * * *", "minute", 1, "malformed item"),
        ("** * * * *", "minute", 1, "malformed item"),
        ("0 9 30 2 *", "day_of_month", 5, "never fire"),
        ("0 9 31 4,6,9,11 *", "day_of_month", 5, "never fire"),
    ],
)
def test_a_refused_expression_names_its_field_and_position(
    expression: str, cron_field: str | None, position: int, says: str
) -> None:
    error = refusal(lambda: s.parse_cron(expression, field="trigger.cron_expression"))

    assert says in error.message
    assert (error.field, error.cron_field, error.position) == ("trigger.cron_expression", cron_field, position)
    assert error.details is not None
    assert error.details["field"] == "trigger.cron_expression"
    assert error.details["position"] == position
    assert error.details.get("cron_field") == cron_field


def test_a_schedule_error_is_a_400_validation_error() -> None:
    error = refusal(lambda: s.parse_cron("61 * * * *"))

    assert isinstance(error, ValidationFailed)
    assert (error.status, error.code) == (400, "validation_error")


@pytest.mark.parametrize("expression", [None, 5, ["0", "9", "*", "*", "*"]])
def test_a_cron_expression_that_is_not_a_string_is_refused(expression: object) -> None:
    assert refusal(lambda: s.parse_cron(expression)).field == "cron_expression"


def test_an_overlong_expression_is_refused_before_it_is_parsed() -> None:
    error = refusal(lambda: s.parse_cron("0 " * 200))

    assert "longer than 255" in error.message


def test_29_february_alone_is_accepted_and_fires_only_in_leap_years() -> None:
    assert fires("0 0 29 2 *", UTC_ZONE, utc(2026, 1, 1), 3) == [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]


def test_the_4_year_gap_of_2100_is_within_the_search() -> None:
    assert fires("0 0 29 2 *", UTC_ZONE, utc(2096, 3, 1), 1) == [utc(2104, 2, 29)]


def test_an_impossible_day_of_month_with_a_weekday_fires_on_the_weekday() -> None:
    # Both day fields restrict: either matches, so the expression is not "never".
    assert fires("0 9 30 2 1", UTC_ZONE, utc(2026, 1, 31), 2) == [utc(2026, 2, 2, 9), utc(2026, 2, 9, 9)]


# --- day-of-month and day-of-week --------------------------------------------------------------


def test_both_day_fields_restricting_fire_on_either_one() -> None:
    # The 13th and every Friday of January 2026 (2, 9, 16, 23, 30).
    assert fires("0 9 13 * 5", UTC_ZONE, utc(2026, 1, 1), 6) == [
        utc(2026, 1, 2, 9),
        utc(2026, 1, 9, 9),
        utc(2026, 1, 13, 9),
        utc(2026, 1, 16, 9),
        utc(2026, 1, 23, 9),
        utc(2026, 1, 30, 9),
    ]


@pytest.mark.parametrize("every_day", ["1-31", "*/1", "*"])
def test_a_day_of_month_allowing_every_day_leaves_the_weekday_alone_to_decide(every_day: str) -> None:
    assert fires(f"0 9 {every_day} * 1", UTC_ZONE, utc(2026, 1, 1), 2) == [utc(2026, 1, 5, 9), utc(2026, 1, 12, 9)]


@pytest.mark.parametrize("every_weekday", ["0-6", "0-7", "*"])
def test_a_day_of_week_allowing_every_day_leaves_the_month_day_alone_to_decide(every_weekday: str) -> None:
    assert fires(f"0 9 1 * {every_weekday}", UTC_ZONE, utc(2026, 1, 1, 10), 1) == [utc(2026, 2, 1, 9)]


def test_a_stepped_day_of_month_is_a_restriction_so_either_day_field_fires() -> None:
    # Vixie cron would read */15 as "*" and fire only on the Mondays among 1, 16, 31.
    assert fires("0 9 */15 * 1", UTC_ZONE, utc(2026, 1, 1, 10), 4) == [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 12, 9),
        utc(2026, 1, 16, 9),
        utc(2026, 1, 19, 9),
    ]


def test_months_not_in_the_expression_are_skipped() -> None:
    assert fires("0 9 1 3,9 *", UTC_ZONE, utc(2026, 3, 1, 10), 2) == [utc(2026, 9, 1, 9), utc(2027, 3, 1, 9)]


# --- time zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "localtime", "europe/berlin", "", "CET+1", "/etc/localtime", 5])
def test_an_unknown_time_zone_is_refused(name: object) -> None:
    error = refusal(lambda: s.parse_zone(name, field="trigger.timezone"))

    assert error.field == "trigger.timezone"
    assert "IANA time zone" in error.message


def test_no_time_zone_means_utc() -> None:
    assert s.parse_zone(None).key == "UTC"


def test_next_fire_takes_names_and_refuses_an_unknown_zone() -> None:
    assert s.next_fire("0 9 * * *", "Asia/Tokyo", utc(2026, 1, 1)) == utc(2026, 1, 2, 0)
    assert refusal(lambda: s.next_fire("0 9 * * *", "Asia/Atlantis", utc(2026, 1, 1))).field == "timezone"


def test_a_naive_datetime_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        s.parse_cron("0 9 * * *").next_fire(BERLIN, datetime(2026, 1, 1))


def test_the_next_fire_is_strictly_after_the_moment_given() -> None:
    schedule = s.parse_cron("0 9 * * *")

    assert schedule.next_fire(UTC_ZONE, utc(2026, 1, 1, 9)) == utc(2026, 1, 2, 9)
    assert schedule.next_fire(UTC_ZONE, utc(2026, 1, 1, 8, 59, 59)) == utc(2026, 1, 1, 9)


# --- daylight saving -----------------------------------------------------------------------------


def test_daily_9am_berlin_across_the_march_change() -> None:
    # Saturday 28 March 2026 is CET (+01:00), Sunday 29 March CEST (+02:00).
    assert fires("0 9 * * *", BERLIN, utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
    ]


def test_daily_9am_berlin_across_the_october_change() -> None:
    # Saturday 24 October 2026 is CEST, Sunday 25 October CET.
    assert fires("0 9 * * *", BERLIN, utc(2026, 10, 23, 12), 3) == [
        utc(2026, 10, 24, 7),
        utc(2026, 10, 25, 8),
        utc(2026, 10, 26, 8),
    ]


def test_a_0230_job_on_the_spring_forward_day_fires_when_the_gap_ends() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin: clocks go from 02:00 CET to 03:00 CEST (01:00Z).
    assert fires("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), 2) == [utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_a_0230_job_on_the_fall_back_day_fires_once_at_the_first_occurrence() -> None:
    # 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET) on 25 October 2026.
    assert fires("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), 2) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_after_the_first_0230_the_repeated_0230_does_not_fire() -> None:
    schedule = s.parse_cron("30 2 * * *")

    assert schedule.next_fire(BERLIN, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)
    assert schedule.next_fire(BERLIN, utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 26, 1, 30)


def test_half_hourly_fires_46_times_on_the_spring_day_and_48_on_the_fall_day() -> None:
    schedule = s.parse_cron("*/30 * * * *")

    def count_on(day: date) -> int:
        start = datetime.combine(day, time(0), BERLIN).astimezone(UTC) - timedelta(seconds=1)
        end = datetime.combine(day + timedelta(days=1), time(0), BERLIN).astimezone(UTC)
        moment, count = start, 0
        while (moment := schedule.next_fire(BERLIN, moment)) < end:
            count += 1
        return count

    assert count_on(date(2026, 3, 29)) == 46  # 02:00 and 02:30 missing, both folded into 03:00
    assert count_on(date(2026, 10, 25)) == 48  # 02:00 and 02:30 fire once each


def test_chicago_mondays_keep_9am_across_both_changes() -> None:
    # DST starts Sunday 8 March 2026 and ends Sunday 1 November 2026 in Chicago.
    assert fires("0 9 * * 1", CHICAGO, utc(2026, 3, 1), 2) == [utc(2026, 3, 2, 15), utc(2026, 3, 9, 14)]
    assert fires("0 9 * * 1", CHICAGO, utc(2026, 10, 25), 2) == [utc(2026, 10, 26, 14), utc(2026, 11, 2, 15)]


def test_a_missing_day_fires_its_times_once_when_the_day_is_over() -> None:
    # Samoa skipped 30 December 2011: 29 December 23:59:59 (-10:00) was followed by 31 December 00:00 (+14:00).
    apia = s.parse_zone("Pacific/Apia")
    gap_end = datetime(2011, 12, 31, tzinfo=apia).astimezone(UTC)

    assert fires("0 12 * * *", apia, datetime(2011, 12, 29, 13, tzinfo=apia), 2) == [
        gap_end,
        datetime(2011, 12, 31, 12, tzinfo=apia).astimezone(UTC),
    ]


def test_resolving_a_wall_time_maps_gaps_forward_and_repeats_to_the_first_pass() -> None:
    assert s.resolve_wall_time(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert s.resolve_wall_time(datetime(2026, 3, 29, 2, 59, 59), BERLIN) == utc(2026, 3, 29, 1)
    assert s.resolve_wall_time(datetime(2026, 3, 29, 3, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert s.resolve_wall_time(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert s.resolve_wall_time(datetime(2026, 10, 25, 3, 0), BERLIN) == utc(2026, 10, 25, 2)


# --- missed runs (§1.9) --------------------------------------------------------------------------

DAILY_9 = s.parse_cron("0 9 * * *")


def test_a_schedule_not_yet_due_does_not_fire() -> None:
    assert DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 1, 8, 59)) is None


def test_a_due_schedule_fires_its_slot_and_moves_to_the_next() -> None:
    tick = DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 1, 9, 0, 30))

    assert tick == s.CatchUp(fire_at=utc(2026, 5, 1, 9), next_run_at=utc(2026, 5, 2, 9), collapsed=False)


def test_runs_missed_during_downtime_fire_once() -> None:
    # Down from 1 May 08:00 until 4 May 12:00: the 1, 2, 3 and 4 May slots are one fire.
    tick = DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 4, 12))

    assert tick == s.CatchUp(fire_at=utc(2026, 5, 1, 9), next_run_at=utc(2026, 5, 5, 9), collapsed=True)


def test_a_retried_tick_names_the_same_fire_instant() -> None:
    # A crash after the events and before next_run_at is saved: the retry, later, fires the
    # stored instant again, so the idempotency key of §1.9 is the same.
    first = DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 1, 9, 1))
    retry = DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 2, 9, 30))

    assert first is not None and retry is not None
    assert first.fire_at == retry.fire_at == utc(2026, 5, 1, 9)


def test_a_tick_exactly_on_a_later_slot_moves_past_it() -> None:
    tick = DAILY_9.catch_up(UTC_ZONE, utc(2026, 5, 1, 9), utc(2026, 5, 2, 9))

    assert tick is not None and tick.next_run_at == utc(2026, 5, 3, 9) and tick.collapsed


def test_catch_up_of_a_schedule_without_a_further_occurrence() -> None:
    tick = s.catch_up(utc(2026, 5, 1), utc(2026, 5, 2), lambda moment: None)

    assert tick == s.CatchUp(fire_at=utc(2026, 5, 1), next_run_at=None, collapsed=False)


# --- participant_state: ATTRIBUTE_DATE -----------------------------------------------------------


def birthday(**overrides: Any) -> s.AttributeDateConfig:
    config = s.parse_schedule_config("ATTRIBUTE_DATE", {"attribute": "birthday", **overrides})
    assert isinstance(config, s.AttributeDateConfig)
    return config


def test_attribute_date_defaults_are_yearly_no_offset_at_midnight() -> None:
    assert birthday().as_dict() == {
        "attribute": "birthday",
        "recurrence": "yearly",
        "offset_days": 0,
        "time_of_day": "00:00",
    }
    assert birthday(recurrence="once", offset_days=-3, time_of_day="09:30").as_dict() == {
        "attribute": "birthday",
        "recurrence": "once",
        "offset_days": -3,
        "time_of_day": "09:30",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1990-05-17", date(1990, 5, 17)),
        ("1990-05-17T23:30:00-05:00", date(1990, 5, 17)),  # the date as written, not in UTC
        ("1965-05-17T00:00:00Z", date(1965, 5, 17)),  # before 1970
        ("2000-02-29T08:00:00.123+01:00", date(2000, 2, 29)),
        ("2023-02-30", None),
        ("17/05/1990", None),
        ("1990-05-17T25:00:00Z", None),
        ("1990-05-17T10:00:00", None),  # no offset
        ("1990-5-17", None),
        (19900517, None),
        (None, None),
    ],
)
def test_an_attribute_value_is_a_date_or_an_rfc3339_timestamp(value: object, expected: date | None) -> None:
    assert s.attribute_date(value) == expected


def test_a_yearly_birthday_fires_at_the_time_of_day_in_the_zone() -> None:
    config = birthday(time_of_day="09:00")

    assert config.next_trigger(date(1990, 5, 17), BERLIN, utc(2026, 1, 1)) == utc(2026, 5, 17, 7)
    assert config.next_trigger(date(1990, 5, 17), BERLIN, utc(2026, 5, 17, 7)) == utc(2027, 5, 17, 7)


def test_a_29_february_birthday_fires_on_28_february_in_non_leap_years() -> None:
    config = birthday(time_of_day="09:00")
    born = date(2000, 2, 29)

    assert config.next_trigger(born, UTC_ZONE, utc(2026, 1, 1)) == utc(2026, 2, 28, 9)
    assert config.next_trigger(born, UTC_ZONE, utc(2027, 3, 1)) == utc(2028, 2, 29, 9)


def test_a_negative_offset_crosses_back_into_the_previous_year() -> None:
    # Seven days before a 3 January birthday is 27 December of the year before.
    config = birthday(offset_days=-7, time_of_day="10:00")

    assert config.next_trigger(date(1990, 1, 3), UTC_ZONE, utc(2026, 12, 1)) == utc(2026, 12, 27, 10)
    assert config.next_trigger(date(1990, 1, 3), UTC_ZONE, utc(2026, 12, 27, 10)) == utc(2027, 12, 27, 10)


def test_a_positive_offset_fires_after_the_anniversary() -> None:
    config = birthday(offset_days=30)

    assert config.next_trigger(date(1990, 12, 15), UTC_ZONE, utc(2026, 12, 20)) == utc(2027, 1, 14)


def test_a_yearly_date_does_not_fire_on_the_date_itself() -> None:
    # A signup anniversary: the first occurrence is one year after signing up, not signup day.
    config = s.parse_schedule_config("ATTRIBUTE_DATE", {"attribute": "signed_up_at", "time_of_day": "18:00"})
    assert isinstance(config, s.AttributeDateConfig)

    assert config.next_trigger(date(2026, 6, 1), UTC_ZONE, utc(2026, 6, 1, 9)) == utc(2027, 6, 1, 18)


def test_a_once_date_fires_if_still_ahead_and_never_again() -> None:
    config = birthday(recurrence="once", offset_days=30, time_of_day="09:00")

    assert config.next_trigger(date(2026, 6, 1), UTC_ZONE, utc(2026, 6, 1, 12)) == utc(2026, 7, 1, 9)
    assert config.next_trigger(date(2026, 6, 1), UTC_ZONE, utc(2026, 7, 1, 9)) is None
    fired_once = s.next_subscription_trigger(
        config,
        UTC_ZONE,
        utc(2026, 6, 2),
        subscribed_at=utc(2026, 6, 1),
        trigger_count=1,
        attributes={"birthday": "2026-06-01"},
    )
    assert fired_once is None


def test_a_birthday_time_inside_the_spring_gap_fires_when_the_gap_ends() -> None:
    config = birthday(time_of_day="02:30")

    assert config.next_trigger(date(1990, 3, 29), BERLIN, utc(2026, 1, 1)) == utc(2026, 3, 29, 1)


def test_a_subscription_without_a_readable_date_has_no_trigger() -> None:
    for attributes in ({}, {"birthday": "soon"}, {"birthday": 17}):
        trigger = s.next_subscription_trigger(
            birthday(), UTC_ZONE, utc(2026, 1, 1), subscribed_at=utc(2026, 1, 1), trigger_count=0, attributes=attributes
        )
        assert trigger is None


def test_the_subscription_trigger_reads_the_participants_attribute() -> None:
    trigger = s.next_subscription_trigger(
        birthday(time_of_day="09:00"),
        CHICAGO,
        utc(2026, 1, 1),
        subscribed_at=utc(2026, 1, 1),
        trigger_count=0,
        attributes={"birthday": "1985-07-04"},
    )

    assert trigger == utc(2026, 7, 4, 14)


# --- participant_state: INTERVAL ---------------------------------------------------------------


def interval(**config: Any) -> s.IntervalConfig:
    parsed = s.parse_schedule_config("INTERVAL", config)
    assert isinstance(parsed, s.IntervalConfig)
    return parsed


def test_an_hourly_interval_counts_elapsed_time_from_the_subscription() -> None:
    config, start = interval(every=12, unit="hours"), utc(2026, 3, 28, 21)

    assert config.next_trigger(start, BERLIN, start, trigger_count=0) == utc(2026, 3, 29, 9)
    assert config.next_trigger(start, BERLIN, utc(2026, 3, 29, 9), trigger_count=1) == utc(2026, 3, 29, 21)


def test_a_daily_interval_keeps_the_wall_clock_time_across_daylight_saving() -> None:
    # Subscribed Saturday 28 March 09:00 CET: the next day is 09:00 CEST, 23 hours later.
    config, start = interval(every=1, unit="days"), utc(2026, 3, 28, 8)

    assert config.next_trigger(start, BERLIN, start, trigger_count=0) == utc(2026, 3, 29, 7)


def test_a_weekly_interval_and_missed_occurrences_collapse_into_one() -> None:
    config, start = interval(every=2, unit="weeks"), utc(2026, 1, 5, 9)

    assert config.next_trigger(start, UTC_ZONE, start, trigger_count=0) == utc(2026, 1, 19, 9)
    # Down from 19 January to 10 February: the 2 February occurrence is not fired late.
    assert config.next_trigger(start, UTC_ZONE, utc(2026, 2, 10), trigger_count=1) == utc(2026, 2, 16, 9)


def test_an_interval_stops_after_max_triggers() -> None:
    config, start = interval(every=1, unit="days", max_triggers=3), utc(2026, 1, 1)

    assert config.next_trigger(start, UTC_ZONE, utc(2026, 1, 3), trigger_count=2) == utc(2026, 1, 4)
    assert config.next_trigger(start, UTC_ZONE, utc(2026, 1, 4), trigger_count=3) is None


def test_interval_config_as_stored() -> None:
    assert interval(every=30, unit="days").as_dict() == {"every": 30, "unit": "days", "max_triggers": None}
    assert interval(every=30.0, unit="days").every == 30


# --- participant_state: CRON and THRESHOLD -------------------------------------------------------


def test_a_participant_cron_uses_the_automations_zone() -> None:
    config = s.parse_schedule_config("CRON", {"cron_expression": "0 9 1 * *"})
    assert isinstance(config, s.CronConfig)

    assert config.as_dict() == {"cron_expression": "0 9 1 * *"}
    trigger = s.next_subscription_trigger(
        config, BERLIN, utc(2026, 3, 15), subscribed_at=utc(2026, 3, 1), trigger_count=0, attributes={}
    )
    assert trigger == utc(2026, 4, 1, 7)


def test_a_bad_participant_cron_names_its_place_in_schedule_config() -> None:
    error = refusal(lambda: s.parse_schedule_config("CRON", {"cron_expression": "0 9 * * MON"}))

    assert (error.field, error.cron_field, error.position) == ("schedule_config.cron_expression", "day_of_week", 9)


def threshold(operator: str = ">=", value: Any = 10) -> s.ThresholdConfig:
    config = s.parse_schedule_config(
        "THRESHOLD", {"counter": "purchase_count", "operator": operator, "threshold": value}
    )
    assert isinstance(config, s.ThresholdConfig)
    return config


@pytest.mark.parametrize(
    ("operator", "before", "after", "crossed"),
    [
        (">=", 9, 10, True),
        (">=", None, 12, True),  # a missing counter reads 0
        (">=", 10, 11, False),  # already satisfied: no second fire
        (">=", 12, 9, False),
        (">", 10, 11, True),
        (">", 9, 10, False),
        ("==", 9, 10, True),
        ("==", 10, 11, False),
        ("<=", 11, 10, True),
        ("<", 10, 9, True),
        ("<", None, 3, False),  # 0 < 10 held already
    ],
)
def test_a_threshold_fires_when_the_counter_starts_to_satisfy_it(
    operator: str, before: int | None, after: int | None, crossed: bool
) -> None:
    assert threshold(operator).crossed(before, after) is crossed


def test_a_threshold_has_no_timed_trigger_and_compares_decimals() -> None:
    config = threshold(value=2.5)

    assert config.threshold == Decimal("2.5")
    assert config.crossed(Decimal("2.4"), Decimal("2.5"))
    assert config.as_dict() == {"counter": "purchase_count", "operator": ">=", "threshold": 2.5}
    assert threshold().as_dict()["threshold"] == 10
    trigger = s.next_subscription_trigger(
        config, UTC_ZONE, utc(2026, 1, 1), subscribed_at=utc(2026, 1, 1), trigger_count=0, attributes={}
    )
    assert trigger is None


# --- strict schedule_config validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule_type", "config", "field", "says"),
    [
        ("BIRTHDAY", {}, "schedule_type", "must be one of ATTRIBUTE_DATE"),
        (None, {}, "schedule_type", "must be one of"),
        ("CRON", "0 9 * * *", "schedule_config", "must be an object"),
        ("CRON", None, "schedule_config", "must be an object"),
        ("CRON", {}, "schedule_config.cron_expression", "is required"),
        ("CRON", {"cron_expression": "0 9 * * *", "timezone": "UTC"}, "schedule_config.timezone", "not a CRON setting"),
        ("ATTRIBUTE_DATE", {"attribute": "birthday", "offset": 1}, "schedule_config.offset", "not a ATTRIBUTE_DATE"),
        ("ATTRIBUTE_DATE", {"recurrence": "yearly"}, "schedule_config.attribute", "is required"),
        ("ATTRIBUTE_DATE", {"attribute": ""}, "schedule_config.attribute", "non-empty string"),
        ("ATTRIBUTE_DATE", {"attribute": 5}, "schedule_config.attribute", "non-empty string"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "recurrence": "monthly"}, "schedule_config.recurrence", "yearly, once"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "offset_days": 367}, "schedule_config.offset_days", "-366 to 366"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "offset_days": True}, "schedule_config.offset_days", "integer"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "offset_days": 1.5}, "schedule_config.offset_days", "integer"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "time_of_day": "9:00"}, "schedule_config.time_of_day", "HH:MM"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "time_of_day": "24:00"}, "schedule_config.time_of_day", "HH:MM"),
        ("ATTRIBUTE_DATE", {"attribute": "b", "time_of_day": "09:00:00"}, "schedule_config.time_of_day", "HH:MM"),
        ("INTERVAL", {"every": 0, "unit": "days"}, "schedule_config.every", "1 to 10000"),
        ("INTERVAL", {"every": "30", "unit": "days"}, "schedule_config.every", "integer"),
        ("INTERVAL", {"every": 30, "unit": "months"}, "schedule_config.unit", "hours, days, weeks"),
        ("INTERVAL", {"every": 30}, "schedule_config.unit", "is required"),
        ("INTERVAL", {"every": 1, "unit": "days", "max_triggers": 0}, "schedule_config.max_triggers", "1 to 1000000"),
        ("THRESHOLD", {"counter": "c", "operator": "=>", "threshold": 1}, "schedule_config.operator", "one of >="),
        ("THRESHOLD", {"counter": "c", "operator": ">=", "threshold": "10"}, "schedule_config.threshold", "number"),
        ("THRESHOLD", {"counter": "c", "operator": ">=", "threshold": True}, "schedule_config.threshold", "number"),
        (
            "THRESHOLD",
            {"counter": "c", "operator": ">=", "threshold": float("nan")},
            "schedule_config.threshold",
            "number",
        ),
        ("THRESHOLD", {"counter": " ", "operator": ">=", "threshold": 1}, "schedule_config.counter", "non-empty"),
        ("THRESHOLD", {"operator": ">=", "threshold": 1}, "schedule_config.counter", "is required"),
    ],
)
def test_schedule_config_is_validated_strictly(schedule_type: object, config: object, field: str, says: str) -> None:
    error = refusal(lambda: s.parse_schedule_config(schedule_type, config))

    assert error.field == field
    assert says in error.message
    assert (error.status, error.code) == (400, "validation_error")


def test_errors_name_the_fields_as_the_request_spells_them() -> None:
    error = refusal(
        lambda: s.parse_schedule_config(
            "WEEKLY", {}, field="trigger.schedule_config", type_field="trigger.schedule_type"
        )
    )
    assert error.field == "trigger.schedule_type"
    error = refusal(
        lambda: s.parse_schedule_config("INTERVAL", {"every": 0, "unit": "days"}, field="trigger.schedule_config")
    )
    assert error.field == "trigger.schedule_config.every"


def test_null_optional_settings_take_their_defaults() -> None:
    config = s.parse_schedule_config(
        "ATTRIBUTE_DATE", {"attribute": "birthday", "recurrence": None, "offset_days": None, "time_of_day": None}
    )

    assert config == s.AttributeDateConfig(attribute="birthday")
    assert interval(every=1, unit="hours", max_triggers=None).max_triggers is None
