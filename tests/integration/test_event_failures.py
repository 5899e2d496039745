"""No event stays PENDING without a next attempt (issue P6).

An unexpected error in an attempt is a failed attempt like a refused action (FAILED at once
when retrying can only repeat it), and the minute sweep finds the events nobody processed:
a stream batch given up on, a message dead-lettered, a processor killed mid-attempt.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scrip.domain import clock
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import MAX_ATTEMPTS, EventStatus, Submission
from scrip.domain.organizations import Caller
from scrip.services import event_processing, events, rule_actions
from scrip.services import rules as rule_service
from scrip.storage import events as event_store
from scrip.storage import keys
from tests.integration.ledger_world import make_world
from tests.integration.processing import sqs_event

PROCESSOR = "EventProcessorFunction"
SWEEP = "EventSweepFunction"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _world(stack: Any) -> tuple[str, str]:
    caller, program, asset, _ = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    rule_service.create_rule(
        caller,
        program_id=program,
        name="Earn",
        condition="true",
        actions=[{"type": "CREDIT", "asset_id": asset, "amount": "5"}],
    )
    return caller.organization_id, program


def _ingest(org: str, program: str) -> str:
    submission = Submission(
        program_id=program,
        idempotency_key=str(uuid.uuid4()),
        event_timestamp=datetime(2025, 3, 2, tzinfo=UTC),
        event_data={"amount": 1},
        external_id="p0",
    )
    return events.ingest(org, submission)[0].id


def _raise(error: Exception) -> Any:
    def run(*_: Any, **__: Any) -> Any:
        raise error

    return run


def _due_entries(org: str, event_id: str) -> list[dict[str, Any]]:
    event = event_store.require(org, event_id)
    due = event_store.due_at(event)
    if due is None:
        return []
    # The due index is an index of the event item: read it as the sweep does, over the hour.
    hour = due.replace(minute=0, second=0, microsecond=0)
    return [e for e in event_store.overdue(hour, due) if e["event_id"] == event_id]


def test_an_arithmetic_error_fails_the_event_at_once_and_is_logged(
    stack: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    org, program = _world(stack)
    event_id = _ingest(org, program)
    monkeypatch.setattr(rule_actions, "run", _raise(ArithmeticError("round() digits out of range")))

    with caplog.at_level(logging.ERROR):
        outcome = stack.functions[PROCESSOR].invoke(sqs_event(org, event_id))

    assert outcome == {"batchItemFailures": []}
    event = event_store.require(org, event_id)
    assert event.status is EventStatus.FAILED
    assert event.attempts == 1
    assert event.error_message == "processing failed: ArithmeticError: round() digits out of range"
    assert [r for r in caplog.records if r.levelno == logging.ERROR and getattr(r, "event_id", None) == event_id]
    assert _due_entries(org, event_id) == []  # nothing left for the sweep


def test_any_other_error_is_a_failed_attempt_and_fails_the_event_after_the_last(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, program = _world(stack)
    event_id = _ingest(org, program)
    monkeypatch.setattr(rule_actions, "run", _raise(KeyError("surprise")))

    for attempt in range(1, MAX_ATTEMPTS):
        assert event_processing.process(org, event_id).status is EventStatus.PENDING
        event = event_store.require(org, event_id)
        assert (event.attempts, event.error_message) == (attempt, "processing failed: unexpected KeyError")
        assert event.next_attempt_at is not None
        assert len(_due_entries(org, event_id)) == 1  # moved to the next attempt's time
    assert event_processing.process(org, event_id).status is EventStatus.FAILED

    monkeypatch.undo()
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")
    assert events.retry_event(Caller(org, "test"), event_id).event.status is EventStatus.PENDING
    assert event_processing.process(org, event_id).status is EventStatus.COMPLETED
    assert _due_entries(org, event_id) == []


def test_throttling_is_a_retried_attempt_and_an_item_too_large_fails_at_once(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, program = _world(stack)
    throttled, too_large = _ingest(org, program), _ingest(org, program)
    throttle = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")
    size = ClientError({"Error": {"Code": "ValidationException", "Message": "Item size"}}, "TransactWriteItems")

    monkeypatch.setattr(rule_actions, "run", _raise(throttle))
    assert event_processing.process(org, throttled).status is EventStatus.PENDING
    monkeypatch.setattr(rule_actions, "run", _raise(size))
    assert event_processing.process(org, too_large).status is EventStatus.FAILED

    assert event_store.require(org, throttled).error_message == "processing failed: DynamoDB ThrottlingException"
    assert event_store.require(org, too_large).error_message == "processing failed: DynamoDB ValidationException"


# ------------------------------------------------------------------ sweep


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    current = float(os.environ.get("SCRIP_CLOCK_OFFSET_SECONDS", "0"))
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(current + seconds))


def test_an_event_never_queued_is_queued_by_the_sweep(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream batch that held the new event was given up on: only the due index knows it."""
    org, program = _world(stack)
    event_id = _ingest(org, program)
    lost: list[dict[str, Any]] = []
    monkeypatch.setattr(event_processing.queues, "send", lambda env, messages: lost.extend(messages))
    # Within the grace period the sweep leaves it alone.
    stack.fire_schedule(SWEEP)
    assert event_store.require(org, event_id).attempts == 0

    _later(monkeypatch, event_processing.sweep_grace_seconds() + 60)
    stack.fire_schedule(SWEEP)

    event = event_store.require(org, event_id)
    assert event.status is EventStatus.PENDING and event.attempts == 1
    assert event.error_message is not None and event.error_message.startswith("not processed within 300 s")
    assert {"organization_id": org, "event_id": event_id} in [body for body, _ in lost]
    # What the sweep queued is processed like any message.
    assert stack.functions[PROCESSOR].invoke(sqs_event(org, event_id)) == {"batchItemFailures": []}
    event = event_store.require(org, event_id)
    assert event.status is EventStatus.COMPLETED and event.error_message is None
    assert _due_entries(org, event_id) == []


