"""Events: the item, its list entries, and the conditional put that makes ingestion idempotent.

``ORG#o#EVENT#<id>`` holds the whole event (payload, evaluations, what it changed). The id is
derived from (program, idempotency key), so "put if absent" on that item is the idempotency
check: a replay finds the stored event and compares fingerprints.

Lists hold small entries (what the filters read) and pages are completed with one
``BatchGetItem`` of the events: the payload is written once, not once per list. The
organization's list is kept in three orders (created_at, event_timestamp, status) over
``EVENT_LIST_SHARDS`` partitions each, since ingestion is the busiest write of the product; a
participant's list has one order in the participant's own partition space.

A PENDING event also has an entry in a due index over all organizations,
``EVENTDUE#<hour>#<shard>`` / ``<due_at>#<org>#<event id>``, due at its next attempt (or when it
was stored or retried). It is written and removed in the transactions that move the event, so
it costs one put when the event is stored and one delete when it finishes; the sweep reads it
to find events that nobody processed (``services.event_processing.sweep_overdue``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import NotFound
from scrip.domain.events import Event, EventStatus, EventType, RuleEvaluation, StateChangeRecord
from scrip.storage import items, keys, listing, table, transactions

EVENT_LIST_SHARDS = 8
ORDERS = ("BY_CREATED", "BY_EVENT_TIME", "BY_STATUS")


class EventExists(Exception):
    """The (program, idempotency key) already names a stored event."""


class StaleEvent(Exception):
    """The event changed since it was read (another processor, or a retry request)."""


def _key(org_id: str, event_id: str) -> dict[str, str]:
    return {"PK": keys.event(org_id, event_id), "SK": keys.ENTITY_SK}


def _list_partition(org_id: str, order: str, shard: int) -> str:
    return keys.events_list(org_id, order, shard)


def _participant_list(org_id: str, participant_id: str) -> str:
    return keys.participant_events(org_id, participant_id)


def _sort_key(event: Event, order: str) -> str:
    created = items.timestamp(event.created_at)
    if order == "BY_CREATED":
        return keys.list_sort_key(created, event.id)
    if order == "BY_EVENT_TIME":
        return keys.list_sort_key(items.timestamp(event.event_timestamp), event.id)
    return keys.list_sort_key(event.status.value, created, event.id)


def _evaluation_item(evaluation: RuleEvaluation) -> dict[str, Any]:
    return {
        "id": evaluation.id,
        "rule_id": evaluation.rule_id,
        "rule_name": evaluation.rule_name,
        "rule_history_id": evaluation.rule_history_id,
        "status": evaluation.status,
        "reason": evaluation.reason,
        "stopped_by_rule_id": evaluation.stopped_by_rule_id,
        "error_message": evaluation.error_message,
        "created_at": items.timestamp(evaluation.created_at),
        "actions": evaluation.actions,
    }


def _evaluation(item: dict[str, Any]) -> RuleEvaluation:
    created_at = items.moment(item["created_at"])
    assert created_at is not None
    return RuleEvaluation(
        id=item["id"],
        rule_id=item["rule_id"],
        rule_name=item["rule_name"],
        rule_history_id=item.get("rule_history_id"),
        status=item["status"],
        reason=item.get("reason"),
        stopped_by_rule_id=item.get("stopped_by_rule_id"),
        error_message=item.get("error_message"),
        created_at=created_at,
        actions=list(item.get("actions") or []),
    )


def _summary(event: Event) -> dict[str, Any]:
    """What the list filters read."""
    return {
        "event_id": event.id,
        "program_id": event.program_id,
        "participant_id": event.participant_id,
        "external_id": event.external_id,
        "status": event.status.value,
        "event_type": event.event_type.value,
        "created_at": items.timestamp(event.created_at),
        "event_timestamp": items.timestamp(event.event_timestamp),
        "matched_rule_ids": list(event.matched_rule_ids) or None,
    }


def _item(event: Event) -> dict[str, Any]:
    return {
        **_key(event.organization_id, event.id),
        "entity": "EVENT",
        **_summary(event),
        "organization_id": event.organization_id,
        "id": event.id,
        "idempotency_key": event.idempotency_key,
        "event_data": event.event_data,
        "recipient_id": event.recipient_id,
        "recipient_external_id": event.recipient_external_id,
        "fingerprint": event.fingerprint,
        "error_message": event.error_message,
        "received_at": items.timestamp(event.received_at),
        "updated_at": items.timestamp(event.updated_at),
        "processed_at": items.timestamp(event.processed_at),
        "attempts": event.attempts,
        "next_attempt_at": items.timestamp(event.next_attempt_at),
        "version": event.version,
        "rule_evaluations": [_evaluation_item(e) for e in event.rule_evaluations] or None,
        "journal_entry_ids": list(event.journal_entry_ids) or None,
        "state_changes": [vars(c) for c in event.state_changes] or None,
        "origin_event_id": event.origin_event_id,
        "broadcast": event.broadcast or None,
    }


def _from_item(item: dict[str, Any]) -> Event:
    def moment(name: str) -> datetime:
        value = items.moment(item[name])
        assert value is not None
        return value

    return Event(
        organization_id=item["organization_id"],
        id=item["id"],
        program_id=item["program_id"],
        idempotency_key=item["idempotency_key"],
        event_timestamp=moment("event_timestamp"),
        event_data=item.get("event_data") or {},
        event_type=EventType(item["event_type"]),
        status=EventStatus(item["status"]),
        created_at=moment("created_at"),
        received_at=moment("received_at"),
        updated_at=moment("updated_at"),
        fingerprint=item["fingerprint"],
        external_id=item.get("external_id"),
        participant_id=item.get("participant_id"),
        recipient_id=item.get("recipient_id"),
        recipient_external_id=item.get("recipient_external_id"),
        error_message=item.get("error_message"),
        processed_at=items.moment(item.get("processed_at")),
        attempts=int(item.get("attempts", 0)),
        next_attempt_at=items.moment(item.get("next_attempt_at")),
        version=int(item["version"]),
        rule_evaluations=tuple(_evaluation(e) for e in item.get("rule_evaluations") or []),
        matched_rule_ids=tuple(item.get("matched_rule_ids") or []),
        journal_entry_ids=tuple(item.get("journal_entry_ids") or []),
        state_changes=tuple(StateChangeRecord(**c) for c in item.get("state_changes") or []),
        origin_event_id=item.get("origin_event_id"),
        broadcast=bool(item.get("broadcast")),
    )


def _list_entries(event: Event) -> list[transactions.Write]:
    shard = keys.shard_of(event.id, EVENT_LIST_SHARDS)
    summary = _summary(event)
    writes = [
        transactions.put(
            {"PK": _list_partition(event.organization_id, order, shard), "SK": _sort_key(event, order), **summary}
        )
        for order in ORDERS
    ]
    if event.participant_id:
        writes.append(
            transactions.put(
                {
                    "PK": _participant_list(event.organization_id, event.participant_id),
                    "SK": _sort_key(event, "BY_CREATED"),
                    **summary,
                }
            )
        )
    return writes


def due_at(event: Event) -> datetime | None:
    """When the event's next attempt falls due, while it waits for one."""
    if event.status not in (EventStatus.PENDING, EventStatus.PROCESSING):
        return None
    return event.next_attempt_at or event.updated_at


