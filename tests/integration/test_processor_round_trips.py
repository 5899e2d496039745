"""The event processor's DynamoDB round trips (P8): at most 8 per event, nothing read twice.

Each case processes one event directly under the meter and looks at the calls this thread
made: how many, and which item keys were read by ``GetItem``/``BatchGetItem``.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import botocore.client
import pytest
from boto3.dynamodb.conditions import ConditionExpressionBuilder

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.errors import Conflict
from scrip.domain.events import EventStatus, Submission
from scrip.domain.ledger import participant_account
from scrip.domain.organizations import Caller
from scrip.domain.state import Owner, OwnerKind
from scrip.services import event_processing, events
from scrip.services import rules as rule_service
from scrip.storage import ledger as ledger_store
from scrip.storage import read_cache, transactions, unit_of_work
from scrip.storage import state as state_store
from scrip_local import metering
from scrip_local.metering import Call, DynamoMeter
from tests.integration.ledger_world import make_world

MAX_ROUND_TRIPS = 8


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


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


def _process(org: str, event_id: str) -> list[Call]:
    """Process the event under the meter: this thread's DynamoDB calls."""
    with DynamoMeter() as meter:
        outcome = event_processing.process(org, event_id)
    assert outcome.status is EventStatus.COMPLETED
    return meter.select(this_thread=True)


@dataclass
class _Requests:
    """The items and partitions this thread's DynamoDB reads asked for (the meter keeps no keys)."""

    items: Counter[tuple[str, str]] = field(default_factory=Counter)
    partitions: Counter[str] = field(default_factory=Counter)

    def record(self, operation: str, params: dict[str, Any]) -> None:
        if operation == "GetItem":
            self.items[(params["Key"]["PK"], params["Key"]["SK"])] += 1
        elif operation == "BatchGetItem":
            for request in params["RequestItems"].values():
                self.items.update((key["PK"], key["SK"]) for key in request["Keys"])
        elif operation == "Query":
            built = ConditionExpressionBuilder().build_expression(params["KeyConditionExpression"], True)
            self.partitions[str(built.attribute_value_placeholders[":v0"])] += 1


def _process_recording(org: str, event_id: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Call], _Requests]:
    requests = _Requests()
    real = botocore.client.BaseClient._make_api_call
    me = threading.get_ident()

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        # The meter's own reads of old images run paused: they are not the processor's.
        ours = threading.get_ident() == me and not getattr(metering._state, "paused", False)
        if ours and client.meta.service_model.service_name == "dynamodb":
            requests.record(operation, params)
        return real(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        calls = _process(org, event_id)
    return calls, requests


def _world(stack: Any, mode: InventoryMode, actions: list[list[dict[str, Any]]]) -> tuple[Caller, str, str, str]:
    caller, program, asset, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, mode)
    for index, rule_actions in enumerate(actions):
        rule_service.create_rule(
            caller,
            program_id=program,
            name=f"Rule {index}",
            condition="event.type == 'purchase'",
            actions=[{**a, "asset_id": asset} if a["type"] == "CREDIT" else a for a in rule_actions],
        )
    return caller, program, asset, participant


CREDIT = {"type": "CREDIT", "amount": "event.amount"}
RULE_SETS: dict[str, tuple[InventoryMode, list[list[dict[str, Any]]]]] = {
    "one CREDIT rule": (InventoryMode.SIMPLE, [[CREDIT]]),
    "CREDIT, COUNTER and TAG rules": (
        InventoryMode.SIMPLE,
        [
            [CREDIT],
            [{"type": "COUNTER", "key": "purchases", "value": "1"}],
            [{"type": "TAG", "tag": "buyer"}],
            [CREDIT, {"type": "COUNTER", "key": "visits", "value": "1"}, {"type": "TAG", "tag": "regular"}],
        ],
    ),
    # Each credit of a LOT asset reads the owner's lots: the second reads them from the first.
    "two CREDIT rules of a LOT asset": (InventoryMode.LOT, [[CREDIT], [CREDIT]]),
}


@pytest.mark.parametrize("rule_set", list(RULE_SETS), ids=list(RULE_SETS))
def test_one_event_takes_at_most_eight_round_trips_and_reads_each_item_once(
    stack: Any, rule_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mode, actions = RULE_SETS[rule_set]
    caller, program_id, asset, participant = _world(stack, mode, actions)
    org = caller.organization_id
    # The participant's first event enrolls it in the program (one more transaction): measure the next.
    _process(org, _ingest(org, program_id, participant))

    calls, requests = _process_recording(org, _ingest(org, program_id, participant), monkeypatch)

    operations = [c.operation for c in calls]
    assert len(calls) <= MAX_ROUND_TRIPS, operations
    assert operations.count("TransactWriteItems") == 1, operations
    twice = {key: count for key, count in requests.items.items() if count > 1}
    assert not twice, f"items read more than once in one attempt: {twice}"
    program = [count for (pk, sk), count in requests.items.items() if pk.endswith(f"#PROGRAM#{program_id}")]
    assert program == [1], "the program is read exactly once"
    queried_twice = {pk: count for pk, count in requests.partitions.items() if count > 1}
    assert not queried_twice, f"partitions queried more than once in one attempt: {queried_twice}"
    # The behaviour is the same: each CREDIT rule credited, each counter counted.
    credited = sum(1 for rule in actions for a in rule if a["type"] == "CREDIT")
    available = ledger_store.read_balance(org, participant_account(participant), asset).balance.available
    assert available == Decimal(20 * credited)
    if rule_set == "CREDIT, COUNTER and TAG rules":
        owner = Owner(OwnerKind.PARTICIPANT, participant)
        counter = state_store.get_counter(org, owner, "purchases")
        assert counter is not None and counter.value == 2
        assert sorted(state_store.read(org, owner).tags) == ["buyer", "regular"]


def test_the_attempt_cache_forgets_what_a_commit_wrote_and_staged_writes_win(stack: Any) -> None:
    caller, _, _, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, participant)

    def tag(name: str) -> transactions.Write:
        return state_store.tag_add(org, owner, name, lambda: Conflict(name))

    with DynamoMeter() as meter:
        with read_cache.per_attempt():
            assert state_store.read(org, owner).tags == []
            assert state_store.read(org, owner).tags == []  # from memory
            transactions.write([tag("vip")])  # committed at once: the partition is read again
            assert state_store.read(org, owner).tags == ["vip"]
            with unit_of_work.collecting():
                transactions.write([tag("gold")])  # staged: seen over the cached partition
                assert sorted(state_store.read(org, owner).tags) == ["gold", "vip"]
        in_attempt = len(meter.select(operation="Query", this_thread=True))
        state_store.read(org, owner)
        state_store.read(org, owner)  # outside an attempt nothing is cached
    assert in_attempt == 2
    assert len(meter.select(operation="Query", this_thread=True)) == 4
