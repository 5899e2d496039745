"""Automation schemas (06 §1.3, §1.4, §1.7.4)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, SerializerFunctionWrapHandler, StringConstraints, field_validator, model_serializer

from scrip.api.schemas.common import ApiModel, RequestModel, Rfc3339
from scrip.domain.automations import (
    Automation,
    AutomationSource,
    AutomationStatus,
    ExecutionStatus,
    FilterHintType,
    ScheduleType,
    Scope,
    TriggerType,
)
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none

MAX_PAYLOAD_BYTES = 8192

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=1000)]
Cel = Annotated[str, StringConstraints(min_length=1, max_length=4096)]

_NAME_TEXT = (
    "1-255 characters; unique within the program, ignoring case, archived automations included [inferred]: a "
    "duplicate is 409 conflict."
)
_PAYLOAD_TEXT = (
    f"JSON object merged into every generated event's event_data (its `type` is always event_name); "
    f"at most {MAX_PAYLOAD_BYTES} bytes as JSON [inferred]."
)
_CRON_TEXT = (
    "Five numeric fields (minute hour day-of-month month day-of-week; 0 and 7 are Sunday) with `*`, `n`, `a-b`, "
    "`*/s`, `a-b/s` and lists. Names, `?`, `L`, `W`, `#`, seconds/year fields, macros (`@daily`) and inline "
    "`CRON_TZ=`/`TZ=` prefixes are 400 validation_error with `details.cron_field` and the 1-based "
    "`details.position` of the fault; so is an expression no date can match (`0 0 30 2 *`)."
)
_TIMEZONE_TEXT = (
    "IANA time zone name (default UTC); cron and participant_state only [inferred: a one_time instant carries its "
    "own offset]. An unknown name is 400. Wall times missing in a DST gap fire at the gap's end; repeated wall "
    "times fire once, at their first occurrence."
)
_PARTICIPANT_FILTER_TEXT = (
    "CEL boolean over `participant.*` (same environment and cost bound as rule conditions); scope=participants "
    "only. Null = every active participant of the program [inferred]. Invalid CEL is 400 with `details.line` / "
    "`details.column` / `details.position` when the parser gives them."
)
_GUARD_TEXT = (
    "CEL boolean checked per participant at fire time; false skips that participant. Participant runs only: "
    "scope=participants, or scope=program with participant_id [inferred]. Invalid CEL is 400 as for "
    "participant_filter."
)
_HINTS_TEXT = (
    'Optimisation hints `{"type": "has_tag"|"has_attribute"|"has_counter", "key": "..."}` that pre-select '
    "candidates; participant_filter is still evaluated on each. scope=participants only."
)


def _bounded_payload(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Bounded so that the automation item and every generated event stay far below 400 KB.
    if value is not None and len(json.dumps(value, separators=(",", ":"), allow_nan=False)) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is at most {MAX_PAYLOAD_BYTES} bytes as JSON")
    return value


class FilterHintBody(ApiModel):
    type: FilterHintType
    key: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class TriggerBody(RequestModel):
    """When the automation fires. Settings that do not apply to `type` are 400 (§1.4)."""

    type: TriggerType = Field(
        description="cron | one_time | immediate | participant_state; immediate and participant_state require "
        "scope=participants (else 400, `details.reason` invalid_combination)."
    )
    cron_expression: str | None = Field(default=None, description=f"Required for cron. {_CRON_TEXT}")
    timezone: str | None = Field(default=None, description=_TIMEZONE_TEXT)
    trigger_at: Rfc3339 | None = Field(
        default=None, description="Required for one_time. A past instant fires on the next scheduler tick."
    )
    schedule_type: ScheduleType | None = Field(default=None, description="Required for participant_state.")
    schedule_config: dict[str, Any] | None = Field(
        default=None,
        description="Required for participant_state; its shape depends on schedule_type (06 §1.5.4), validated "
        "strictly (unknown keys are 400).",
    )


class AutomationCreate(RequestModel):
    name: Name = Field(description=_NAME_TEXT)
    event_name: Name = Field(description="Becomes event_data.type of every generated event.")
    scope: Scope
    trigger: TriggerBody
    description: Description | None = None
    payload: dict[str, Any] | None = Field(default=None, description=_PAYLOAD_TEXT)
    participant_filter: Cel | None = Field(default=None, description=_PARTICIPANT_FILTER_TEXT)
    guard_condition: Cel | None = Field(default=None, description=_GUARD_TEXT)
    filter_hints: list[FilterHintBody] = Field(default_factory=list, max_length=20, description=_HINTS_TEXT)
    participant_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="Only with scope=program and a one_time trigger (else 400): the one event goes to this "
        "participant.",
    )

    _payload = field_validator("payload")(_bounded_payload)

    def fields(self) -> dict[str, Any]:
        """The keyword arguments of ``domain.automations.new_automation``."""
        values = self.model_dump(exclude={"trigger", "filter_hints"})
        values["trigger"] = self.trigger.model_dump(exclude_none=True)
        values["filter_hints"] = [hint.model_dump(mode="json") for hint in self.filter_hints]
        return values


_IMMUTABLE_TEXT = "Not updatable: sending it is 400 validation_error."


class AutomationUpdate(RequestModel):
    """Flat partial update (§1.7.4): only the keys sent change. A setting that does not apply to the
    automation's trigger type is 400; an archived automation cannot be changed (400)."""

    name: Name = Field(default=None, description=_NAME_TEXT)  # type: ignore[assignment]  # absent ≠ null
    description: Description | None = None
    event_name: Name = None  # type: ignore[assignment]
    payload: dict[str, Any] | None = Field(default=None, description=f"Replaces the stored payload. {_PAYLOAD_TEXT}")
    status: AutomationStatus = Field(  # type: ignore[assignment]
        default=None,
        description="active or paused (archived is DELETE's, 400 here). Pausing stops future fires (not a fan-out "
        "in progress); resuming a cron computes next_run_at from now: runs missed while paused are not back-filled.",
    )
    cron_expression: str = Field(  # type: ignore[assignment]
        default=None, description=f"cron only; recomputes next_run_at. {_CRON_TEXT}"
    )
    timezone: str = Field(  # type: ignore[assignment]
        default=None, description=f"cron and participant_state only; recomputes next_run_at. {_TIMEZONE_TEXT}"
    )
    trigger_at: Rfc3339 = Field(  # type: ignore[assignment]
        default=None, description="one_time only, and only before it was processed (else 400)."
    )
    schedule_config: dict[str, Any] = Field(
        default=None,  # type: ignore[arg-type]  # absent ≠ null: null is rejected
        description="participant_state only; validated for the automation's schedule_type.",
    )
    participant_filter: Cel | None = Field(default=None, description=_PARTICIPANT_FILTER_TEXT)
    guard_condition: Cel | None = Field(default=None, description=_GUARD_TEXT)
    filter_hints: list[FilterHintBody] = Field(
        default=None,  # type: ignore[arg-type]  # absent ≠ null: null is rejected
        max_length=20,
        description=f"Replaces the hints. {_HINTS_TEXT}",
    )
    trigger_type: Any = Field(default=None, description=_IMMUTABLE_TEXT)
    scope: Any = Field(default=None, description=_IMMUTABLE_TEXT)
    schedule_type: Any = Field(default=None, description=_IMMUTABLE_TEXT)
    participant_id: Any = Field(default=None, description=_IMMUTABLE_TEXT)
    program_id: Any = Field(default=None, description=_IMMUTABLE_TEXT)
    source: Any = Field(default=None, description=_IMMUTABLE_TEXT)

    _payload = field_validator("payload")(_bounded_payload)

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True)
        if self.filter_hints is not None:
            changes["filter_hints"] = [hint.model_dump(mode="json") for hint in self.filter_hints]
        return changes


