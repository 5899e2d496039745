"""Tier definitions and a participant's place in them (02 §4).

A tier is a ladder of levels ordered by rank inside one program; its lifecycle policy (None for a
rules-only tier) tells the lifecycle job how levels are retained and lost. A participant's (or
group's) current level in one tier is a TierState. Pure: no storage, no HTTP.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from scrip.domain.errors import ApiError, Conflict, ValidationFailed
from scrip.domain.state import parse_duration

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
MAX_KEY_LENGTH = 100
MAX_LEVELS = 50  # [inferred] the spec names no limit; the whole tier is one item (400 KB)
MAX_CRITERIA = 20  # [inferred]
MAX_BENEFITS_BYTES = 4096  # [inferred] per level, as JSON; keeps the tier item far below 400 KB


class TierStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class RetentionMode(StrEnum):
    PERIOD_BASED = "PERIOD_BASED"
    ACTIVITY_REFRESH = "ACTIVITY_REFRESH"


class QualificationPeriodType(StrEnum):
    CALENDAR_YEAR = "CALENDAR_YEAR"
    FIXED_YEAR = "FIXED_YEAR"
    NONE = "NONE"


class DowngradeMode(StrEnum):
    DROP_TO_QUALIFYING = "DROP_TO_QUALIFYING"
    DROP_ONE = "DROP_ONE"
    HOLD = "HOLD"


class CounterRollover(StrEnum):
    NONE = "NONE"
    EXCESS = "EXCESS"


class QualificationMode(StrEnum):
    ALL = "ALL"
    ANY = "ANY"


class QualificationOperator(StrEnum):
    GTE = ">="
    GT = ">"
    EQ = "=="
    LTE = "<="
    LT = "<"


@dataclass(frozen=True)
class Criterion:
    counter: str
    operator: QualificationOperator
    threshold: Decimal


@dataclass(frozen=True)
class Qualification:
    mode: QualificationMode
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Level:
    id: str
    key: str
    rank: int
    display_name: str | None
    qualification: Qualification | None
    benefits: dict[str, Any] | None
    color: str | None
    icon_url: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Lifecycle:
    retention_mode: RetentionMode | None
    retention_duration: timedelta | None
    period_type: QualificationPeriodType | None
    start_month: int | None
    start_day: int | None
    extend_months: int
    downgrade_mode: DowngradeMode
    grace_days: int
    min_level: str | None
    rollover: CounterRollover | None
    qualifying_counters: tuple[str, ...]


@dataclass(frozen=True)
class Tier:
    id: str
    program_id: str
    key: str
    display_name: str | None
    levels: tuple[Level, ...]  # rank ascending
    lifecycle: Lifecycle | None  # None: a rules-only tier
    status: TierStatus
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def level(self, key: str) -> Level | None:
        return next((lv for lv in self.levels if lv.key == key), None)

    def by_rank(self, rank: int) -> Level | None:
        return next((lv for lv in self.levels if lv.rank == rank), None)


@dataclass(frozen=True)
class TierState:
    """A participant's (or group's) current level in one tier."""

    program_id: str
    tier_key: str
    level: str
    rank: int
    acquired_at: datetime
    expires_at: datetime | None
    # True when ``expires_at`` was set explicitly (API or SET_TIER): the level is removed then,
    # without the downgrade policy. False: ``expires_at`` is the lifecycle's next re-evaluation.
    explicit: bool = False
    # The end of a grace window a lapse granted (then equal to ``expires_at``): the next lapse
    # decision grants no second one (``tier_lifecycle.lapse``).
    grace_until: datetime | None = None


# ------------------------------------------------------------------ errors


class TierArchived(ApiError):
    """02 §4.7.4: an archived tier is read-only (PATCH, archive again, participant PUT)."""

    status, code = 409, "tier_archived"

    def __init__(self, tier_key: str) -> None:
        super().__init__(f"tier {tier_key!r} is archived", details={"tier_key": tier_key})


class ProgramArchived(ApiError):
    """02 §4.7.5: tiers of an archived program cannot be created or changed (409 [inferred code])."""

    status, code = 409, "program_archived"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id} is ARCHIVED; its tiers cannot be created or changed",
            details={"program_id": program_id},
        )


# ------------------------------------------------------------ validation
#
# Bodies arrive as plain JSON values already checked for shape and enum values (the API's
# schemas); what is checked here spans fields or levels, so it holds whoever calls.


def _invalid(message: str, field: str, reason: str = "invalid", received: Any = None) -> ValidationFailed:
    return ValidationFailed(message, field=field, reason=reason, received=received)


def parse_qualification(body: Mapping[str, Any] | None, *, field: str) -> Qualification | None:
    """``None`` or ``{}``: no auto-advancement into the level (02 §4.3)."""
    if not body:
        return None
    if "mode" not in body or body["mode"] is None:
        raise _invalid("qualification.mode is required", f"{field}.mode", "required")
    criteria = body.get("criteria") or []
    if not criteria:
        raise _invalid("qualification needs at least one criterion", f"{field}.criteria", "required")
    if len(criteria) > MAX_CRITERIA:
        raise _invalid(f"at most {MAX_CRITERIA} criteria", f"{field}.criteria", "too_many", len(criteria))
    return Qualification(
        mode=QualificationMode(body["mode"]),
        criteria=tuple(
            Criterion(
                counter=str(c["counter"]),
                operator=QualificationOperator(c["operator"]),
                threshold=Decimal(str(c["threshold"])),
            )
            for c in criteria
        ),
    )


def _section(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return body.get(name) or {}


def parse_lifecycle(body: Mapping[str, Any] | None) -> Lifecycle | None:
    """``None`` or ``{}``: a rules-only tier. Level keys (``min_level``) are checked by ``check_tier``."""
    if not body:
        return None
    retention = _section(body, "retention")
    period = _section(body, "qualification_period")
    validity = _section(body, "status_validity")
    downgrade = _section(body, "downgrade_policy")
    counters = _section(body, "counters")
    retention_mode = RetentionMode(retention["mode"]) if retention.get("mode") else None
    duration_text = retention.get("duration")
    duration = parse_duration(duration_text, field="lifecycle.retention.duration") if duration_text else None
    if retention_mode is RetentionMode.ACTIVITY_REFRESH and duration is None:
        raise _invalid(
            "ACTIVITY_REFRESH needs retention.duration (the inactivity window)",
            "lifecycle.retention.duration",
            "required",
        )
    period_type = QualificationPeriodType(period["type"]) if period.get("type") else None
    start_month, start_day = period.get("start_month"), period.get("start_day")
    if period_type is QualificationPeriodType.FIXED_YEAR:
        if start_month is None or start_day is None:
            raise _invalid(
                "FIXED_YEAR needs start_month and start_day",
                "lifecycle.qualification_period.start_month"
                if start_month is None
                else "lifecycle.qualification_period.start_day",
                "required",
            )
        # The start must exist every year: 29 February is refused [inferred].
        if start_day > calendar.monthrange(2001, int(start_month))[1]:
            raise _invalid(
                f"start_day {start_day} does not exist in month {start_month} every year",
                "lifecycle.qualification_period.start_day",
                "invalid_day",
                start_day,
            )
    rollover = counters.get("rollover")
    return Lifecycle(
        retention_mode=retention_mode,
        retention_duration=duration,
        period_type=period_type,
        start_month=int(start_month) if start_month is not None else None,
        start_day=int(start_day) if start_day is not None else None,
        extend_months=int(validity.get("extend_months") or 0),
        downgrade_mode=DowngradeMode(downgrade.get("mode") or DowngradeMode.DROP_TO_QUALIFYING),
        grace_days=int(downgrade.get("grace_days") or 0),
        min_level=downgrade.get("min_level"),
        rollover=CounterRollover(rollover) if rollover else None,
        qualifying_counters=tuple(dict.fromkeys(str(c) for c in counters.get("qualifying") or [])),
    )


def _check_benefits(benefits: Any, field: str) -> dict[str, Any] | None:
    if benefits is None:
        return None
    if len(json.dumps(benefits, separators=(",", ":"), allow_nan=False)) > MAX_BENEFITS_BYTES:
        raise _invalid(f"benefits is at most {MAX_BENEFITS_BYTES} bytes as JSON", field, "too_large")
    return dict(benefits)


def _new_level(body: Mapping[str, Any], index: int, level_id: str, now: datetime) -> Level:
    field = f"levels[{index}]"
    if body.get("rank") is None:
        raise _invalid("a new level needs a rank", f"{field}.rank", "required")
    return Level(
        id=level_id,
        key=str(body["key"]),
        rank=int(body["rank"]),
        display_name=body.get("display_name"),
        qualification=parse_qualification(body.get("qualification"), field=f"{field}.qualification"),
        benefits=_check_benefits(body.get("benefits"), f"{field}.benefits"),
        color=body.get("color"),
        icon_url=body.get("icon_url"),
        created_at=now,
        updated_at=now,
    )


def _check_request_levels(levels: list[Mapping[str, Any]]) -> None:
    """Duplicate keys or ranks inside one request are 400 (02 §4.8.1)."""
    seen_keys: set[str] = set()
    seen_ranks: set[int] = set()
    for index, level in enumerate(levels):
        key, rank = level["key"], level.get("rank")
        if key in seen_keys:
            raise _invalid(f"level key {key!r} is listed twice", f"levels[{index}].key", "duplicate", key)
        seen_keys.add(key)
        if rank is not None:
            if rank in seen_ranks:
                raise _invalid(f"rank {rank} is listed twice", f"levels[{index}].rank", "duplicate", rank)
            seen_ranks.add(rank)


def check_tier(tier: Tier) -> Tier:
    """What must hold of a tier as stored: ranks unique, ``min_level`` one of its levels."""
    if len(tier.levels) > MAX_LEVELS:
        raise _invalid(f"a tier has at most {MAX_LEVELS} levels", "levels", "too_many", len(tier.levels))
    lifecycle = tier.lifecycle
    if lifecycle is not None and lifecycle.min_level is not None and tier.level(lifecycle.min_level) is None:
        raise _invalid(
            f"min_level {lifecycle.min_level!r} is not a level of this tier",
            "lifecycle.downgrade_policy.min_level",
            "unknown_level",
            lifecycle.min_level,
        )
    return tier


def _ordered(levels: list[Level]) -> tuple[Level, ...]:
    return tuple(sorted(levels, key=lambda level: level.rank))


def new_tier(
    *,
    tier_id: str,
    program_id: str,
    body: Mapping[str, Any],
    now: datetime,
    new_id: Callable[[], str],
) -> Tier:
    """A tier from a create body (02 §4.8.1): at least one level, keys and ranks unique."""
    levels_body = list(body.get("levels") or [])
    if not levels_body:
        raise _invalid("a tier needs at least one level", "levels", "required")
    _check_request_levels(levels_body)
    levels = [_new_level(level, index, new_id(), now) for index, level in enumerate(levels_body)]
    tier = Tier(
        id=tier_id,
        program_id=program_id,
        key=str(body["key"]),
        display_name=body.get("display_name"),
        levels=_ordered(levels),
        lifecycle=parse_lifecycle(body.get("lifecycle")),
        status=TierStatus.ACTIVE,
        archived_at=None,
        created_at=now,
        updated_at=now,
    )
    return check_tier(tier)


_LEVEL_FIELDS = ("display_name", "rank", "color", "icon_url")


def _updated_level(level: Level, body: Mapping[str, Any], index: int, now: datetime) -> Level:
    """Upsert of an existing level: fields sent change; ``qualification`` null/omitted keeps it,
    ``{}`` removes it (02 §4.8.4); ``rank`` null keeps it (a level always has one)."""
    field = f"levels[{index}]"
    updated = level
    for name in _LEVEL_FIELDS:
        if name in body and not (name == "rank" and body[name] is None):
            updated = replace(updated, **{name: body[name]})
    if "benefits" in body:
        updated = replace(updated, benefits=_check_benefits(body["benefits"], f"{field}.benefits"))
    if body.get("qualification") is not None:
        updated = replace(
            updated, qualification=parse_qualification(body["qualification"], field=f"{field}.qualification")
        )
    return updated if updated == level else replace(updated, updated_at=now)


def apply_update(tier: Tier, changes: Mapping[str, Any], now: datetime, new_id: Callable[[], str]) -> Tier:
    """Merge a PATCH body (02 §4.8.4) into ``tier``; ``tier`` itself when nothing changes.

    ``levels`` upserts by key (no deletion); a rank that ends up shared by two levels is 409
    ``conflict``. ``lifecycle``: omitted or null keeps it, ``{}`` clears it, an object replaces it.
    """
    if tier.status is TierStatus.ARCHIVED:
        raise TierArchived(tier.key)
    if "key" in changes and changes["key"] is not None and changes["key"] != tier.key:
        raise _invalid("a tier's key cannot change", "key", "immutable", changes["key"])
    updated = tier
    if "display_name" in changes:
        updated = replace(updated, display_name=changes["display_name"])
    if changes.get("levels") is not None:
        levels_body = list(changes["levels"])
        _check_request_levels(levels_body)
        levels = {level.key: level for level in tier.levels}
        for index, body in enumerate(levels_body):
            current = levels.get(body["key"])
            levels[body["key"]] = (
                _new_level(body, index, new_id(), now) if current is None else _updated_level(current, body, index, now)
            )
        by_rank: dict[int, str] = {}
        for level in levels.values():
            other = by_rank.setdefault(level.rank, level.key)
            if other != level.key:
                raise Conflict(
                    f"rank {level.rank} would be shared by levels {other!r} and {level.key!r}",
                    details={"field": "levels", "reason": "rank_conflict", "rank": level.rank},
                )
        updated = replace(updated, levels=_ordered(list(levels.values())))
    if changes.get("lifecycle") is not None:
        updated = replace(updated, lifecycle=parse_lifecycle(changes["lifecycle"]))
    if updated == tier:
        return tier
    return replace(check_tier(updated), updated_at=now)


def archive(tier: Tier, now: datetime) -> Tier:
    """One-way (02 §4.7.4): archiving an archived tier is 409 ``tier_archived``."""
    if tier.status is TierStatus.ARCHIVED:
        raise TierArchived(tier.key)
    return replace(tier, status=TierStatus.ARCHIVED, archived_at=now, updated_at=now)


# ------------------------------------------------------------ documents
#
# The JSON shapes of 02 §4.3-4.5, which the API renders and the tier item stores as text.


def format_duration(duration: timedelta) -> str:
    """A Go duration in hours, minutes and seconds (``2160h``, ``1h30m``)."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
    return text or "0s"


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def qualification_document(qualification: Qualification | None) -> dict[str, Any]:
    if qualification is None:
        return {}
    return {
        "mode": qualification.mode.value,
        "criteria": [
            {"counter": c.counter, "operator": c.operator.value, "threshold": json_number(c.threshold)}
            for c in qualification.criteria
        ],
    }


