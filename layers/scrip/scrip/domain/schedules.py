"""Schedule arithmetic for automations (06 §1.5, §1.8, §1.9). Pure: no storage, no clock, no HTTP.

The automations service validates triggers with these functions and stores what they compute
(an automation's ``next_run_at``, a subscription's ``next_trigger_at``); the scheduler calls them
again after each fire. Most of these rules settle points the spec marks **[inferred]**; the
OpenAPI text repeats them.

Cron expressions (§1.5.1)
    Five fields separated by blanks: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12,
    day-of-week 0-7 (0 and 7 are both Sunday). A field is a comma list of items ``*``, ``n``,
    ``a-b``, ``*/s`` or ``a-b/s`` (``a <= b``; a step ``s`` from 1 to the field's span, e.g.
    at most 59 for minutes). Numbers only: names (``MON``, ``JAN``), ``?``, ``L``, ``W``, ``#``,
    ``H`` and ``n/s`` are refused, and so are seconds or year fields (six or seven fields),
    macros (``@daily``) and inline ``CRON_TZ=`` / ``TZ=`` prefixes (the zone is the
    automation's ``timezone``). An expression no calendar date can match (``0 0 30 2 *``) is
    refused too, rather than stored and never fired. Every refusal is a ``ScheduleError`` (400
    ``validation_error``) that names the cron field and the 1-based character position in the
    expression.

Day matching
    Standard cron: when both day-of-month and day-of-week restrict, a day matching either one
    fires (``0 9 13 * 5``: the 13th and every Friday); when one of them allows every value
    (``*``, ``*/1``, ``1-31``, ``0-6``, ``0-7``), the other alone decides. What a field allows
    decides, not how it is spelled: unlike Vixie cron, ``*/2`` is a restriction.

Time zones
    IANA names from the tz database the layer ships (the pinned ``tzdata`` package, so local
    runs and Lambda agree, and Lambda's runtime needs no system zone files): ``UTC``,
    ``Europe/Berlin``, ``America/Chicago``... Any other name (``localtime``, ``CET+1``, a path)
    is a ``ScheduleError`` on the ``timezone`` field.

Wall-clock times and daylight saving
    A schedule names wall-clock times in its zone. A wall time that does not exist (02:30 in
    Berlin on the last Sunday of March) fires at the first valid instant after it, the end of
    the gap (03:00 CEST); several missing times of one gap fire once. A wall time that happens
    twice (02:30 on the last Sunday of October) fires once, at its first occurrence (02:30 CEST,
    not again at 02:30 CET). So ``*/30 * * * *`` in Berlin fires 46 times on the spring-forward
    day and 48 times, over 25 hours, on the fall-back day.

Next fire and missed runs (§1.9)
    ``next_run_at`` is the first matching instant strictly after the moment given (now, at
    create, update, resume or after a fire). When the scheduler finds an automation due,
    ``catch_up`` fires it once, at the stored ``next_run_at``, however many slots passed while
    it was down or late, and moves ``next_run_at`` to the first slot strictly after now. The fire
    instant comes from the stored value, not from the clock, so a retried tick names the same
    instant and therefore the same idempotency key (§1.9).

Participant-state schedules (§1.5.4)
    ``parse_schedule_config`` validates ``schedule_config`` strictly (unknown keys refused) and
    fills defaults; the result computes each subscription's ``next_trigger_at``:

    * ``ATTRIBUTE_DATE`` ``{"attribute", "recurrence": "yearly"|"once" = "yearly",
      "offset_days": -366..366 = 0, "time_of_day": "HH:MM" = "00:00"}``. The attribute's value is
      ``YYYY-MM-DD`` or an RFC 3339 timestamp, whose date is taken as written (not converted to
      the zone); anything else gives no trigger. ``once`` fires on that date plus
      ``offset_days`` at ``time_of_day`` in the automation's zone, if that is still ahead.
      ``yearly`` fires on each anniversary (the 1st, 2nd... year after the date; the date itself
      is not an occurrence, so a signup anniversary does not fire on signup day), shifted by
      ``offset_days``; 29 February falls on 28 February in other years.
    * ``INTERVAL`` ``{"every": 1..10000, "unit": "hours"|"days"|"weeks", "max_triggers": null |
      1..1000000 = null}``: occurrences at the subscription's start plus k x ``every`` units,
      k >= 1. Hours are elapsed time; days and weeks are calendar days in the automation's zone at
      the start's wall-clock time, so a weekly reminder stays at 09:00 across daylight saving.
      Missed occurrences collapse into one fire, like cron. ``max_triggers`` counts fires.
    * ``CRON`` ``{"cron_expression"}``: the grammar above, in the automation's zone.
    * ``THRESHOLD`` ``{"counter", "operator": ">="|">"|"=="|"<="|"<", "threshold": number}``:
      no time; it fires once when the counter goes from not satisfying the comparison to
      satisfying it (a missing counter reads 0, as in tier qualification). A participant who
      already satisfies it when subscribed does not fire until it stops and starts again: the
      crossing happened before the automation watched.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from scrip.domain.errors import ValidationFailed

MAX_EXPRESSION_LENGTH = 255
DEFAULT_TIMEZONE = "UTC"


class ScheduleError(ValidationFailed):
    """A schedule the API refuses: 400 ``validation_error`` with the field and, for a cron
    expression, the cron field and the 1-based character position of the fault."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        position: int | None = None,
        cron_field: str | None = None,
        reason: str = "invalid",
        received: Any = None,
    ) -> None:
        super().__init__(message, field=field, reason=reason, received=received)
        self.field = field
        self.position = position
        self.cron_field = cron_field
        assert self.details is not None  # ValidationFailed always builds them
        if position is not None:
            self.details["position"] = position
        if cron_field is not None:
            self.details["cron_field"] = cron_field


