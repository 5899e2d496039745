"""Exactly-once effects of event processing under at-least-once delivery (issue P4).

Each case drives the real handlers with real Lambda event shapes (an SQS record for the
processor, a stream batch for the dispatcher) and checks the ledger afterwards: one journal
entry, one credit, one counter increment per event, whatever was delivered twice, crashed or
raced.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import EventStatus, Submission
from scrip.domain.ledger import participant_account
from scrip.domain.state import Owner, OwnerKind
from scrip.services import event_processing, events
from scrip.services import rules as rule_service
from scrip.storage import events as event_store
from scrip.storage import ledger as ledger_store
from scrip.storage import state as state_store
from scrip.storage import table, transactions, unit_of_work
from tests.integration import ledger_invariants
from tests.integration.ledger_world import make_world
from tests.integration.processing import race_two_processors, sqs_event, state_history

PROCESSOR = "EventProcessorFunction"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _world(stack: Any, participants: int = 1) -> tuple[Any, str, str, list[str]]:
    caller, program, asset, people = make_world(
        stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT, participants=participants
    )
    rule_service.create_rule(
        caller,
        program_id=program,
        name="Earn",
        condition="event.type == 'purchase'",
        actions=[
            {"type": "CREDIT", "asset_id": asset, "amount": "event.amount"},
            {"type": "COUNTER", "key": "purchases", "value": "1"},
        ],
    )
    return caller, program, asset, people


def _ingest(org: str, program: str, participant: str, amount: int = 10) -> str:
    submission = Submission(
        program_id=program,
        idempotency_key=str(uuid.uuid4()),
        event_timestamp=datetime(2025, 3, 2, tzinfo=UTC),
        event_data={"type": "purchase", "amount": amount},
        participant_id=participant,
    )
    event, _ = events.ingest(org, submission)
    return event.id


def _available(org: str, participant: str, asset: str) -> Decimal:
    return ledger_store.read_balance(org, participant_account(participant), asset).balance.available


def _counter(org: str, participant: str) -> Decimal | None:
    found = state_store.get_counter(org, Owner(OwnerKind.PARTICIPANT, participant), "purchases")
    return found.value if found else None


def _entries(org: str, participant: str, asset: str) -> int:
    return len(ledger_store.history_lines(org, participant_account(participant), asset_id=asset, limit=200)[0])


def test_a_message_delivered_twice_changes_the_ledger_once(stack: Any) -> None:
    caller, program, asset, (participant,) = _world(stack)
    org = caller.organization_id
    event_id = _ingest(org, program, participant)
    processor = stack.functions[PROCESSOR]

    first = processor.invoke(sqs_event(org, event_id))
    second = processor.invoke(sqs_event(org, event_id))

    assert first == {"batchItemFailures": []} and second == {"batchItemFailures": []}
    assert event_store.require(org, event_id).status is EventStatus.COMPLETED
    assert _available(org, participant, asset) == 10
    assert _counter(org, participant) == 1
    assert _entries(org, participant, asset) == 1
    ledger_invariants.check(org, [participant], asset, set(), lots=True)


def test_a_redelivered_stream_batch_queues_again_and_changes_nothing(stack: Any) -> None:
    caller, program, asset, (participant,) = _world(stack)
    org = caller.organization_id
    event_id = _ingest(org, program, participant)
    stack.drain()
    assert _available(org, participant, asset) == 10

    # The dispatcher sees the same PENDING image again (a stream batch retried after a timeout).
    image = event_store.insert_writes(event_store.require(org, event_id))[0].params["Item"]
    pending = {**image, "status": "PENDING"}
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"PK": {"S": pending["PK"]}, "SK": {"S": pending["SK"]}},
            "NewImage": {
                "PK": {"S": pending["PK"]},
                "SK": {"S": pending["SK"]},
                "entity": {"S": "EVENT"},
                "status": {"S": "PENDING"},
                "organization_id": {"S": org},
                "id": {"S": event_id},
            },
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
    }
    for _ in range(2):
        assert stack.functions["StreamDispatchFunction"].invoke({"Records": [record]}) == {"batchItemFailures": []}
    stack.drain()

    assert _available(org, participant, asset) == 10
    assert _counter(org, participant) == 1
    assert _entries(org, participant, asset) == 1


def test_a_crash_after_the_commit_is_not_applied_twice(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger transaction and the event's COMPLETED commit together: a processor that dies
    right after the commit leaves a COMPLETED event, and the redelivery finds nothing to do."""
    caller, program, asset, (participant,) = _world(stack)
    org = caller.organization_id
    event_id = _ingest(org, program, participant)
    real_commit = transactions.commit_now
    crashed: list[int] = []

    class ContainerDied(BaseException):
        """Not an ``Exception``: a dying container is nothing the processor can catch and record."""

    def commit_then_crash(writes: Any) -> None:
        real_commit(writes)
        if not crashed and any(w.params.get("Item", {}).get("entity") == "EVENT" for w in writes):
            crashed.append(len(writes))
            raise ContainerDied("the Lambda container died after the commit")

    monkeypatch.setattr(transactions, "commit_now", commit_then_crash)
    # The invocation dies: SQS redelivers the message after its visibility timeout.
    with pytest.raises(ContainerDied):
        stack.functions[PROCESSOR].invoke(sqs_event(org, event_id))
    assert crashed
    assert event_store.require(org, event_id).status is EventStatus.COMPLETED

    redelivered = stack.functions[PROCESSOR].invoke(sqs_event(org, event_id))
    assert redelivered == {"batchItemFailures": []}
    assert event_store.require(org, event_id).status is EventStatus.COMPLETED
    assert _available(org, participant, asset) == 10
    assert _counter(org, participant) == 1
    assert _entries(org, participant, asset) == 1