def test_an_event_the_sweep_keeps_finding_ends_failed(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org, program = _world(stack)
    event_id = _ingest(org, program)
    monkeypatch.setattr(event_processing.queues, "send", lambda env, messages: None)  # every message lost

    for _ in range(MAX_ATTEMPTS):
        _later(monkeypatch, event_processing.sweep_grace_seconds() + 60)
        event_processing.sweep_overdue()

    event = event_store.require(org, event_id)
    assert event.status is EventStatus.FAILED and event.attempts == MAX_ATTEMPTS
    assert event.error_message is not None and "queued again" in event.error_message
    assert _due_entries(org, event_id) == []


def test_a_due_entry_the_event_has_moved_past_is_dropped(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The due index is an eventually consistent index of the event item: an entry the event has
    already moved past (the index not caught up yet) is dropped, not taken for a lost attempt."""
    org, program = _world(stack)
    event_id = _ingest(org, program)
    event = event_store.require(org, event_id)
    stamp = clock.to_rfc3339(event.created_at)
    stale = {
        "organization_id": org,
        "event_id": event_id,
        "gd": keys.events_due(stamp[:13], 0),
        "gw": clock.to_rfc3339(event.created_at - timedelta(seconds=1)),
    }
    real_overdue = event_store.overdue
    bucket = event.created_at.replace(minute=0, second=0, microsecond=0)

    def with_stale(hour: datetime, until: datetime) -> list[dict[str, Any]]:
        return [*real_overdue(hour, until), *([stale] if hour == bucket else [])]

    monkeypatch.setattr(event_store, "overdue", with_stale)
    monkeypatch.setattr(event_processing.queues, "send", lambda env, messages: None)
    _later(monkeypatch, event_processing.sweep_grace_seconds() + 60)

    run = event_processing.sweep_overdue()

    assert run.dropped >= 1
    assert event_store.require(org, event_id).attempts == 1  # its own entry was swept once