# --- time zones and wall-clock times -----------------------------------------------------------


@cache
def _zone_names() -> frozenset[str]:
    # The ``tzdata`` package's own list: ``zoneinfo.available_timezones()`` would also offer
    # whatever the host has under /usr/share/zoneinfo (``localtime``, ``posixrules``).
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(text.split())


def parse_zone(name: object, *, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name`` (``None`` means ``UTC``); ``ScheduleError`` for any other name."""
    if name is None:
        name = DEFAULT_TIMEZONE
    if not isinstance(name, str) or name not in _zone_names():
        raise ScheduleError(f"{field} must be an IANA time zone name such as Europe/Berlin", field=field, received=name)
    return ZoneInfo(name)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("schedule arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock reading of ``moment`` in ``zone``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def resolve_wall_time(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a schedule means by the naive wall-clock time ``wall`` in ``zone``.

    A time that happens twice is its first occurrence; a time that does not exist is the first
    valid instant after it, the end of the gap.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == wall:
        return first  # exists; fold=0 is the earlier reading of a repeated time (PEP 495)
    # In a gap, fold=0 reads the wall time with the offset from before the transition, which
    # lands after it, and fold=1 with the offset from after, which lands before it: the
    # transition lies between, and is found to the second by bisection (transitions fall on
    # whole seconds).
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = first
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before).total_seconds() // 2)
        if _wall(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return after


# --- cron expressions --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int  # highest value accepted as written (7 for day-of-week)
    span_high: int  # highest value ``*`` covers (6 for day-of-week)


_FIELDS = (
    _Field("minute", 0, 59, 59),
    _Field("hour", 0, 23, 23),
    _Field("day_of_month", 1, 31, 31),
    _Field("month", 1, 12, 12),
    _Field("day_of_week", 0, 7, 6),
)
_FIELD_LIST = "minute hour day-of-month month day-of-week"
_ITEM = re.compile(r"(?:(?P<star>\*)|(?P<first>[0-9]+)(?:-(?P<last>[0-9]+))?)(?:/(?P<step>[0-9]+))?")
_TOKEN = re.compile(r"\S+")
_ALLOWED_CHARACTERS = frozenset("0123456789*-/")
# Longest day-of-month per month, 29 for February: a date that exists at least in leap years.
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
# A valid expression matches within 8 years (29 February skips 2100); searching 9 is enough.
_SEARCH_DAYS = 9 * 366


@dataclass(frozen=True)
class CronSchedule:
    """A parsed five-field cron expression: the values each field allows."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    day_of_month_restricts: bool
    day_of_week_restricts: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_month_day = day.day in self.days_of_month
        by_week_day = day.isoweekday() % 7 in self.days_of_week
        if self.day_of_month_restricts and self.day_of_week_restricts:
            return by_month_day or by_week_day  # standard cron: either one
        if self.day_of_month_restricts:
            return by_month_day
        if self.day_of_week_restricts:
            return by_week_day
        return True

    def next_fire(self, zone: ZoneInfo, after: datetime) -> datetime:
        """The first instant (UTC) strictly after ``after`` that the expression names in ``zone``."""
        after = _aware(after)
        # From the day before: one day more costs nothing and covers transitions that cross midnight.
        day = _wall(after, zone).date() - timedelta(days=1)
        last_day = day + timedelta(days=min(_SEARCH_DAYS, (date.max - day).days))
        while day <= last_day:
            if self.matches_day(day):
                found = self._first_on(day, zone, after)
                if found is not None:
                    return found
            if day.month not in self.months:
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)  # skip to the next month
            else:
                day += timedelta(days=1)
        raise ValueError(f"{self.expression!r} has no fire time within {_SEARCH_DAYS} days of {after}")

    def _first_on(self, day: date, zone: ZoneInfo, after: datetime) -> datetime | None:
        # Instants of one day's wall times never decrease (a gap maps forward onto its end, a
        # repeated hour reads as its first pass), so whole hours whose last minute is not past
        # ``after`` are skipped without looking at each minute.
        last_minute = self.minutes[-1]
        for hour in self.hours:
            if resolve_wall_time(datetime.combine(day, time(hour, last_minute)), zone) <= after:
                continue
            for minute in self.minutes:
                instant = resolve_wall_time(datetime.combine(day, time(hour, minute)), zone)
                if instant > after:
                    return instant
        return None

    def catch_up(self, zone: ZoneInfo, scheduled_at: datetime, now: datetime) -> CatchUp | None:
        """What a scheduler tick does with an automation whose ``next_run_at`` is ``scheduled_at``."""
        return catch_up(scheduled_at, now, lambda moment: self.next_fire(zone, moment))


