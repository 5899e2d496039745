"""The pure tier arithmetic (02 §4.4, §4.7): qualification, upgrade-only selection, period
boundaries, expiry, the lapse decision and counter rollover, at the edges issue P10 names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from scrip.domain import tier_lifecycle as life
from scrip.domain.tier_qualification import highest_qualified, holds, qualifies, upgrade
from scrip.domain.tiers import (
    CounterRollover,
    Criterion,
    DowngradeMode,
    Level,
    Lifecycle,
    Qualification,
    QualificationMode,
    QualificationOperator,
    QualificationPeriodType,
    RetentionMode,
    Tier,
    TierStatus,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GE, GT, EQ, LE, LT = (
    QualificationOperator.GTE,
    QualificationOperator.GT,
    QualificationOperator.EQ,
    QualificationOperator.LTE,
    QualificationOperator.LT,
)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def criterion(counter: str, op: QualificationOperator, threshold: int) -> Criterion:
    return Criterion(counter, op, Decimal(threshold))


def level(key: str, rank: int, *criteria: Criterion, mode: QualificationMode = QualificationMode.ALL) -> Level:
    return Level(
        id=f"id-{key}",
        key=key,
        rank=rank,
        display_name=None,
        qualification=Qualification(mode, criteria) if criteria else None,
        benefits=None,
        color=None,
        icon_url=None,
        created_at=T0,
        updated_at=T0,
    )


def lifecycle(**changes: object) -> Lifecycle:
    base = Lifecycle(
        retention_mode=RetentionMode.PERIOD_BASED,
        retention_duration=None,
        period_type=QualificationPeriodType.CALENDAR_YEAR,
        start_month=None,
        start_day=None,
        extend_months=0,
        downgrade_mode=DowngradeMode.DROP_TO_QUALIFYING,
        grace_days=0,
        min_level=None,
        rollover=None,
        qualifying_counters=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


SILVER = level("silver", 1, criterion("points", GE, 100))
GOLD = level("gold", 2, criterion("points", GE, 500))
PLATINUM = level("platinum", 3, criterion("points", GE, 1000), criterion("stays", GE, 10))


def tier(policy: Lifecycle | None = None, *levels: Level) -> Tier:
    return Tier(
        id="t1",
        program_id="p1",
        key="status",
        display_name=None,
        levels=levels or (SILVER, GOLD, PLATINUM),
        lifecycle=policy,
        status=TierStatus.ACTIVE,
        archived_at=None,
        created_at=T0,
        updated_at=T0,
    )


def counters(**values: int) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in values.items()}


# ------------------------------------------------------------ qualification


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [(GE, 10, True), (GE, 9, False), (GT, 10, False), (GT, 11, True), (EQ, 10, True), (EQ, 11, False),
     (LE, 10, True), (LE, 11, False), (LT, 9, True), (LT, 10, False)],
)  # fmt: skip
def test_each_operator_compares_counter_with_threshold(op: QualificationOperator, value: int, expected: bool) -> None:
    assert holds(criterion("c", op, 10), counters(c=value)) is expected


def test_a_missing_counter_counts_as_zero() -> None:
    assert holds(criterion("c", LT, 1), {}) and holds(criterion("c", EQ, 0), {})
    assert not holds(criterion("c", GE, 1), {})


def test_all_needs_every_criterion_any_needs_one() -> None:
    both = (criterion("a", GE, 1), criterion("b", GE, 1))
    assert not qualifies(level("x", 1, *both), counters(a=1))
    assert qualifies(level("x", 1, *both), counters(a=1, b=1))
    assert qualifies(level("x", 1, *both, mode=QualificationMode.ANY), counters(b=1))
    assert not qualifies(level("x", 1, *both, mode=QualificationMode.ANY), {})


def test_a_level_without_qualification_is_never_reached() -> None:
    manual = level("vip", 4)
    assert not qualifies(manual, counters(points=10**9))
    assert highest_qualified(tier(None, SILVER, manual), counters(points=10**9)) == SILVER


def test_upgrade_picks_the_highest_qualified_level_and_only_upwards() -> None:
    t = tier()
    assert upgrade(t, 0, counters(points=600)) == GOLD
    assert upgrade(t, 0, counters(points=2000, stays=10)) == PLATINUM
    assert upgrade(t, 0, counters(points=2000, stays=9)) == GOLD
    assert upgrade(t, 2, counters(points=600)) is None  # already there
    assert upgrade(t, 3, counters(points=150)) is None  # never down
    assert upgrade(t, 0, counters(points=99)) is None
    assert upgrade(replace(t, status=TierStatus.ARCHIVED), 0, counters(points=600)) is None


# ------------------------------------------------------------ boundaries


def test_calendar_year_boundaries_are_january_first_utc() -> None:
    policy = lifecycle()
    assert life.next_boundary(policy, at(2026, 6, 15)) == at(2027, 1, 1)
    assert life.next_boundary(policy, at(2026, 12, 31, 23)) == at(2027, 1, 1)
    assert life.next_boundary(policy, at(2027, 1, 1)) == at(2028, 1, 1)  # a boundary opens a period
    assert life.period_start(policy, at(2027, 1, 1)) == at(2027, 1, 1)
    assert life.period_start(policy, at(2026, 12, 31, 23)) == at(2026, 1, 1)


def test_fixed_year_boundaries_fall_on_the_start_day() -> None:
    policy = lifecycle(period_type=QualificationPeriodType.FIXED_YEAR, start_month=4, start_day=6)
    assert life.next_boundary(policy, at(2026, 4, 5, 23)) == at(2026, 4, 6)
    assert life.next_boundary(policy, at(2026, 4, 6)) == at(2027, 4, 6)
    assert life.period_start(policy, at(2026, 4, 5)) == at(2025, 4, 6)


def test_a_start_day_a_month_lacks_falls_on_its_last_day() -> None:
    leap = lifecycle(period_type=QualificationPeriodType.FIXED_YEAR, start_month=2, start_day=29)
    assert life.next_boundary(leap, at(2027, 1, 10)) == at(2027, 2, 28)  # common year
    assert life.next_boundary(leap, at(2027, 3, 1)) == at(2028, 2, 29)  # leap year
    short = lifecycle(period_type=QualificationPeriodType.FIXED_YEAR, start_month=4, start_day=31)
    assert life.next_boundary(short, at(2026, 1, 1)) == at(2026, 4, 30)


def test_no_boundary_without_a_periodic_lifecycle() -> None:
    assert life.next_boundary(None, T0) is None
    assert life.next_boundary(lifecycle(period_type=QualificationPeriodType.NONE), T0) is None
    activity = lifecycle(retention_mode=RetentionMode.ACTIVITY_REFRESH, retention_duration=timedelta(days=90))
    assert life.next_boundary(activity, T0) is None
    # a period without a retention mode is period-based
    assert life.next_boundary(lifecycle(retention_mode=None), at(2026, 5, 1)) == at(2027, 1, 1)


# ------------------------------------------------------------ months and expiry


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (at(2026, 3, 31), 1, at(2026, 4, 30)),  # FIXED_YEAR on 31 March, then a 30-day month
        (at(2026, 3, 31), 2, at(2026, 5, 31)),  # counted from the start, not chained
        (at(2026, 1, 31), 1, at(2026, 2, 28)),
        (at(2028, 1, 31), 1, at(2028, 2, 29)),  # leap day
        (at(2026, 11, 30), 3, at(2027, 2, 28)),  # across a year end
        (at(2026, 10, 1), 15, at(2028, 1, 1)),
        (at(2026, 5, 17, 13), 0, at(2026, 5, 17, 13)),
    ],
)
def test_add_months_keeps_the_day_or_the_months_last(start: datetime, months: int, expected: datetime) -> None:
    assert life.add_months(start, months) == expected


def test_a_level_earned_in_a_period_lasts_to_its_end_plus_extend_months() -> None:
    assert life.expires_at(lifecycle(), at(2026, 7, 4)) == at(2027, 1, 1)
    assert life.expires_at(lifecycle(extend_months=3), at(2026, 12, 31, 23)) == at(2027, 4, 1)  # across year end
    assert life.expires_at(lifecycle(extend_months=13), at(2026, 2, 1)) == at(2028, 2, 1)
    march_31 = lifecycle(period_type=QualificationPeriodType.FIXED_YEAR, start_month=3, start_day=31, extend_months=1)
    assert life.expires_at(march_31, at(2026, 1, 5)) == at(2026, 4, 30)
    assert life.expires_at(march_31, at(2026, 3, 31)) == at(2027, 4, 30)
    assert life.expires_at(None, T0) is None
    assert life.expires_at(lifecycle(period_type=QualificationPeriodType.NONE), T0) is None


def test_activity_refresh_expires_a_duration_after_the_last_activity() -> None:
    policy = lifecycle(retention_mode=RetentionMode.ACTIVITY_REFRESH, retention_duration=timedelta(hours=2160))
    assert life.expires_at(policy, at(2026, 1, 1)) == at(2026, 4, 1)
    assert life.refreshed_on_activity(policy, at(2026, 2, 1, 12)) == at(2026, 5, 2, 12)
    assert life.refreshed_on_activity(lifecycle(), at(2026, 2, 1)) is None  # events do not move a period's expiry


# ------------------------------------------------------------ lapse


def test_still_qualifying_keeps_the_level_and_extends_to_the_next_boundary() -> None:
    outcome = life.lapse(tier(lifecycle(extend_months=2)), GOLD, counters(points=500), at(2027, 3, 1))
    assert outcome == life.Lapse(GOLD, at(2028, 3, 1), changed=False)


def test_drop_to_qualifying_lands_on_the_highest_level_still_qualified() -> None:
    t = tier(lifecycle())
    assert life.lapse(t, PLATINUM, counters(points=600, stays=2), at(2027, 1, 1)) == life.Lapse(
        GOLD, at(2028, 1, 1), changed=True
    )
    base = life.lapse(t, PLATINUM, counters(points=10), at(2027, 1, 1))
    assert base == life.Lapse(None, None, changed=True) and base.rank == 0


def test_drop_to_qualifying_never_lands_above_the_current_level() -> None:
    # an upper-bound criterion can make a higher level qualify when the current one does not
    odd = level("odd", 3, criterion("points", LT, 50))
    t = tier(lifecycle(), SILVER, GOLD, odd)
    assert life.lapse(t, GOLD, counters(points=10), at(2027, 1, 1)).level is None


def test_drop_one_drops_exactly_one_rank() -> None:
    t = tier(lifecycle(downgrade_mode=DowngradeMode.DROP_ONE))
    assert life.lapse(t, PLATINUM, {}, at(2027, 1, 1)).level == GOLD
    assert life.lapse(t, SILVER, {}, at(2027, 1, 1)).level is None


def test_hold_keeps_the_level() -> None:
    outcome = life.lapse(tier(lifecycle(downgrade_mode=DowngradeMode.HOLD)), PLATINUM, {}, at(2027, 1, 1))
    assert outcome == life.Lapse(PLATINUM, at(2028, 1, 1), changed=False)


@pytest.mark.parametrize("mode", [DowngradeMode.DROP_TO_QUALIFYING, DowngradeMode.DROP_ONE])
def test_min_level_floors_a_downgrade(mode: DowngradeMode) -> None:
    t = tier(lifecycle(downgrade_mode=mode, min_level="gold"))
    assert life.lapse(t, PLATINUM, {}, at(2027, 1, 1)).level == GOLD
    kept = life.lapse(t, GOLD, {}, at(2027, 1, 1))
    assert kept == life.Lapse(GOLD, at(2028, 1, 1), changed=False)  # at the floor: kept, extended
    # the floor stops a downgrade; it does not promote someone assigned below it, nor keep them
    assert life.lapse(t, SILVER, {}, at(2027, 1, 1)).level == SILVER


def test_grace_days_postpone_the_downgrade_then_apply_it() -> None:
    t = tier(lifecycle(grace_days=30))
    first = life.lapse(t, GOLD, counters(points=150), at(2027, 1, 1))
    assert first == life.Lapse(GOLD, at(2027, 1, 31), changed=False, grace_until=at(2027, 1, 31))
    final = life.lapse(t, GOLD, counters(points=150), at(2027, 1, 31), grace_until=first.grace_until)
    assert final == life.Lapse(SILVER, at(2028, 1, 1), changed=True)


def test_re_qualification_inside_the_grace_window_cancels_the_downgrade() -> None:
    t = tier(lifecycle(grace_days=30))
    assert life.requalified(t, GOLD, counters(points=499), at(2027, 1, 20)) is None
    assert life.requalified(t, GOLD, counters(points=500), at(2027, 1, 20)) == at(2028, 1, 1)
    # and at the grace window's end, qualifying again keeps the level
    kept = life.lapse(t, GOLD, counters(points=500), at(2027, 1, 31), grace_until=at(2027, 1, 31))
    assert kept == life.Lapse(GOLD, at(2028, 1, 1), changed=False)


def test_no_grace_when_nothing_would_be_lost() -> None:
    t = tier(lifecycle(grace_days=30, downgrade_mode=DowngradeMode.HOLD))
    assert life.lapse(t, GOLD, {}, at(2027, 1, 1)).grace_until is None


def test_activity_refresh_lapse_restarts_the_timer_of_the_level_it_lands_on() -> None:
    policy = lifecycle(
        retention_mode=RetentionMode.ACTIVITY_REFRESH,
        retention_duration=timedelta(days=90),
        downgrade_mode=DowngradeMode.DROP_ONE,
    )
    outcome = life.lapse(tier(policy), GOLD, {}, at(2026, 4, 1))
    assert outcome == life.Lapse(SILVER, at(2026, 6, 30), changed=True)


def test_an_explicit_expiry_removes_the_level_whatever_the_policy() -> None:
    t = tier(lifecycle(downgrade_mode=DowngradeMode.HOLD, min_level="gold", grace_days=10))
    assert life.lapse(t, PLATINUM, counters(points=5000, stays=50), at(2026, 5, 1), explicit=True) == life.Lapse(
        None, None, changed=True
    )


# ------------------------------------------------------------ rollover


def test_rollover_none_resets_the_qualifying_counters() -> None:
    policy = lifecycle(rollover=CounterRollover.NONE, qualifying_counters=("points", "stays"))
    assert life.rollover(policy, GOLD, counters(points=700, stays=0, other=5)) == {"points": Decimal(0)}


def test_rollover_excess_keeps_what_is_above_the_post_evaluation_levels_threshold() -> None:
    policy = lifecycle(rollover=CounterRollover.EXCESS, qualifying_counters=("points", "stays", "nights"))
    values = counters(points=1250, stays=12, nights=4)
    assert life.rollover(policy, PLATINUM, values) == {
        "points": Decimal(250),
        "stays": Decimal(2),
        "nights": Decimal(0),  # no criterion on it: reset
    }
    assert life.rollover(policy, GOLD, values) == {"points": Decimal(750), "stays": Decimal(0), "nights": Decimal(0)}
    assert life.rollover(policy, None, values) == {"points": Decimal(0), "stays": Decimal(0), "nights": Decimal(0)}
    # below the threshold (a level kept by HOLD or min_level): 0, never negative
    assert life.rollover(policy, GOLD, counters(points=120)) == {"points": Decimal(0)}


def test_rollover_excess_uses_the_greatest_lower_bound_on_the_counter() -> None:
    banded = level("band", 1, criterion("points", GE, 100), criterion("points", GT, 200), criterion("points", LT, 900))
    policy = lifecycle(rollover=CounterRollover.EXCESS, qualifying_counters=("points",))
    assert life.threshold_for(banded, "points") == Decimal(200)
    assert life.rollover(policy, banded, counters(points=250)) == {"points": Decimal(50)}


def test_no_rollover_configured_changes_nothing() -> None:
    assert life.rollover(lifecycle(qualifying_counters=("points",)), GOLD, counters(points=700)) == {}
    assert life.rollover(None, GOLD, counters(points=700)) == {}


# ------------------------------------------------------------ a year end, end to end


def test_a_year_end_with_extension_grace_and_rollover() -> None:
    """Gold earned in March 2026 with extend_months=3 and 14 grace days: kept to 1 April 2027,
    re-evaluated with the counters of 1 January, postponed to 15 April, then dropped to silver;
    the rollover at the boundary uses the level after evaluation."""
    policy = lifecycle(extend_months=3, grace_days=14, rollover=CounterRollover.EXCESS, qualifying_counters=("points",))
    t = tier(policy)
    acquired = at(2026, 3, 10, 15)
    assert upgrade(t, 0, counters(points=520)) == GOLD
    expiry = life.expires_at(policy, acquired)
    assert expiry == at(2027, 4, 1)
    at_period_end = counters(points=180)
    first = life.lapse(t, GOLD, at_period_end, expiry)
    assert first.grace_until == at(2027, 4, 15) and first.level == GOLD
    final = life.lapse(t, GOLD, at_period_end, at(2027, 4, 15), grace_until=first.grace_until)
    assert final.level == SILVER and final.expires_at == at(2028, 4, 1)
    assert life.rollover(policy, final.level, at_period_end) == {"points": Decimal(80)}