class AutomationResponse(ApiModel):
    """Fields that do not apply to the trigger type or scope are null; participants_total and
    participants_processed are omitted for scope=program (§1.3)."""

    id: str
    program_id: str
    name: str
    description: str | None
    event_name: str
    payload: dict[str, Any] | None
    scope: Scope
    trigger_type: TriggerType
    status: AutomationStatus
    source: AutomationSource = Field(
        description="api: created by POST. rule_action [inferred mapping, 06 §1.10]: created by a rule's "
        "SCHEDULE_EVENT (one_time, scope=program, participant_id = the event's participant or the action's "
        "target, null for a program's event) or BROADCAST (immediate, scope=participants) action when its "
        "event committed; its name and description name the event, rule and action index. Executed by the "
        "scheduler like any other automation; PATCH, DELETE, trigger and cancel act on it as on any other "
        "(DELETE before a one_time fires means it never fires)."
    )
    cron_expression: str | None
    timezone: str | None
    next_run_at: str | None = Field(description="cron: the next fire instant; null while paused or archived.")
    last_run_at: str | None
    last_error: str | None
    trigger_at: str | None
    processed_at: str | None
    error_message: str | None
    participant_id: str | None
    schedule_type: ScheduleType | None
    schedule_config: dict[str, Any] | None
    last_evaluated_at: str | None
    participant_filter: str | None
    guard_condition: str | None
    filter_hints: list[FilterHintBody]
    execution_status: ExecutionStatus | None = Field(description="scope=participants: the latest fan-out's state.")
    execution_started_at: str | None
    execution_completed_at: str | None
    execution_error: str | None
    participants_total: int | None = Field(default=None, description="scope=participants only (omitted otherwise).")
    participants_processed: int | None = Field(default=None, description="scope=participants only (omitted otherwise).")
    created_at: str
    updated_at: str

    @model_serializer(mode="wrap")
    def _omit_counters(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.scope is Scope.PROGRAM:
            data.pop("participants_total", None)
            data.pop("participants_processed", None)
        return data

    @classmethod
    def of(cls, a: Automation) -> AutomationResponse:
        return cls(
            id=a.id,
            program_id=a.program_id,
            name=a.name,
            description=a.description,
            event_name=a.event_name,
            payload=a.payload,
            scope=a.scope,
            trigger_type=a.trigger_type,
            status=a.status,
            source=a.source,
            cron_expression=a.cron_expression,
            timezone=a.timezone,
            next_run_at=to_rfc3339_or_none(a.next_run_at),
            last_run_at=to_rfc3339_or_none(a.last_run_at),
            last_error=a.last_error,
            trigger_at=to_rfc3339_or_none(a.trigger_at),
            processed_at=to_rfc3339_or_none(a.processed_at),
            error_message=a.error_message,
            participant_id=a.participant_id,
            schedule_type=a.schedule_type,
            schedule_config=a.schedule_config,
            last_evaluated_at=to_rfc3339_or_none(a.last_evaluated_at),
            participant_filter=a.participant_filter,
            guard_condition=a.guard_condition,
            filter_hints=[FilterHintBody(type=h.type, key=h.key) for h in a.filter_hints],
            execution_status=a.execution_status,
            execution_started_at=to_rfc3339_or_none(a.execution_started_at),
            execution_completed_at=to_rfc3339_or_none(a.execution_completed_at),
            execution_error=a.execution_error,
            participants_total=a.participants_total,
            participants_processed=a.participants_processed,
            created_at=to_rfc3339(a.created_at),
            updated_at=to_rfc3339(a.updated_at),
        )