def _fail(message: str, field: str, cron_field: str | None, position: int, expression: str) -> ScheduleError:
    where = f"{cron_field.replace('_', '-')} field, " if cron_field else ""
    return ScheduleError(
        f"{field}: {message} ({where}position {position})",
        field=field,
        position=position,
        cron_field=cron_field,
        received=expression,
    )


def _parse_item(item: str, start: int, spec: _Field, field: str, expression: str) -> set[int]:
    """The values one list item allows; ``start`` is its 0-based offset in the expression."""
    match = _ITEM.fullmatch(item)
    if match is None:
        for offset, character in enumerate(item):
            if character not in _ALLOWED_CHARACTERS:
                hint = "; names are not supported, use numbers" if character.isalpha() else ""
                raise _fail(
                    f"unexpected character {character!r}{hint}", field, spec.name, start + offset + 1, expression
                )
        raise _fail(
            f"malformed item {item!r}; expected *, n, a-b, */s or a-b/s", field, spec.name, start + 1, expression
        )

    def number(group: str) -> int:
        value = int(match.group(group))
        if not spec.low <= value <= spec.high:
            raise _fail(
                f"value {value} is outside {spec.low}-{spec.high}",
                field,
                spec.name,
                start + match.start(group) + 1,
                expression,
            )
        return value

    if match.group("star"):
        first, last = spec.low, spec.span_high
    else:
        first = number("first")
        last = number("last") if match.group("last") is not None else first
        if first > last:
            raise _fail(f"range {first}-{last} runs backwards", field, spec.name, start + 1, expression)
    step = 1
    if match.group("step") is not None:
        if match.group("star") is None and match.group("last") is None:
            raise _fail(
                f"a step needs * or a range (write {first}-{spec.span_high}/{match.group('step')})",
                field,
                spec.name,
                start + match.start("step"),
                expression,
            )
        step = int(match.group("step"))
        if not 1 <= step <= spec.span_high - spec.low:
            raise _fail(
                f"step {step} is outside 1-{spec.span_high - spec.low}",
                field,
                spec.name,
                start + match.start("step") + 1,
                expression,
            )
    return {value % 7 if spec.name == "day_of_week" else value for value in range(first, last + 1, step)}