def _due_key(event: Event) -> dict[str, str] | None:
    moment = due_at(event)
    if moment is None:
        return None
    stamp = items.timestamp(moment) or ""
    return {
        "PK": keys.events_due(stamp[:13], keys.shard_of(event.id, keys.EVENTS_DUE_SHARDS)),
        "SK": keys.due_entry(stamp, event.organization_id, event.id),
    }


def _due_writes(previous: Event | None, updated: Event) -> list[transactions.Write]:
    old = _due_key(previous) if previous is not None else None
    new = _due_key(updated)
    if old == new:
        return []
    writes = [transactions.delete(old)] if old is not None else []
    if new is not None:
        writes.append(
            transactions.put(
                {**new, "entity": "EVENT_DUE", "organization_id": updated.organization_id, "event_id": updated.id}
            )
        )
    return writes


def is_current_due_entry(event: Event, entry: dict[str, Any]) -> bool:
    """Whether this due entry is the event's own (else it is left over and can go)."""
    return _due_key(event) == {"PK": entry["PK"], "SK": entry["SK"]}


def insert_writes(event: Event) -> list[transactions.Write]:
    """Store a new event, unless its (program, key) is taken (``EventExists``)."""
    return [
        transactions.put(_item(event), condition=Attr("PK").not_exists(), on_condition_failed=EventExists),
        *_list_entries(event),
        *_due_writes(None, event),
    ]


