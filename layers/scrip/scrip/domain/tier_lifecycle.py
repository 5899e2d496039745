"""Time in a tier: period boundaries, expiry, the lapse decision, counter rollover (02 §4.7.3).

Pure arithmetic for the lifecycle job and for the event path; the job decides when to call it
and with which counters. Choices where the spec says **[inferred]** or nothing:

* Boundaries are instants in UTC. ``CALENDAR_YEAR``: every 1 January 00:00. ``FIXED_YEAR``:
  every year at ``start_month``/``start_day`` 00:00; a day the month lacks that year (29
  February in a common year, 31 in a 30-day month, should a stored tier carry one) falls on the
  month's last day. ``NONE``: no boundary. A tier whose ``retention.mode`` is absent but which
  has a ``qualification_period`` is period-based (the period is the only clock it has).
* Month arithmetic (``status_validity.extend_months``) keeps the day of month and falls back to
  the month's last day when the target month is shorter: 31 March + 1 month = 30 April,
  31 January + 1 month = 28 or 29 February; it is always counted from the boundary, never
  chained month by month, so 31 March + 2 months is 31 May.
* A level earned during a period is valid until the next boundary strictly after the moment
  it was earned, plus ``extend_months``; an instant exactly on a boundary starts a period.
* The lapse decision (``lapse``): the current level kept when it still qualifies, under
  ``HOLD``, or at the ``min_level`` floor; a kept level's validity is extended to the next
  boundary (plus ``extend_months``) or, under ``ACTIVITY_REFRESH``, by the retention duration
  from the lapse, so ``expires_at`` always names the next re-evaluation. ``DROP_TO_QUALIFYING``
  lands on the highest qualified level below the current one; ``DROP_ONE`` one rank down; both
  never below ``min_level`` (and the floor never raises a participant already under it).
  ``grace_days`` postpones a downgrade once: ``expires_at`` becomes the end of the grace
  window; re-qualification before it cancels the downgrade (``requalified``), and at its end the
  decision is taken again with the counters of that moment, without a second grace.
* Rollover with ``counters.rollover`` absent leaves the counters alone. ``EXCESS`` subtracts the
  threshold the post-evaluation level uses for the counter: with several criteria on one
  counter, the greatest threshold among its ``>=``, ``>`` and ``==`` criteria (the lower bounds
  the level needs); with none (base, or no such criterion) the counter resets to 0.
* An explicit ``expires_at`` (API or ``SET_TIER``) removes the assignment at that instant; the
  downgrade policy does not apply (``lapse(..., explicit=True)``).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from scrip.domain.tier_qualification import highest_qualified, qualifies
from scrip.domain.tiers import (
    CounterRollover,
    DowngradeMode,
    Level,
    Lifecycle,
    QualificationOperator,
    QualificationPeriodType,
    RetentionMode,
    Tier,
)

# ------------------------------------------------------------------ calendar


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` ``months`` later, same day of month or the target month's last day.

    Calendar arithmetic rather than ``dateutil.relativedelta`` (which computes the same): the
    layer does not pin python-dateutil (botocore only brings it along) and it has no type stubs
    for the strict type check.
    """
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _on_day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, min(day, calendar.monthrange(year, month)[1]), tzinfo=UTC)


def is_period_based(lifecycle: Lifecycle | None) -> bool:
    if lifecycle is None:
        return False
    if lifecycle.retention_mode is RetentionMode.ACTIVITY_REFRESH:
        return False
    return lifecycle.period_type in (QualificationPeriodType.CALENDAR_YEAR, QualificationPeriodType.FIXED_YEAR)


def _boundary_in(lifecycle: Lifecycle, year: int) -> datetime:
    if lifecycle.period_type is QualificationPeriodType.CALENDAR_YEAR:
        return datetime(year, 1, 1, tzinfo=UTC)
    assert lifecycle.start_month is not None and lifecycle.start_day is not None  # parse_lifecycle's rule
    return _on_day(year, lifecycle.start_month, lifecycle.start_day)


def next_boundary(lifecycle: Lifecycle | None, after: datetime) -> datetime | None:
    """The first period boundary strictly after ``after``; None without periodic boundaries."""
    if not is_period_based(lifecycle):
        return None
    assert lifecycle is not None
    at = after.astimezone(UTC)
    this_year = _boundary_in(lifecycle, at.year)
    return this_year if this_year > at else _boundary_in(lifecycle, at.year + 1)


def period_start(lifecycle: Lifecycle | None, at: datetime) -> datetime | None:
    """The boundary that opened the period holding ``at`` (a boundary instant opens its own)."""
    if not is_period_based(lifecycle):
        return None
    assert lifecycle is not None
    moment = at.astimezone(UTC)
    this_year = _boundary_in(lifecycle, moment.year)
    return this_year if this_year <= moment else _boundary_in(lifecycle, moment.year - 1)


# ------------------------------------------------------------------ expiry


def expires_at(lifecycle: Lifecycle | None, since: datetime) -> datetime | None:
    """When a level acquired, kept or last refreshed at ``since`` lapses under the lifecycle.

    ``PERIOD_BASED``: the end of the period holding ``since`` plus ``extend_months``.
    ``ACTIVITY_REFRESH``: ``since`` (the last activity) plus the retention duration. A
    rules-only tier or a period of type ``NONE``: never (None).
    """
    if lifecycle is None:
        return None
    if lifecycle.retention_mode is RetentionMode.ACTIVITY_REFRESH:
        return since + lifecycle.retention_duration if lifecycle.retention_duration is not None else None
    boundary = next_boundary(lifecycle, since)
    return add_months(boundary, lifecycle.extend_months) if boundary is not None else None


