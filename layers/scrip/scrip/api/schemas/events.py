"""Event schemas (03 §1)."""

from __future__ import annotations

import decimal
import json
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from scrip.api.schemas.common import ApiModel, RequestModel, Rfc3339
from scrip.api.schemas.ledger import JournalEntryResponse
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.errors import ValidationFailed
from scrip.domain.events import (
    BATCH_LIMIT,
    Event,
    EventStatus,
    EventType,
    RuleEvaluation,
    Submission,
    exact_numbers,
    plain_numbers,
)

MAX_EVENT_DATA_BYTES = 32_768


# What a DynamoDB number holds (38 digits, 1e-130..1e126; boto3's context) and how deep it nests.
_STORABLE_NUMBER = decimal.Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
MAX_EVENT_DATA_DEPTH = 30


def _storable(value: Any, depth: int = 1) -> None:
    if isinstance(value, (dict, list)):
        if depth > MAX_EVENT_DATA_DEPTH:
            raise ValueError(f"event_data nests at most {MAX_EVENT_DATA_DEPTH} levels")
        for item in value.values() if isinstance(value, dict) else value:
            _storable(item, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            if not _STORABLE_NUMBER.create_decimal(exact_numbers(value)).is_finite():
                raise ValueError
        except (decimal.DecimalException, ValueError):
            raise ValueError(
                f"event_data number {value!r} is out of range (at most 38 digits, magnitude 1e-130 to 1e126)"
            ) from None


def _bounded_object(value: Any) -> Any:
    if isinstance(value, dict):
        if len(json.dumps(value, default=str)) > MAX_EVENT_DATA_BYTES:
            raise ValueError(f"event_data is at most {MAX_EVENT_DATA_BYTES} bytes of JSON")
        _storable(value)
    return value


class EventIngest(RequestModel):
    """One event (03 §1.3): exactly one of external_id / participant_id."""

    program_id: UUID
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    participant_id: UUID | None = None
    recipient_id: UUID | None = None
    recipient_external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    event_timestamp: Rfc3339
    event_data: Annotated[
        dict[str, Any],
        BeforeValidator(_bounded_object),
        Field(
            description=f"JSON object, readable by rules as `event` (at most {MAX_EVENT_DATA_BYTES} bytes, "
            f"{MAX_EVENT_DATA_DEPTH} levels deep)"
        ),
    ]

    @model_validator(mode="after")
    def _one_identity(self) -> EventIngest:
        if (self.external_id is None) == (self.participant_id is None):
            raise ValueError("exactly one of external_id or participant_id is required")
        if self.recipient_id is not None and self.recipient_external_id is not None:
            raise ValueError("at most one of recipient_id or recipient_external_id")
        return self

    def submission(self) -> Submission:
        return Submission(
            program_id=str(self.program_id),
            idempotency_key=self.idempotency_key,
            event_timestamp=self.event_timestamp,
            event_data=self.event_data,
            external_id=self.external_id,
            participant_id=str(self.participant_id) if self.participant_id else None,
            recipient_id=str(self.recipient_id) if self.recipient_id else None,
            recipient_external_id=self.recipient_external_id,
        )


def parse_batch_item(raw: Any) -> Submission | ValidationFailed:
    """A batch item's submission, or why its shape is refused (the other items go on)."""
    try:
        return EventIngest.model_validate(raw).submission()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return ValidationFailed(f"{where}: {message}" if where else message, field=where or None)


class EventBatch(RequestModel):
    # Items stay raw here: each is validated on its own, so a malformed one is that item's error (03 §1.4).
    events: Annotated[
        list[Annotated[Any, WithJsonSchema({"type": "object"})]], Field(min_length=1, max_length=BATCH_LIMIT)
    ]


class IngestedEvent(ApiModel):
    id: str
    program_id: str
    participant_id: str | None
    external_id: str | None
    idempotency_key: str
    event_timestamp: str
    status: EventStatus

    @classmethod
    def of(cls, event: Event) -> IngestedEvent:
        return cls(
            id=event.id,
            program_id=event.program_id,
            participant_id=event.participant_id,
            external_id=event.external_id,
            idempotency_key=event.idempotency_key,
            event_timestamp=to_rfc3339(event.event_timestamp),
            status=event.status,
        )


class BatchResult(ApiModel):
    index: int
    status: str = Field(description="accepted or error")
    event: IngestedEvent | None = None
    error: str | None = None


class BatchResponse(ApiModel):
    total: int
    success_count: int
    error_count: int
    results: list[BatchResult]


class RuleEvaluationResponse(ApiModel):
    id: str
    rule_id: str
    rule_name: str
    rule_history_id: str | None
    status: str = Field(description="SUCCESS, NOT_MATCHED, SKIPPED, SKIPPED_ERROR or SKIPPED_TIMEOUT")
    reason: str | None = Field(
        description="CONDITION_FALSE, OUTSIDE_TIME_WINDOW, STOPPED_BY_PRIOR_RULE or BUDGET_EXCEEDED"
    )
    stopped_by_rule_id: str | None
    error_message: str | None
    actions: list[dict[str, Any]] = Field(description="Each action run, with its resolved values")
    created_at: str

    @classmethod
    def of(cls, evaluation: RuleEvaluation) -> RuleEvaluationResponse:
        return cls(
            id=evaluation.id,
            rule_id=evaluation.rule_id,
            rule_name=evaluation.rule_name,
            rule_history_id=evaluation.rule_history_id,
            status=evaluation.status,
            reason=evaluation.reason,
            stopped_by_rule_id=evaluation.stopped_by_rule_id,
            error_message=evaluation.error_message,
            actions=plain_numbers(evaluation.actions),
            created_at=to_rfc3339(evaluation.created_at),
        )


class EventResponse(ApiModel):
    id: str
    program_id: str
    participant_id: str | None
    external_id: str | None
    recipient_id: str | None
    idempotency_key: str
    event_data: dict[str, Any]
    event_timestamp: str
    event_type: EventType
    status: EventStatus
    error_message: str | None
    retry_count: int = Field(description="Attempts made in the current series (5 at most)")
    created_at: str
    received_at: str
    processed_at: str | None
    updated_at: str

    @classmethod
    def fields_of(cls, event: Event) -> dict[str, Any]:
        return {
            "id": event.id,
            "program_id": event.program_id,
            "participant_id": event.participant_id,
            "external_id": event.external_id,
            "recipient_id": event.recipient_id,
            "idempotency_key": event.idempotency_key,
            "event_data": plain_numbers(event.event_data),
            "event_timestamp": to_rfc3339(event.event_timestamp),
            "event_type": event.event_type,
            "status": event.status,
            "error_message": event.error_message,
            "retry_count": event.attempts,
            "created_at": to_rfc3339(event.created_at),
            "received_at": to_rfc3339(event.received_at),
            "processed_at": to_rfc3339_or_none(event.processed_at),
            "updated_at": to_rfc3339(event.updated_at),
        }

    @classmethod
    def of(cls, event: Event) -> EventResponse:
        return cls(**cls.fields_of(event))


HIDDEN_UNLESS_ASKED = ("SKIPPED_ERROR", "SKIPPED_TIMEOUT")


def _evaluations(event: Event, include_skipped: bool) -> list[RuleEvaluationResponse]:
    return [
        RuleEvaluationResponse.of(e)
        for e in event.rule_evaluations
        if include_skipped or e.status not in HIDDEN_UNLESS_ASKED
    ]


class EventDetail(EventResponse):
    rule_evaluations: list[RuleEvaluationResponse]

    @classmethod
    def of_detail(cls, event: Event, include_skipped: bool) -> EventDetail:
        return cls(**cls.fields_of(event), rule_evaluations=_evaluations(event, include_skipped))


class RetryResponse(ApiModel):
    event_id: str
    message: str
    previous_error: str | None
    previous_status: str
    status: str


class BalanceImpact(ApiModel):
    entity_type: str
    entity_id: str | None
    asset_symbol: str
    bucket: str
    amount: str


class ImpactResponse(EventDetail):
    journal_entries: list[JournalEntryResponse]
    state_changes: list[dict[str, Any]]
    balance_impact: list[BalanceImpact]
