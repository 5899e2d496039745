"""Events (03 §1): what a client reports, and how its processing is retried.

An event's id is derived from its program and idempotency key (UUIDv5, 03 §1.3's
recommendation), so the id answered at ingestion is the canonical one even for a replay, and
the conditional put that stores an event is the idempotency check itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from scrip.domain.idempotency import fingerprint

MAX_ATTEMPTS = 5
BATCH_LIMIT = 100
_NAMESPACE = uuid.UUID("6f1c2d0e-8a4b-5c3d-9e2f-0a1b2c3d4e5f")


class EventStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class EventType(StrEnum):
    EXTERNAL = "EXTERNAL"
    SYSTEM = "SYSTEM"


def event_id(program_id: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{program_id}\x00{idempotency_key}"))


def exact_numbers(value: Any) -> Any:
    """JSON numbers as exact decimals: DynamoDB stores no floats, and ``120.40`` is ``120.4``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, dict):
        return {str(k): exact_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_numbers(v) for v in value]
    return value


def plain_numbers(value: Any) -> Any:
    """Stored decimals back as JSON numbers (integers when integral)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


@dataclass(frozen=True)
class Submission:
    """One event as the client sent it (03 §1.3), shape already validated."""

    program_id: str
    idempotency_key: str
    event_timestamp: datetime
    event_data: dict[str, Any]
    external_id: str | None = None
    participant_id: str | None = None
    recipient_id: str | None = None
    recipient_external_id: str | None = None

    def fingerprint(self) -> str:
        return fingerprint(
            {
                "program_id": self.program_id,
                "external_id": self.external_id,
                "participant_id": self.participant_id,
                "recipient_id": self.recipient_id,
                "recipient_external_id": self.recipient_external_id,
                "event_timestamp": self.event_timestamp,
                "event_data": exact_numbers(self.event_data),
            }
        )


@dataclass(frozen=True)
class RuleEvaluation:
    id: str
    rule_id: str
    rule_name: str
    rule_history_id: str | None
    status: str  # SUCCESS, NOT_MATCHED, SKIPPED, SKIPPED_ERROR, SKIPPED_TIMEOUT
    reason: str | None
    stopped_by_rule_id: str | None
    error_message: str | None
    created_at: datetime
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StateChangeRecord:
    """A tag, counter or attribute change an event made, with the rule that made it."""

    rule_id: str
    entity_type: str
    entity_id: str
    state_type: str
    key: str
    operation: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class Event:
    organization_id: str
    id: str
    program_id: str
    idempotency_key: str
    event_timestamp: datetime
    event_data: dict[str, Any]
    event_type: EventType
    status: EventStatus
    created_at: datetime
    received_at: datetime
    updated_at: datetime
    fingerprint: str
    external_id: str | None = None
    participant_id: str | None = None
    recipient_id: str | None = None
    recipient_external_id: str | None = None
    error_message: str | None = None
    processed_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    version: int = 1
    rule_evaluations: tuple[RuleEvaluation, ...] = ()
    matched_rule_ids: tuple[str, ...] = ()
    journal_entry_ids: tuple[str, ...] = ()
    state_changes: tuple[StateChangeRecord, ...] = ()
    origin_event_id: str | None = None  # the event whose SCHEDULE_EVENT or BROADCAST made this one
    broadcast: bool = False  # made by BROADCAST: its own BROADCAST actions do not fan out again


def new_event(
    organization_id: str,
    submission: Submission,
    *,
    now: datetime,
    event_type: EventType = EventType.EXTERNAL,
    origin_event_id: str | None = None,
    broadcast: bool = False,
) -> Event:
    return Event(
        organization_id=organization_id,
        id=event_id(submission.program_id, submission.idempotency_key),
        program_id=submission.program_id,
        idempotency_key=submission.idempotency_key,
        event_timestamp=submission.event_timestamp,
        event_data=exact_numbers(submission.event_data),
        event_type=event_type,
        status=EventStatus.PENDING,
        created_at=now,
        received_at=now,
        updated_at=now,
        fingerprint=submission.fingerprint(),
        external_id=submission.external_id,
        participant_id=submission.participant_id,
        recipient_id=submission.recipient_id,
        recipient_external_id=submission.recipient_external_id,
        origin_event_id=origin_event_id,
        broadcast=broadcast,
    )


def retry_delay(failed_attempts: int, base_seconds: float = 2.0) -> timedelta:
    """Backoff before the next attempt (03 §1.7): 2 s, 4 s, 8 s, 16 s after attempts 1-4."""
    return timedelta(seconds=base_seconds * 2 ** (failed_attempts - 1))


class PermanentFailure(Exception):
    """A failure no retry can fix (unknown program, a REJECT policy): FAILED at once (03 §1.7)."""


class ActionFailed(Exception):
    """An action could not run: the whole event's attempt fails (03 §2.5)."""

    def __init__(self, action_type: str, reason: str) -> None:
        super().__init__(f"action {action_type} failed: {reason}")
        self.message = f"action {action_type} failed: {reason}"