def save_writes(previous: Event, updated: Event) -> list[transactions.Write]:
    """Replace the event if it is still the version read (else ``StaleEvent``), and its list entries."""
    writes = [
        transactions.put(
            _item(updated), condition=Attr("version").eq(previous.version), on_condition_failed=StaleEvent
        ),
        *_list_entries(updated),
        *_due_writes(previous, updated),
    ]
    if previous.status is not updated.status:
        shard = keys.shard_of(previous.id, EVENT_LIST_SHARDS)
        writes.append(
            transactions.delete(
                {
                    "PK": _list_partition(previous.organization_id, "BY_STATUS", shard),
                    "SK": _sort_key(previous, "BY_STATUS"),
                }
            )
        )
    if previous.participant_id and previous.participant_id != updated.participant_id:
        writes.append(
            transactions.delete(
                {
                    "PK": _participant_list(previous.organization_id, previous.participant_id),
                    "SK": _sort_key(previous, "BY_CREATED"),
                }
            )
        )
    return writes


def get(org_id: str, event_id: str) -> Event | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, event_id), ConsistentRead=True)
    item = got.get("Item")
    return _from_item(item) if item else None


def require(org_id: str, event_id: str) -> Event:
    event = get(org_id, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event


def _get_many(org_id: str, event_ids: Sequence[str]) -> dict[str, Event]:
    return {str(i["id"]): _from_item(i) for i in listing.read_items([_key(org_id, i) for i in event_ids])}


def _filters(
    *,
    program_id: str | None,
    status: EventStatus | None,
    event_type: EventType | None,
    participant_id: str | None,
    external_id: str | None,
    rule_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    event_from: datetime | None,
    event_to: datetime | None,
) -> Any:
    conditions = []
    for name, value in (
        ("program_id", program_id),
        ("status", status.value if status else None),
        ("event_type", event_type.value if event_type else None),
        ("participant_id", participant_id),
        ("external_id", external_id),
    ):
        if value is not None:
            conditions.append(Attr(name).eq(value))
    if rule_id is not None:
        conditions.append(Attr("matched_rule_ids").contains(rule_id))
    conditions += listing.within("created_at", created_from, created_to)
    conditions += listing.within("event_timestamp", event_from, event_to)
    return listing.all_of(conditions)


def list_page(
    org_id: str,
    *,
    order: str,
    descending: bool,
    limit: int,
    after: str | None,
    participant_scope: str | None = None,
    **filters: Any,
) -> tuple[list[Event], str | None]:
    """A page of events in ``order`` (an organization's, or one participant's) and the resume key."""
    item_filter = _filters(**filters)
    if participant_scope is not None:
        found, more = listing.read_page(
            _participant_list(org_id, participant_scope),
            limit=limit,
            after=after,
            descending=descending,
            item_filter=item_filter,
        )
    else:
        partitions = [_list_partition(org_id, order, shard) for shard in range(EVENT_LIST_SHARDS)]
        found, more = listing.read_merged_page(
            partitions, limit=limit, after=after, descending=descending, item_filter=item_filter
        )
    events = _get_many(org_id, [str(i["event_id"]) for i in found])
    page = [events[str(i["event_id"])] for i in found if str(i["event_id"]) in events]
    return page, (str(found[-1]["SK"]) if found and more else None)


# --------------------------------------------------------------------- due


def overdue(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Due entries of one hour bucket (every shard) due at or before ``until``."""
    bucket = (items.timestamp(hour) or "")[:13]
    last = (items.timestamp(until) or "") + "\uffff"
    return [
        entry
        for shard in range(keys.EVENTS_DUE_SHARDS)
        for entry in listing.read_up_to(keys.events_due(bucket, shard), last)
    ]


def drop_due(entry: dict[str, Any]) -> None:
    transactions.write([transactions.delete({"PK": str(entry["PK"]), "SK": str(entry["SK"])})])


def due_checkpoint() -> datetime | None:
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": keys.EVENTS_DUE_CHECKPOINT, "SK": keys.ENTITY_SK},
        ConsistentRead=True,
    )
    return items.moment(got.get("Item", {}).get("hour"))


def save_due_checkpoint(hour: datetime) -> None:
    # One sweep runs at a time (the schedule's reserved concurrency is 1): a plain put is enough.
    table.client().put_item(
        TableName=table.table_name(),
        Item={"PK": keys.EVENTS_DUE_CHECKPOINT, "SK": keys.ENTITY_SK, "hour": items.timestamp(hour)},
    )