def lifecycle_document(lifecycle: Lifecycle | None) -> dict[str, Any]:
    """``{}`` for a rules-only tier (02 §4.2); sections only where something was set."""
    if lifecycle is None:
        return {}
    document: dict[str, Any] = {}
    if lifecycle.retention_mode is not None or lifecycle.retention_duration is not None:
        retention: dict[str, Any] = {}
        if lifecycle.retention_mode is not None:
            retention["mode"] = lifecycle.retention_mode.value
        if lifecycle.retention_duration is not None:
            retention["duration"] = format_duration(lifecycle.retention_duration)
        document["retention"] = retention
    if lifecycle.period_type is not None:
        period: dict[str, Any] = {"type": lifecycle.period_type.value}
        if lifecycle.start_month is not None:
            period["start_month"] = lifecycle.start_month
        if lifecycle.start_day is not None:
            period["start_day"] = lifecycle.start_day
        document["qualification_period"] = period
    document["status_validity"] = {"extend_months": lifecycle.extend_months}
    downgrade: dict[str, Any] = {"mode": lifecycle.downgrade_mode.value, "grace_days": lifecycle.grace_days}
    if lifecycle.min_level is not None:
        downgrade["min_level"] = lifecycle.min_level
    document["downgrade_policy"] = downgrade
    if lifecycle.rollover is not None or lifecycle.qualifying_counters:
        counters: dict[str, Any] = {"qualifying": list(lifecycle.qualifying_counters)}
        if lifecycle.rollover is not None:
            counters["rollover"] = lifecycle.rollover.value
        document["counters"] = counters
    return document