def _parse_field(token: str, start: int, spec: _Field, field: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    offset = 0
    for item in token.split(","):
        if not item:
            raise _fail("empty list item", field, spec.name, start + offset + 1, expression)
        values |= _parse_item(item, start + offset, spec, field, expression)
        offset += len(item) + 1
    return frozenset(values)


def parse_cron(expression: object, *, field: str = "cron_expression") -> CronSchedule:
    """Validate a cron expression (module docstring); ``ScheduleError`` names ``field`` and the position."""
    if not isinstance(expression, str):
        raise ScheduleError(f"{field} must be a string", field=field, received=expression)
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise _fail(
            f"longer than {MAX_EXPRESSION_LENGTH} characters", field, None, MAX_EXPRESSION_LENGTH + 1, expression
        )
    tokens = list(_TOKEN.finditer(expression))
    if not tokens:
        raise _fail(f"is empty; expected 5 fields: {_FIELD_LIST}", field, None, 1, expression)
    for token in tokens:
        if token.group().startswith("@"):
            raise _fail(
                "macros such as @daily are not supported; write the 5 fields",
                field,
                None,
                token.start() + 1,
                expression,
            )
        if "=" in token.group():
            raise _fail(
                "inline time zones (CRON_TZ=, TZ=) are not allowed; set timezone instead",
                field,
                None,
                token.start() + 1,
                expression,
            )
    if len(tokens) > len(_FIELDS):
        raise _fail(
            f"has {len(tokens)} fields; seconds and year fields are not supported, expected 5: {_FIELD_LIST}",
            field,
            None,
            tokens[len(_FIELDS)].start() + 1,
            expression,
        )
    if len(tokens) < len(_FIELDS):
        raise _fail(
            f"has {len(tokens)} fields; expected 5: {_FIELD_LIST}",
            field,
            _FIELDS[len(tokens)].name,
            len(expression) + 1,
            expression,
        )
    minutes, hours, days_of_month, months, days_of_week = (
        _parse_field(token.group(), token.start(), spec, field, expression)
        for token, spec in zip(tokens, _FIELDS, strict=True)
    )
    day_of_month_restricts = len(days_of_month) < 31
    day_of_week_restricts = len(days_of_week) < 7
    possible = any(day <= _LONGEST_MONTH[month] for month in months for day in days_of_month)
    if day_of_month_restricts and not day_of_week_restricts and not possible:
        raise _fail(
            "no month given has the days given; the expression would never fire",
            field,
            "day_of_month",
            tokens[2].start() + 1,
            expression,
        )
    return CronSchedule(
        expression=expression,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days_of_month=days_of_month,
        months=months,
        days_of_week=days_of_week,
        day_of_month_restricts=day_of_month_restricts,
        day_of_week_restricts=day_of_week_restricts,
    )


def next_fire(expression: str, zone: str, after: datetime) -> datetime:
    """The first instant (UTC) strictly after ``after`` that ``expression`` names in ``zone``."""
    return parse_cron(expression).next_fire(parse_zone(zone), after)


# --- missed runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatchUp:
    """One fire of a due schedule: its instant, the next ``next_run_at``, and whether slots were dropped."""

    fire_at: datetime
    next_run_at: datetime | None  # None: the schedule has no further occurrence
    collapsed: bool  # True when slots after ``fire_at`` had passed too and are not fired (§1.9)


def catch_up(scheduled_at: datetime, now: datetime, following: Callable[[datetime], datetime | None]) -> CatchUp | None:
    """``None`` while ``now`` is before ``scheduled_at``; else fire once at ``scheduled_at``.

    ``following(moment)`` is the schedule's first occurrence strictly after ``moment``. Runs
    missed during downtime fire once (§1.9): the next run is the first occurrence after ``now``,
    not after ``scheduled_at``. The fire instant is the stored one, so a retried tick fires the
    same instant under the same idempotency key.
    """
    scheduled_at, now = _aware(scheduled_at), _aware(now)
    if now < scheduled_at:
        return None
    after_scheduled = following(scheduled_at)
    collapsed = after_scheduled is not None and after_scheduled <= now
    return CatchUp(
        fire_at=scheduled_at, next_run_at=following(now) if collapsed else after_scheduled, collapsed=collapsed
    )


# --- participant-state schedule configs (§1.5.4) -----------------------------------------------


class ScheduleType(StrEnum):
    ATTRIBUTE_DATE = "ATTRIBUTE_DATE"
    INTERVAL = "INTERVAL"
    CRON = "CRON"
    THRESHOLD = "THRESHOLD"


class Recurrence(StrEnum):
    YEARLY = "yearly"
    ONCE = "once"


class IntervalUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"


_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 date-time. Not ``clock.parse_input``: that also bounds the instant to 1970 onwards,
# and a birthday may well be earlier.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
MAX_OFFSET_DAYS = 366
MAX_EVERY = 10_000
MAX_TRIGGERS = 1_000_000
MAX_NAME_LENGTH = 255
_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "<=": operator.le,
    "<": operator.lt,
}