def test_two_processors_racing_on_one_event_apply_it_once(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, program, asset, (participant,) = _world(stack)
    org = caller.organization_id
    event_id = _ingest(org, program, participant)
    waited, results = race_two_processors(monkeypatch, org, event_id)

    assert waited == 2
    assert sorted(str(r.status) for r in results) == ["COMPLETED", "None"]
    assert _available(org, participant, asset) == 10
    assert _counter(org, participant) == 1
    assert _entries(org, participant, asset) == 1


@pytest.fixture
def busy_participant(stack: Any) -> Iterator[tuple[str, str, str, list[str]]]:
    caller, program, asset, (participant,) = _world(stack)
    org = caller.organization_id
    yield org, asset, participant, [_ingest(org, program, participant, amount=i + 1) for i in range(12)]


def test_concurrent_events_of_one_participant_never_lose_an_update(
    busy_participant: tuple[str, str, str, list[str]],
) -> None:
    """Each event commits against the balance and counter the others committed, or re-plans."""
    org, asset, participant, event_ids = busy_participant
    start = threading.Barrier(len(event_ids), timeout=10)
    outcomes: list[Any] = []

    def run(event_id: str) -> None:
        start.wait()
        outcomes.append(event_processing.process(org, event_id).status)

    threads = [threading.Thread(target=run, args=(event_id,)) for event_id in event_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == [EventStatus.COMPLETED] * len(event_ids)
    # Each event's rule matched: none was skipped as timed out because the machine was busy.
    evaluations = [event_store.require(org, event_id).rule_evaluations for event_id in event_ids]
    assert [[e.status for e in each] for each in evaluations] == [["SUCCESS"]] * len(event_ids)
    assert _available(org, participant, asset) == sum(range(1, 13))
    assert _counter(org, participant) == len(event_ids)
    assert _entries(org, participant, asset) == len(event_ids)
    ledger_invariants.check(org, [participant], asset, set(), lots=True)


def test_events_of_different_participants_commit_independently(stack: Any) -> None:
    caller, program, asset, people = _world(stack, participants=8)
    org = caller.organization_id
    event_ids = [_ingest(org, program, person) for person in people]
    start = threading.Barrier(len(event_ids), timeout=10)
    replans: list[int] = []
    real_commit = unit_of_work.UnitOfWork.commit

    def counting_commit(self: unit_of_work.UnitOfWork, extra: Any = None) -> None:
        try:
            real_commit(self, extra)
        except Exception:
            replans.append(1)
            raise

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(unit_of_work.UnitOfWork, "commit", counting_commit)

        def run(event_id: str) -> None:
            start.wait()
            event_processing.process(org, event_id)

        threads = [threading.Thread(target=run, args=(event_id,)) for event_id in event_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert replans == []  # nothing they touch is shared: no transaction was cancelled
    for person in people:
        assert _available(org, person, asset) == 10
        assert _counter(org, person) == 1


class _RecordingClient:
    """The DynamoDB client, keeping the items and cancellation reasons of refused transactions."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.cancelled: list[tuple[list[dict[str, Any]], list[str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            return self._real.transact_write_items(**kwargs)
        except ClientError as error:
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            self.cancelled.append((kwargs["TransactItems"], reasons))
            raise


def _entities(items: list[dict[str, Any]]) -> set[str]:
    return {str(next(iter(item.values())).get("Item", {}).get("entity")) for item in items}


def _refused_items(items: list[dict[str, Any]], reasons: list[str]) -> set[str]:
    """The ``entity`` of each item whose condition refused the transaction."""
    refused = set()
    for item, reason in zip(items, reasons, strict=False):
        if reason == "ConditionalCheckFailed":
            body = next(iter(item.values()))
            refused.add(str(body.get("Item", {}).get("entity") or body.get("Key")))
    return refused


def test_two_processors_racing_on_condition_free_state_actions_apply_them_once(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TAG, SET_ATTRIBUTE and COUNTER have no balance condition: the event's version refuses the loser."""
    caller, program, _, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    rule_service.create_rule(
        caller,
        program_id=program,
        name="Regulars",
        condition="event.type == 'purchase'",
        actions=[
            {"type": "TAG", "tag": "regular"},
            {"type": "SET_ATTRIBUTE", "key": "last_amount", "value": "event.amount"},
            {"type": "COUNTER", "key": "purchases", "value": "1"},
        ],
    )
    org = caller.organization_id
    event_id = _ingest(org, program, participant)
    client = _RecordingClient(table.client())
    monkeypatch.setattr(table, "client", lambda: client)
    waited, results = race_two_processors(monkeypatch, org, event_id)

    assert waited == 2
    assert sorted(str(r.status) for r in results) == ["COMPLETED", "None"]
    # The state writes carry conditions of their own; the version guard must refuse the loser too.
    # (Enrolling the participant may race too: only the commits that carry the event count here.)
    refused = [_refused_items(*c) for c in client.cancelled if "EVENT" in _entities(c[0])]
    assert len(refused) == 1 and "EVENT" in refused[0], refused
    owner = Owner(OwnerKind.PARTICIPANT, participant)
    history = state_history(org, owner)
    assert sorted((c.state_type.value, c.key, c.old_value, c.new_value) for c in history) == [
        ("attribute", "last_amount", None, "10"),
        ("counter", "purchases", None, "1"),
        ("tag", "regular", None, "regular"),
    ]
    event = event_store.require(org, event_id)
    assert (event.status, event.attempts, len(event.rule_evaluations)) == (EventStatus.COMPLETED, 1, 1)
    assert len(event.state_changes) == 3
