"""What an event's own item, lists and due index cost in DynamoDB (issue P8), counted with ``DynamoMeter``.

The lists and the due index are sparse keys-only indexes of the event item: ingestion is one
conditional ``PutItem`` (1 unit) and its index entries (1 each), processing rewrites the item
in its transaction (2 units under 1 KB) and moves only the entries whose keys change. Before
the indexes, ingestion was a 5-item transaction (10 units) and processing added 16 units.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import EventStatus, Submission
from scrip.services import event_processing, events
from scrip.services import rules as rule_service
from scrip.storage import events as event_store
from scrip.storage import keys, table
from scrip_local.metering import Call, DynamoMeter, item_size
from tests.integration.ledger_world import make_world

# The event's indexes and how many partitions each spreads an organization's events over
# (the due index: all organizations' events of one hour).
_INDEXES = {
    "EventsByCreated": keys.EVENT_LIST_SHARDS,
    "EventsByEventTime": keys.EVENT_LIST_SHARDS,
    "EventsByStatus": keys.EVENT_STATUS_SHARDS,
    "EventsDue": keys.EVENTS_DUE_SHARDS,
}


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


def _submission(program: str, member: int) -> Submission:
    # As the bench sends them: known by external id, resolved to a participant when processed.
    return Submission(
        program_id=program,
        idempotency_key=f"wu-{uuid.uuid4().hex[:8]}",
        event_timestamp=datetime(2026, 3, 2, 18, 4, tzinfo=UTC),
        event_data={"type": "purchase", "amount": 20 + member, "mcc": "5812", "channel": "app"},
        external_id=f"wu-member-{member}",
    )


def _event_writes(calls: list[Call], org: str, event_id: str) -> dict[str, int]:
    """Units written to the event's item and to index entries, by item or index (only event
    items have index keys, and these calls write one event)."""
    found: Counter[str] = Counter()
    for call in calls:
        for partition, _, units in call.written_keys:
            if partition == keys.event(org, event_id):
                found["item"] += units
            elif ":" in partition:
                found[partition.split(":", 1)[0]] += units
    return dict(found)


def test_ingestion_is_one_put_of_the_event_and_its_index_entries(stack: Any) -> None:
    org, program = _world(stack)
    with DynamoMeter() as meter:
        event, replayed = events.ingest(org, _submission(program, 0))
    calls = meter.select(this_thread=True)

    assert not replayed
    assert [c.operation for c in calls] == ["PutItem"]
    # The item (1 unit under 1 KB) and one entry in each list and the due index.
    assert _event_writes(calls, org, event.id) == {
        "item": 1,
        "EventsByCreated": 1,
        "EventsByEventTime": 1,
        "EventsByStatus": 1,
        "EventsDue": 1,
    }
    assert sum(c.write_units for c in calls) == 5


def test_processing_rewrites_the_event_once_and_moves_only_the_entries_it_changes(stack: Any) -> None:
    org, program = _world(stack)
    event, _ = events.ingest(org, _submission(program, 1))
    with DynamoMeter() as meter:
        outcome = event_processing.process(org, event.id)
    calls = meter.select(this_thread=True)

    assert outcome.status is EventStatus.COMPLETED
    # The item in the transaction (2 units: under 1 KB with one rule), its status and due
    # entries leave (1 each), the participant's list gains it (resolved from the external id).
    # The creation and event-time entries keep their keys: not written.
    assert _event_writes(calls, org, event.id) == {
        "item": 2,
        "EventsByStatus": 1,
        "EventsDue": 1,
        "ParticipantEvents": 1,
    }
    commit = [c for c in calls if c.operation == "TransactWriteItems" and c.ok][-1]
    (stored,) = [units for pk, _, units in commit.written_keys if pk == keys.event(org, event.id)]
    assert stored == 2  # a transactional write of an item under 1 KB


def test_the_processed_event_item_stays_under_one_kilobyte(stack: Any) -> None:
    org, program = _world(stack)
    event, _ = events.ingest(org, _submission(program, 2))
    event_processing.process(org, event.id)
    key = {"PK": keys.event(org, event.id), "SK": keys.ENTITY_SK}

    stored = table.client().get_item(TableName=table.table_name(), Key=key, ConsistentRead=True)["Item"]

    assert item_size(stored) < 1024


def test_no_organization_wide_key_takes_more_than_a_tenth_of_a_unit_per_event(stack: Any) -> None:
    org, program = _world(stack)
    count = 20
    with DynamoMeter() as meter:
        for member in range(count):
            event, _ = events.ingest(org, _submission(program, member))
            event_processing.process(org, event.id)
    calls = meter.select(this_thread=True)

    units: Counter[str] = Counter()
    partitions: dict[str, set[str]] = {}
    for call in calls:
        for partition, _, written in call.written_keys:
            index = partition.split(":", 1)[0]
            if index in _INDEXES:
                units[index] += written
                partitions.setdefault(index, set()).add(partition)
    assert set(units) == set(_INDEXES)
    for index, shards in _INDEXES.items():
        # Spread evenly over its shards (event ids are random), on paper: the units one key
        # takes per event of the organization. 10,000 events/s stay under 1,000 WU/s per key.
        per_key = units[index] / count / shards
        assert per_key <= 0.1, (index, per_key)
        assert len(partitions[index]) > 1, index  # the entries do spread


def test_a_program_filter_runs_in_the_index_and_reads_only_that_programs_events(stack: Any) -> None:
    """The list indexes project the fields fixed at ingestion (program, external id, type): a
    filter on them never reads the events it leaves out."""
    org, program = _world(stack)
    _, other = _world_in(stack, org)
    mine = [events.ingest(org, _submission(program, m))[0].id for m in range(3)]
    for member in range(6):
        events.ingest(org, _submission(other, member))
    with DynamoMeter() as meter:
        page, _ = event_store.list_page(
            org, order="BY_CREATED", descending=True, limit=10, after=None, program_id=program
        )
    read = [c for c in meter.select(this_thread=True) if c.operation == "BatchGetItem"]

    assert sorted(e.id for e in page) == sorted(mine)
    assert sum(c.read_units for c in read) == len(mine)  # one read unit per event of the page, none more


def _world_in(stack: Any, org: str) -> tuple[str, str]:
    from scrip.domain.organizations import Caller
    from scrip.services import programs as program_service

    return org, program_service.create_program(Caller(org, "test"), name="Other").id