def _anniversary(day: date, year: int) -> date:
    if day.month == 2 and day.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)  # 29 February falls on 28 February in other years
    return day.replace(year=year)


def attribute_date(value: object) -> date | None:
    """The date an ATTRIBUTE_DATE schedule reads from an attribute value, or ``None``.

    ``YYYY-MM-DD``, or an RFC 3339 timestamp whose date is taken as written: ``1990-05-17T23:30:00-05:00``
    is 17 May, the date its writer meant, whatever the automation's zone.
    """
    if not isinstance(value, str) or not (_DATE.fullmatch(value) or _TIMESTAMP.fullmatch(value)):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None  # 2023-02-30


@dataclass(frozen=True)
class AttributeDateConfig:
    attribute: str
    recurrence: Recurrence = Recurrence.YEARLY
    offset_days: int = 0
    time_of_day: time = time(0, 0)
    schedule_type: ClassVar[ScheduleType] = ScheduleType.ATTRIBUTE_DATE

    def as_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "recurrence": self.recurrence.value,
            "offset_days": self.offset_days,
            "time_of_day": self.time_of_day.strftime("%H:%M"),
        }

    def date_in(self, attributes: Mapping[str, Any]) -> date | None:
        """The participant's date for this schedule; ``None`` when absent or not a date."""
        return attribute_date(attributes.get(self.attribute))

    def _occurrence(self, day: date, zone: ZoneInfo) -> datetime | None:
        try:
            shifted = day + timedelta(days=self.offset_days)
        except OverflowError:
            return None
        return resolve_wall_time(datetime.combine(shifted, self.time_of_day), zone)

    def next_trigger(self, value: date, zone: ZoneInfo, after: datetime) -> datetime | None:
        """The first occurrence strictly after ``after``; ``None`` when there is none."""
        after = _aware(after)
        if self.recurrence is Recurrence.ONCE:
            once = self._occurrence(value, zone)
            return once if once is not None and once > after else None
        # An offset of up to 366 days can move an anniversary across a year either way: start two
        # years early and stop once one lies ahead (at most six years are looked at).
        this_year = _wall(after, zone).year
        for year in range(max(value.year + 1, this_year - 2), min(this_year + 4, date.max.year + 1)):
            occurrence = self._occurrence(_anniversary(value, year), zone)
            if occurrence is not None and occurrence > after:
                return occurrence
        return None