def refreshed_on_activity(lifecycle: Lifecycle | None, last_activity: datetime) -> datetime | None:
    """The new ``expires_at`` an event of the participant sets, or None when events do not
    move it (every retention mode but ``ACTIVITY_REFRESH``)."""
    if lifecycle is None or lifecycle.retention_mode is not RetentionMode.ACTIVITY_REFRESH:
        return None
    return expires_at(lifecycle, last_activity)


# ------------------------------------------------------------------ lapse


@dataclass(frozen=True)
class Lapse:
    """What a lapse does to one participant's level in one tier.

    ``level`` None is base (the assignment removed). ``grace_until`` is set when the downgrade
    was postponed: the level stays, ``expires_at`` is the end of the grace window, and the job
    decides again then.
    """

    level: Level | None
    expires_at: datetime | None
    changed: bool
    grace_until: datetime | None = None

    @property
    def rank(self) -> int:
        return self.level.rank if self.level is not None else 0


def _below(tier: Tier, rank: int) -> Level | None:
    lower = [level for level in tier.levels if level.rank < rank]
    return lower[-1] if lower else None


def _floored(tier: Tier, current: Level, target: Level | None) -> Level | None:
    """``target`` raised to ``min_level``, but never above ``current``: the floor stops a
    downgrade, it does not promote someone assigned below it."""
    lifecycle = tier.lifecycle
    floor = tier.level(lifecycle.min_level) if lifecycle is not None and lifecycle.min_level else None
    if floor is None:
        return target
    stop = floor if floor.rank <= current.rank else current
    return stop if target is None or target.rank < stop.rank else target


def downgrade_target(tier: Tier, current: Level, counters: Mapping[str, Decimal]) -> Level | None:
    """Where the downgrade policy sends a participant whose level lapsed unqualified."""
    lifecycle = tier.lifecycle
    mode = lifecycle.downgrade_mode if lifecycle is not None else DowngradeMode.DROP_TO_QUALIFYING
    if mode is DowngradeMode.HOLD:
        return current
    if mode is DowngradeMode.DROP_ONE:
        target = _below(tier, current.rank)
    else:
        target = highest_qualified(tier, counters, below_rank=current.rank)
    return _floored(tier, current, target)


def lapse(
    tier: Tier,
    current: Level,
    counters: Mapping[str, Decimal],
    at: datetime,
    *,
    grace_until: datetime | None = None,
    explicit: bool = False,
) -> Lapse:
    """The decision at ``expires_at`` (or at the end of a grace window) for a participant at
    ``current``, with the counters as of the period end (02 §4.7.3).

    ``grace_until``: the end of the grace window already granted for this lapse, if any (no
    second grace). ``explicit``: the expiry was an explicit ``expires_at``: back to base.
    """
    if explicit:
        return Lapse(None, None, changed=True)
    lifecycle = tier.lifecycle
    if qualifies(current, counters):
        return Lapse(current, expires_at(lifecycle, at), changed=False)
    target = downgrade_target(tier, current, counters)
    if target is not None and target.key == current.key:
        return Lapse(current, expires_at(lifecycle, at), changed=False)
    grace_days = lifecycle.grace_days if lifecycle is not None else 0
    if grace_days > 0 and grace_until is None:
        end = at + timedelta(days=grace_days)
        return Lapse(current, end, changed=False, grace_until=end)
    return Lapse(target, expires_at(lifecycle, at) if target is not None else None, changed=True)


def requalified(tier: Tier, current: Level, counters: Mapping[str, Decimal], at: datetime) -> datetime | None:
    """Inside a grace window, the new ``expires_at`` when the participant qualifies for its
    level again (the downgrade is cancelled), else None (the grace window runs on)."""
    return expires_at(tier.lifecycle, at) if qualifies(current, counters) else None


# ------------------------------------------------------------------ rollover

_LOWER_BOUNDS = (QualificationOperator.GTE, QualificationOperator.GT, QualificationOperator.EQ)


def threshold_for(level: Level | None, counter: str) -> Decimal | None:
    """The threshold ``level`` needs of ``counter`` for EXCESS rollover (see the module docstring)."""
    if level is None or level.qualification is None:
        return None
    bounds = [c.threshold for c in level.qualification.criteria if c.counter == counter and c.operator in _LOWER_BOUNDS]
    return max(bounds) if bounds else None


def rollover(lifecycle: Lifecycle | None, level: Level | None, counters: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The qualifying counters' values after the period end, given the post-evaluation level
    (None: base); only the counters that change. ``{}`` when the lifecycle has no rollover."""
    if lifecycle is None or lifecycle.rollover is None:
        return {}
    result: dict[str, Decimal] = {}
    for counter in lifecycle.qualifying_counters:
        value = Decimal(counters.get(counter, Decimal(0)))
        threshold = threshold_for(level, counter) if lifecycle.rollover is CounterRollover.EXCESS else None
        new = max(Decimal(0), value - threshold) if threshold is not None else Decimal(0)
        if new != value:
            result[counter] = new
    return result
