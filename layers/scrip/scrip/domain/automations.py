"""Automations (06 §1): the resource, its enums, the trigger x scope rules and the generated event.

Pure: no storage, no clock, no HTTP. The schedule arithmetic (cron, zones, participant-state
configs) lives in ``domain/schedules.py``; this module decides which fields an automation may
have for its trigger type and scope (§1.1, §1.4, §1.7.4) and what its fires generate (§1.9).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain import cel, schedules
from scrip.domain.clock import to_rfc3339
from scrip.domain.errors import ValidationFailed
from scrip.domain.schedules import ScheduleType as ScheduleType  # re-exported: part of the shared model


class TriggerType(StrEnum):
    CRON = "cron"
    ONE_TIME = "one_time"
    IMMEDIATE = "immediate"
    PARTICIPANT_STATE = "participant_state"


class Scope(StrEnum):
    PROGRAM = "program"
    PARTICIPANTS = "participants"


class AutomationStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class ExecutionStatus(StrEnum):
    IDLE = "idle"
    PENDING = "pending"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"


class AutomationSource(StrEnum):
    API = "api"
    RULE_ACTION = "rule_action"


class FilterHintType(StrEnum):
    HAS_TAG = "has_tag"
    HAS_ATTRIBUTE = "has_attribute"
    HAS_COUNTER = "has_counter"


@dataclass(frozen=True)
class FilterHint:
    """``{"type": "has_tag", "key": "vip"}`` (§1.6, shape [inferred]): candidates must have it."""

    type: FilterHintType
    key: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type.value, "key": self.key}


@dataclass(frozen=True)
class Automation:
    """An automation as stored (§1.3). Fields that do not apply to its trigger type or scope are
    ``None`` (the fan-out counters of a program-scoped automation, a cron's ``trigger_at``...)."""

    id: str
    program_id: str
    organization_id: str
    name: str
    event_name: str
    scope: Scope
    trigger_type: TriggerType
    status: AutomationStatus
    source: AutomationSource
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    payload: dict[str, Any] | None = None
    # cron
    cron_expression: str | None = None
    timezone: str | None = None  # cron and participant_state; "UTC" when not given
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    # one_time
    trigger_at: datetime | None = None
    processed_at: datetime | None = None
    error_message: str | None = None
    participant_id: str | None = None  # one_time + program only
    # participant_state
    schedule_type: ScheduleType | None = None
    schedule_config: dict[str, Any] | None = None  # as given, validated by schedules.parse_schedule_config
    last_evaluated_at: datetime | None = None
    # The periodic refresh of §1.7.9: when the scheduler starts the next one, and the job of the
    # last one it started (a fire while that job still runs is skipped). Not rendered.
    next_refresh_at: datetime | None = None
    refresh_job_id: str | None = None
    # participants scope
    participant_filter: str | None = None
    guard_condition: str | None = None
    filter_hints: tuple[FilterHint, ...] = field(default_factory=tuple)
    execution_status: ExecutionStatus | None = None
    execution_started_at: datetime | None = None
    execution_completed_at: datetime | None = None
    execution_error: str | None = None
    participants_total: int | None = None
    participants_processed: int | None = None
    # source = rule_action (§1.10): the rule and the event whose action created it. Not rendered
    # (the resource has no such fields): the description names both.
    rule_id: str | None = None
    origin_event_id: str | None = None
    version: int = 1

    @property
    def due_at(self) -> datetime | None:
        """When the scheduler must pick this automation up, or None when it has no due entry:
        only an active cron (``next_run_at``), unprocessed one_time (``trigger_at``) or
        participant_state automation (``next_refresh_at``, its periodic refresh)."""
        if self.status is not AutomationStatus.ACTIVE:
            return None
        if self.trigger_type is TriggerType.CRON:
            return self.next_run_at
        if self.trigger_type is TriggerType.PARTICIPANT_STATE:
            return self.next_refresh_at
        if self.trigger_type is TriggerType.ONE_TIME and self.processed_at is None:
            return self.trigger_at
        return None


def generated_event_data(automation: Automation) -> dict[str, Any]:
    """The ``event_data`` of a generated event (§1.9): the payload, with ``type`` = event_name
    (the event name wins over a ``type`` key in the payload)."""
    data: dict[str, Any] = dict(automation.payload or {})
    data["type"] = automation.event_name
    return data


# Rule-action automation ids are derived: one event's action always names the same automation,
# so a replanned or redelivered event creates it once.
_RULE_ACTION_NAMESPACE = uuid.UUID("5b0e7d3c-2f4a-4c1e-9a6b-8d2f1e0c7b94")


def rule_action_automation(
    *,
    organization_id: str,
    program_id: str,
    action_type: str,
    event_id: str,
    rule_id: str,
    rule_name: str,
    index: int,
    event_name: str,
    payload: dict[str, Any] | None,
    now: datetime,
    trigger_at: datetime | None = None,
    participant_id: str | None = None,
) -> Automation:
    """The automation a SCHEDULE_EVENT or BROADCAST action creates (§1.10 [inferred mapping]):
    SCHEDULE_EVENT → ``one_time``, ``scope=program`` at ``trigger_at`` for ``participant_id``
    (None: the program's, when the source event had none); BROADCAST → ``immediate``,
    ``scope=participants``, its run pending. Id from event, rule and action index; the name
    (unique within the program, as any automation's) says the same."""
    ref = f"{event_id}:{rule_id}:{index}"
    common: dict[str, Any] = {
        "id": str(uuid.uuid5(_RULE_ACTION_NAMESPACE, ref)),
        "program_id": program_id,
        "organization_id": organization_id,
        "name": f"{action_type} {ref}",
        "description": f'Created by action {index} ({action_type}) of rule "{rule_name}" ({rule_id}) '
        f"for event {event_id}",
        "event_name": event_name,
        "payload": payload,
        "status": AutomationStatus.ACTIVE,
        "source": AutomationSource.RULE_ACTION,
        "created_at": now,
        "updated_at": now,
        "rule_id": rule_id,
        "origin_event_id": event_id,
    }
    if trigger_at is not None:
        return Automation(
            **common,
            scope=Scope.PROGRAM,
            trigger_type=TriggerType.ONE_TIME,
            trigger_at=trigger_at,
            participant_id=participant_id,
        )
    return Automation(
        **common,
        scope=Scope.PARTICIPANTS,
        trigger_type=TriggerType.IMMEDIATE,
        execution_status=ExecutionStatus.PENDING,
        participants_total=0,
        participants_processed=0,
    )


def idempotency_key(automation_id: str, fire_instant: datetime, participant_id: str | None = None) -> str:
    """``automation:{id}:{fire_instant}[:{participant_id}]`` (§1.9): the same fire (a retried tick
    names the stored instant) always gives the same key, so it never ingests twice."""
    key = f"automation:{automation_id}:{to_rfc3339(fire_instant)}"
    return f"{key}:{participant_id}" if participant_id is not None else key


def parse_filter_hints(value: object, *, field_name: str = "filter_hints") -> tuple[FilterHint, ...]:
    """Strict: a list of ``{"type", "key"}`` objects with a known type and a non-empty key."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValidationFailed(f"{field_name} must be an array", field=field_name, received=value)
    hints: list[FilterHint] = []
    for index, raw in enumerate(value):
        where = f"{field_name}[{index}]"
        if not isinstance(raw, Mapping) or set(raw) != {"type", "key"}:
            raise ValidationFailed(f'{where} must be an object {{"type", "key"}}', field=where, received=raw)
        try:
            kind = FilterHintType(raw["type"])
        except ValueError:
            allowed = ", ".join(member.value for member in FilterHintType)
            raise ValidationFailed(
                f"{where}.type must be one of {allowed}", field=f"{where}.type", reason="enum", received=raw["type"]
            ) from None
        key = raw["key"]
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise ValidationFailed(f"{where}.key must be a string of 1-255 characters", field=f"{where}.key")
        hints.append(FilterHint(kind, key))
    return tuple(hints)


# --- validation (§1.1, §1.4, §1.7.4) -----------------------------------------------------------

# The trigger settings each trigger type takes (§1.4 "must have" / "must not have"). A timezone
# means nothing to a one_time instant or an immediate fire, so it is refused there [inferred].
_TRIGGER_FIELDS = ("cron_expression", "timezone", "trigger_at", "schedule_type", "schedule_config")
_REQUIRED: dict[TriggerType, tuple[str, ...]] = {
    TriggerType.CRON: ("cron_expression",),
    TriggerType.ONE_TIME: ("trigger_at",),
    TriggerType.IMMEDIATE: (),
    TriggerType.PARTICIPANT_STATE: ("schedule_type", "schedule_config"),
}
_ALLOWED: dict[TriggerType, frozenset[str]] = {
    TriggerType.CRON: frozenset({"cron_expression", "timezone"}),
    TriggerType.ONE_TIME: frozenset({"trigger_at"}),
    TriggerType.IMMEDIATE: frozenset(),
    TriggerType.PARTICIPANT_STATE: frozenset({"schedule_type", "schedule_config", "timezone"}),
}
# Only participants-scoped automations fan out; these trigger types exist only for them (§1.1).
_PARTICIPANTS_ONLY = frozenset({TriggerType.IMMEDIATE, TriggerType.PARTICIPANT_STATE})
IMMUTABLE_FIELDS = ("trigger_type", "scope", "schedule_type", "participant_id", "program_id", "source")


def _not_allowed(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field=field_name, reason="not_allowed")


def check_cel(text: str, field_name: str) -> None:
    """Compile ``text`` with the rule conditions' CEL environment and cost bound (03 §3.7): a 400
    naming the field and, when the parser gives one, the line and column of the fault."""
    try:
        cel.check(text)
    except cel.CelError as error:
        costly = isinstance(error, cel.CostlyExpression)
        failure = ValidationFailed(
            f"{field_name} is {'too costly to evaluate' if costly else 'not valid CEL'}: {error.message}",
            field=field_name,
            reason="cel_cost" if costly else "cel",
            received=text,
        )
        assert failure.details is not None
        if error.line is not None:
            failure.details["line"] = error.line
        if error.column is not None:
            failure.details["column"] = error.column
            failure.details["position"] = error.column
        raise failure from None


def _check_targeting(
    scope: Scope,
    trigger_type: TriggerType,
    participant_id: str | None,
    participant_filter: str | None,
    guard_condition: str | None,
    filter_hints: tuple[FilterHint, ...],
) -> None:
    """The fields of §1.4 / §1.6 that depend on scope, and the CEL they hold."""
    if participant_id is not None and not (scope is Scope.PROGRAM and trigger_type is TriggerType.ONE_TIME):
        raise _not_allowed("participant_id", "participant_id applies only to scope=program with a one_time trigger")
    if scope is Scope.PROGRAM:
        if participant_filter is not None:
            raise _not_allowed("participant_filter", "participant_filter applies only to scope=participants")
        if filter_hints:
            raise _not_allowed("filter_hints", "filter_hints apply only to scope=participants")
        if guard_condition is not None and participant_id is None:
            # A guard is checked per participant: a program-wide event has none to check it on.
            raise _not_allowed(
                "guard_condition", "guard_condition applies to participant runs: scope=participants or participant_id"
            )
    if participant_filter is not None:
        check_cel(participant_filter, "participant_filter")
    if guard_condition is not None:
        check_cel(guard_condition, "guard_condition")


def _schedule(trigger_type: TriggerType, settings: Mapping[str, Any], now: datetime, *, prefix: str) -> dict[str, Any]:
    """Validate the trigger settings of a type and derive what is stored from them: the fields
    of ``Automation`` they set (``next_run_at`` for a cron, ``timezone`` defaulted...)."""
    if trigger_type is TriggerType.CRON:
        timezone = settings.get("timezone", schedules.DEFAULT_TIMEZONE)
        zone = schedules.parse_zone(timezone, field=f"{prefix}timezone")
        cron = schedules.parse_cron(settings["cron_expression"], field=f"{prefix}cron_expression")
        return {
            "cron_expression": settings["cron_expression"],
            "timezone": timezone,
            "next_run_at": cron.next_fire(zone, now),
        }
    if trigger_type is TriggerType.ONE_TIME:
        return {"trigger_at": settings["trigger_at"]}
    if trigger_type is TriggerType.PARTICIPANT_STATE:
        timezone = settings.get("timezone", schedules.DEFAULT_TIMEZONE)
        schedules.parse_zone(timezone, field=f"{prefix}timezone")
        schedule_type = schedules.parse_schedule_type(settings["schedule_type"], field=f"{prefix}schedule_type")
        schedules.parse_schedule_config(
            schedule_type,
            settings["schedule_config"],
            field=f"{prefix}schedule_config",
            type_field=f"{prefix}schedule_type",
        )
        return {
            "schedule_type": schedule_type,
            "schedule_config": dict(settings["schedule_config"]),
            "timezone": timezone,
        }
    return {}


def new_automation(
    *,
    organization_id: str,
    program_id: str,
    automation_id: str,
    now: datetime,
    name: str,
    event_name: str,
    scope: Scope,
    trigger: Mapping[str, Any],
    description: str | None = None,
    payload: dict[str, Any] | None = None,
    participant_filter: str | None = None,
    guard_condition: str | None = None,
    filter_hints: object = None,
    participant_id: str | None = None,
    source: AutomationSource = AutomationSource.API,
) -> Automation:
    """A new active automation (§1.7.1), or the 400 of the first rule of §1.4 it breaks.

    ``trigger`` holds ``type`` and the settings sent; a setting given as null counts as absent.
    """
    trigger_type = TriggerType(trigger["type"])
    settings = {k: v for k, v in trigger.items() if k in _TRIGGER_FIELDS and v is not None}
    if trigger_type in _PARTICIPANTS_ONLY and scope is not Scope.PARTICIPANTS:
        raise ValidationFailed(
            f"a {trigger_type.value} trigger requires scope=participants (§1.1)",
            field="scope",
            reason="invalid_combination",
            received=scope.value,
        )
    for key in _REQUIRED[trigger_type]:
        if key not in settings:
            raise ValidationFailed(
                f"trigger.{key} is required for a {trigger_type.value} trigger",
                field=f"trigger.{key}",
                reason="required",
            )
    for key in settings:
        if key not in _ALLOWED[trigger_type]:
            raise _not_allowed(f"trigger.{key}", f"trigger.{key} does not apply to a {trigger_type.value} trigger")
    hints = parse_filter_hints(filter_hints)
    _check_targeting(scope, trigger_type, participant_id, participant_filter, guard_condition, hints)
    fans_out = scope is Scope.PARTICIPANTS
    return Automation(
        id=automation_id,
        program_id=program_id,
        organization_id=organization_id,
        name=name,
        description=description,
        event_name=event_name,
        payload=payload,
        scope=scope,
        trigger_type=trigger_type,
        status=AutomationStatus.ACTIVE,
        source=source,
        participant_id=participant_id,
        participant_filter=participant_filter,
        guard_condition=guard_condition,
        filter_hints=hints,
        # An immediate automation's one fan-out is queued by its creation (§1.5.3).
        execution_status=(
            (ExecutionStatus.PENDING if trigger_type is TriggerType.IMMEDIATE else ExecutionStatus.IDLE)
            if fans_out
            else None
        ),
        participants_total=0 if fans_out else None,
        participants_processed=0 if fans_out else None,
        created_at=now,
        updated_at=now,
        **_schedule(trigger_type, settings, now, prefix="trigger."),
    )


# What a PATCH may change, per trigger type (§1.7.4); the others apply to every type.
_PATCH_TRIGGER_FIELDS: dict[str, frozenset[TriggerType]] = {
    "cron_expression": frozenset({TriggerType.CRON}),
    "timezone": frozenset({TriggerType.CRON, TriggerType.PARTICIPANT_STATE}),
    "trigger_at": frozenset({TriggerType.ONE_TIME}),
    "schedule_config": frozenset({TriggerType.PARTICIPANT_STATE}),
}
_NOT_NULL = ("name", "event_name", "status", "cron_expression", "timezone", "trigger_at", "schedule_config")


class AutomationArchived(ValidationFailed):
    """Archived is terminal (§1.7.4): 400, as the spec infers."""

    def __init__(self, automation_id: str) -> None:
        super().__init__(
            f"automation {automation_id} is archived and cannot be modified", field="status", reason="archived"
        )


def apply_update(current: Automation, changes: Mapping[str, Any], now: datetime) -> Automation:
    """The automation after a PATCH (§1.7.4), version not yet bumped; ``current`` itself when
    nothing changes. Raises the 400s of §1.7.4."""
    for key in IMMUTABLE_FIELDS:
        if key in changes:
            raise _not_allowed(key, f"{key} cannot be changed")
    if current.status is AutomationStatus.ARCHIVED:
        raise AutomationArchived(current.id)
    for key in _NOT_NULL:
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be null", field=key, reason="required")
    for key, types in _PATCH_TRIGGER_FIELDS.items():
        if key in changes and current.trigger_type not in types:
            raise _not_allowed(key, f"{key} does not apply to a {current.trigger_type.value} trigger")
    if "status" in changes and AutomationStatus(changes["status"]) is AutomationStatus.ARCHIVED:
        raise _not_allowed("status", "status can be set to active or paused; DELETE archives")
    if "trigger_at" in changes and current.processed_at is not None:
        raise _not_allowed("trigger_at", "this one_time automation was already processed")

    fields: dict[str, Any] = {}
    for key in ("name", "description", "event_name", "payload", "participant_filter", "guard_condition"):
        if key in changes:
            fields[key] = changes[key]
    if "filter_hints" in changes:
        fields["filter_hints"] = parse_filter_hints(changes["filter_hints"])
    if "status" in changes:
        fields["status"] = AutomationStatus(changes["status"])
    updated = dataclasses.replace(current, **fields)
    _check_targeting(
        updated.scope,
        updated.trigger_type,
        updated.participant_id,
        updated.participant_filter if "participant_filter" in changes else None,
        updated.guard_condition if "guard_condition" in changes else None,
        updated.filter_hints,
    )
    if updated.trigger_type is not TriggerType.IMMEDIATE:
        schedule_keys = ("cron_expression", "timezone", "trigger_at", "schedule_config")
        if any(key in changes for key in schedule_keys):
            settings = {
                "cron_expression": updated.cron_expression,
                "timezone": updated.timezone,
                "trigger_at": updated.trigger_at,
                "schedule_type": updated.schedule_type,
                "schedule_config": updated.schedule_config,
                **{key: changes[key] for key in schedule_keys if key in changes},
            }
            updated = dataclasses.replace(updated, **_schedule(updated.trigger_type, settings, now, prefix=""))
    if updated.trigger_type is TriggerType.CRON:
        if updated.status is AutomationStatus.PAUSED:
            # A paused cron has no next run: it leaves the due index, and resuming computes it
            # afresh from now, so runs missed while paused are not back-filled (§1.7.4).
            updated = dataclasses.replace(updated, next_run_at=None)
        elif current.status is AutomationStatus.PAUSED and updated.next_run_at is None:
            assert updated.cron_expression is not None and updated.timezone is not None
            updated = dataclasses.replace(
                updated, next_run_at=schedules.next_fire(updated.cron_expression, updated.timezone, now)
            )
    if updated == current:
        return current
    return dataclasses.replace(updated, updated_at=now)


def archived(current: Automation, now: datetime) -> Automation:
    """The automation archived (§1.7.5): terminal, no next run, out of the due index. The version
    is not yet bumped."""
    return dataclasses.replace(current, status=AutomationStatus.ARCHIVED, next_run_at=None, updated_at=now)