@dataclass(frozen=True)
class IntervalConfig:
    every: int
    unit: IntervalUnit
    max_triggers: int | None = None
    schedule_type: ClassVar[ScheduleType] = ScheduleType.INTERVAL

    def as_dict(self) -> dict[str, Any]:
        return {"every": self.every, "unit": self.unit.value, "max_triggers": self.max_triggers}

    def next_trigger(
        self, subscribed_at: datetime, zone: ZoneInfo, after: datetime, *, trigger_count: int
    ) -> datetime | None:
        """The first occurrence strictly after ``after``; ``None`` once ``max_triggers`` fires happened."""
        if self.max_triggers is not None and trigger_count >= self.max_triggers:
            return None
        start, after = _aware(subscribed_at), _aware(after)
        try:
            if self.unit is IntervalUnit.HOURS:
                period = timedelta(hours=self.every)
                count = max(1, (after - start) // period)
                while (instant := start + count * period) <= after:
                    count += 1
                return instant
            days = timedelta(days=self.every * (7 if self.unit is IntervalUnit.WEEKS else 1))
            start_wall = _wall(start, zone)
            # One period early: daylight saving moves the instants of wall-clock days by an hour.
            count = max(1, (_wall(after, zone) - start_wall) // days - 1)
            while (instant := resolve_wall_time(start_wall + count * days, zone)) <= after:
                count += 1
            return instant
        except OverflowError:
            return None  # past year 9999


@dataclass(frozen=True)
class CronConfig:
    schedule: CronSchedule
    schedule_type: ClassVar[ScheduleType] = ScheduleType.CRON

    def as_dict(self) -> dict[str, Any]:
        return {"cron_expression": self.schedule.expression}

    def next_trigger(self, zone: ZoneInfo, after: datetime) -> datetime:
        return self.schedule.next_fire(zone, after)


@dataclass(frozen=True)
class ThresholdConfig:
    counter: str
    operator: str  # one of >=, >, ==, <=, <
    threshold: Decimal
    schedule_type: ClassVar[ScheduleType] = ScheduleType.THRESHOLD

    def as_dict(self) -> dict[str, Any]:
        exact = self.threshold == self.threshold.to_integral_value()
        return {
            "counter": self.counter,
            "operator": self.operator,
            "threshold": int(self.threshold) if exact else float(self.threshold),
        }

    def holds(self, value: Decimal | int | None) -> bool:
        """``counter <operator> threshold``, a missing counter read as 0 (as tier qualification does)."""
        return _COMPARE[self.operator](Decimal(0 if value is None else value), self.threshold)

    def crossed(self, before: Decimal | int | None, after: Decimal | int | None) -> bool:
        """True when a counter change from ``before`` to ``after`` newly satisfies the comparison."""
        return not self.holds(before) and self.holds(after)


ScheduleConfig = AttributeDateConfig | IntervalConfig | CronConfig | ThresholdConfig

_KEYS: dict[ScheduleType, tuple[frozenset[str], frozenset[str]]] = {  # (required, optional)
    ScheduleType.ATTRIBUTE_DATE: (frozenset({"attribute"}), frozenset({"recurrence", "offset_days", "time_of_day"})),
    ScheduleType.INTERVAL: (frozenset({"every", "unit"}), frozenset({"max_triggers"})),
    ScheduleType.CRON: (frozenset({"cron_expression"}), frozenset()),
    ScheduleType.THRESHOLD: (frozenset({"counter", "operator", "threshold"}), frozenset()),
}


def _name(config: Mapping[str, Any], key: str, field: str) -> str:
    value = config[key]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise ScheduleError(
            f"{field}.{key} must be a non-empty string of at most {MAX_NAME_LENGTH} characters",
            field=f"{field}.{key}",
            received=value,
        )
    return value


def _integer(config: Mapping[str, Any], key: str, field: str, low: int, high: int) -> int:
    value = config[key]
    # bool is an int to Python, not to a JSON client; 30.0 is accepted as 30.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScheduleError(
            f"{field}.{key} must be an integer from {low} to {high}", field=f"{field}.{key}", received=value
        )
    return value


def _choice[E: StrEnum](config: Mapping[str, Any], key: str, field: str, choices: type[E]) -> E:
    value = config[key]
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(member.value for member in choices)
        raise ScheduleError(
            f"{field}.{key} must be one of {allowed}", field=f"{field}.{key}", reason="enum", received=value
        ) from None


def _number(config: Mapping[str, Any], key: str, field: str) -> Decimal:
    value = config[key]
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return number
    raise ScheduleError(f"{field}.{key} must be a number", field=f"{field}.{key}", received=value)


def parse_schedule_type(value: object, *, field: str = "schedule_type") -> ScheduleType:
    try:
        return ScheduleType(str(value) if isinstance(value, str) else "")
    except ValueError:
        allowed = ", ".join(member.value for member in ScheduleType)
        raise ScheduleError(f"{field} must be one of {allowed}", field=field, reason="enum", received=value) from None


def parse_schedule_config(
    schedule_type: object, config: object, *, field: str = "schedule_config", type_field: str = "schedule_type"
) -> ScheduleConfig:
    """Validate a participant_state ``schedule_config`` for its ``schedule_type`` (module docstring).

    Strict: a key the type does not define, or a required key missing, is a ``ScheduleError``
    naming ``{field}.{key}``.
    """
    kind = parse_schedule_type(schedule_type, field=type_field)
    if not isinstance(config, Mapping):
        raise ScheduleError(f"{field} must be an object", field=field, received=config)
    required, optional = _KEYS[kind]
    for key in config:
        if key not in required | optional:
            raise ScheduleError(
                f"{field}.{key} is not a {kind.value} setting (allowed: {', '.join(sorted(required | optional))})",
                field=f"{field}.{key}",
                reason="not_allowed",
            )
    for key in sorted(required):
        if config.get(key) is None:
            raise ScheduleError(
                f"{field}.{key} is required for {kind.value}", field=f"{field}.{key}", reason="required"
            )
    if kind is ScheduleType.ATTRIBUTE_DATE:
        return _attribute_date_config(config, field)
    if kind is ScheduleType.INTERVAL:
        max_triggers = None
        if config.get("max_triggers") is not None:
            max_triggers = _integer(config, "max_triggers", field, 1, MAX_TRIGGERS)
        return IntervalConfig(
            every=_integer(config, "every", field, 1, MAX_EVERY),
            unit=_choice(config, "unit", field, IntervalUnit),
            max_triggers=max_triggers,
        )
    if kind is ScheduleType.CRON:
        return CronConfig(parse_cron(config["cron_expression"], field=f"{field}.cron_expression"))
    operator_name = config["operator"]
    if operator_name not in _COMPARE:
        raise ScheduleError(
            f"{field}.operator must be one of {', '.join(_COMPARE)}",
            field=f"{field}.operator",
            reason="enum",
            received=operator_name,
        )
    return ThresholdConfig(
        counter=_name(config, "counter", field), operator=operator_name, threshold=_number(config, "threshold", field)
    )


def _attribute_date_config(config: Mapping[str, Any], field: str) -> AttributeDateConfig:
    recurrence = Recurrence.YEARLY
    if config.get("recurrence") is not None:
        recurrence = _choice(config, "recurrence", field, Recurrence)
    offset_days = 0
    if config.get("offset_days") is not None:
        offset_days = _integer(config, "offset_days", field, -MAX_OFFSET_DAYS, MAX_OFFSET_DAYS)
    time_of_day = time(0, 0)
    if config.get("time_of_day") is not None:
        text = config["time_of_day"]
        match = _TIME_OF_DAY.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ScheduleError(
                f"{field}.time_of_day must be HH:MM from 00:00 to 23:59",
                field=f"{field}.time_of_day",
                reason="pattern",
                received=text,
            )
        time_of_day = time(int(match.group(1)), int(match.group(2)))
    return AttributeDateConfig(
        attribute=_name(config, "attribute", field),
        recurrence=recurrence,
        offset_days=offset_days,
        time_of_day=time_of_day,
    )


def next_subscription_trigger(
    config: ScheduleConfig,
    zone: ZoneInfo,
    after: datetime,
    *,
    subscribed_at: datetime,
    trigger_count: int,
    attributes: Mapping[str, Any],
) -> datetime | None:
    """A subscription's ``next_trigger_at`` (§1.8) computed after ``after`` (now, at subscribe or
    after a fire); ``None`` when it has no further timed occurrence and completes. THRESHOLD
    subscriptions are never timed: counter changes fire them (``ThresholdConfig.crossed``)."""
    if isinstance(config, AttributeDateConfig):
        value = config.date_in(attributes)
        if value is None or (config.recurrence is Recurrence.ONCE and trigger_count >= 1):
            return None
        return config.next_trigger(value, zone, after)
    if isinstance(config, IntervalConfig):
        return config.next_trigger(subscribed_at, zone, after, trigger_count=trigger_count)
    if isinstance(config, CronConfig):
        return config.next_trigger(zone, after)
    return None
