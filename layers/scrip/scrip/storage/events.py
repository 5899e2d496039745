"""Events: the item, the indexes that list it, and the conditional put that makes ingestion idempotent.

``ORG#o#EVENT#<id>`` holds the whole event (payload, evaluations, what it changed). The id is
derived from (program, idempotency key), so "put if absent" on that item is the idempotency
check: a replay finds the stored event and compares fingerprints. Ingestion is that one
``PutItem``.

The lists are sparse global secondary indexes on the event item itself (see
docs/storage-design.md, "Events and rules"): the item carries the key attributes of the lists
it belongs to, and DynamoDB keeps each index's entry, at one write unit per entry that moves
and none for an entry whose key did not change. The lists project the filter fields fixed at
ingestion (``program_id``, ``external_id``, ``event_type``), never one that processing
changes. So processing an event rewrites only the item (and the entries whose keys it
changes: the status and due entries leave, the participant's entry appears if the
participant was resolved from an external id).

* ``EventsByCreated`` / ``EventsByEventTime``: partition ``gl`` (organization, shard of
  ``EVENT_LIST_SHARDS``), sort key ``gc`` = ``<created_at>#<id>`` / ``gt`` =
  ``<event_timestamp>#<id>``. These two attributes are the only copy of the two times.
* ``EventsByStatus``: partition ``gs`` (organization, status, shard of ``EVENT_STATUS_SHARDS``),
  sort key ``gc``, only while the event is not ``COMPLETED``: a finished event leaves it with
  one delete. ``COMPLETED`` pages come from ``EventsByCreated`` keeping the completed events.
* ``ParticipantEvents``: partition ``participant_id`` (the attribute itself), sort key ``gc``.
  A participant id is a random UUID of one organization; pages still read the events under
  the caller's organization's keys, so an entry of another organization can never show.
* ``EventsDue`` (the sweep's index): partition ``gd`` = ``EVENTDUE#<hour>#<shard>``, sort key
  ``gw`` = when the next attempt falls due, only while the event is ``PENDING``.

Index reads are eventually consistent: an event just stored may be missing from a list for a
moment (see the storage design). Filters on the projected fields run in the index query; the
others read the events themselves, after the page's ``BatchGetItem``; pages stay full and
bounded as before.

The stored item is compact, since DynamoDB bills a transactional write 2 units per KB: an event
processed with one rule must stay under 1 KB. Attributes the stream's consumers read keep their
names (``organization_id``, ``id``, ``status``, ``program_id``, ``participant_id``,
``external_id``, ``idempotency_key``, ``processed_at``, ``updated_at``, ``next_attempt_at``,
``matched_rule_ids``, ``error_message``, ``version``); the rest is written once, defaults left
out, and the evaluations in short names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from scrip.domain.errors import NotFound, PayloadTooLarge
from scrip.domain.events import Event, EventStatus, EventType, RuleEvaluation, StateChangeRecord
from scrip.storage import items, keys, listing, table, transactions

BY_CREATED = listing.Index("EventsByCreated", "gl", "gc")
BY_EVENT_TIME = listing.Index("EventsByEventTime", "gl", "gt")
BY_STATUS = listing.Index("EventsByStatus", "gs", "gc")
OF_PARTICIPANT = listing.Index("ParticipantEvents", "participant_id", "gc")
DUE = listing.Index("EventsDue", "gd", "gw")

# Statuses as stored (PROCESSING never is: the move to COMPLETED is the commit), in the order a
# status-sorted list shows them.
_STORED_STATUSES = sorted(s.value for s in EventStatus if s is not EventStatus.PROCESSING)
# The most index entries one round of a page asks each shard for: a round starts at the page's
# size plus one and doubles while the filters keep few events, up to what one BatchGetItem reads.
_MAX_BATCH = 100


class EventExists(Exception):
    """The (program, idempotency key) already names a stored event."""


class StaleEvent(Exception):
    """The event changed since it was read (another processor, or a retry request)."""


def _key(org_id: str, event_id: str) -> dict[str, str]:
    return {"PK": keys.event(org_id, event_id), "SK": keys.ENTITY_SK}


# ------------------------------------------------------------- the stored item

# Names inside an action's record (its code-defined keys; none is one letter, so the short
# names cannot meet a key they do not stand for).
_ACTION_NAMES = {
    "type": "t",
    "resolved": "r",
    "asset_id": "a",
    "asset_symbol": "y",
    "target_id": "g",
    "amount": "m",
    "journal_entry_id": "j",
    "suppressed": "s",
}
_ACTION_NAMES_BACK = {short: name for name, short in _ACTION_NAMES.items()}
# The status of a matched rule's evaluation (``rule_engine.SUCCESS``): the matched rules are
# ``matched_rule_ids``, in evaluation order.
_MATCHED = "SUCCESS"


def _renamed(record: Any, names: dict[str, str]) -> Any:
    """An action record with its own keys and its ``resolved`` keys renamed (values as they are)."""
    if not isinstance(record, dict):
        return record
    renamed = {}
    for name, value in record.items():
        short = names.get(name, name)
        if isinstance(value, dict) and short in ("r", "resolved"):
            value = {names.get(k, k): v for k, v in value.items()}
        renamed[short] = value
    return renamed


def evaluation_id(event_id: str, rule_id: str) -> str:
    """An evaluation's id: an event is evaluated once per rule when it completes, so the pair
    names it, and the id need not be stored."""
    return str(uuid.uuid5(uuid.UUID(event_id), rule_id))


def _evaluations_item(event: Event) -> list[dict[str, Any]] | None:
    """The evaluations, short: a matched rule's id is the next of ``matched_rule_ids``, the
    time is ``processed_at`` unless it differs."""
    matched = iter(event.matched_rule_ids)
    stored = []
    for evaluation in event.rule_evaluations:
        expected = next(matched, None) if evaluation.status == _MATCHED else None
        entry: dict[str, Any] = {
            "n": evaluation.rule_name,
            "h": evaluation.rule_history_id,
            "s": evaluation.status,
            "w": evaluation.reason,
            "b": evaluation.stopped_by_rule_id,
            "e": evaluation.error_message,
            "a": [_renamed(a, _ACTION_NAMES) for a in evaluation.actions] or None,
        }
        if expected != evaluation.rule_id:
            entry["r"] = evaluation.rule_id
        if evaluation.created_at != event.processed_at:
            entry["c"] = items.timestamp(evaluation.created_at)
        stored.append({k: v for k, v in entry.items() if v is not None})
    return stored or None


def _evaluations(item: dict[str, Any], event_id: str, processed_at: datetime | None) -> tuple[RuleEvaluation, ...]:
    matched = iter(item.get("matched_rule_ids") or [])
    found = []
    for entry in item.get("ev") or []:
        expected = next(matched, None) if entry["s"] == _MATCHED else None
        rule_id = str(entry.get("r") or expected)
        created_at = items.moment(entry.get("c")) or processed_at
        assert created_at is not None
        found.append(
            RuleEvaluation(
                id=evaluation_id(event_id, rule_id),
                rule_id=rule_id,
                rule_name=entry["n"],
                rule_history_id=entry.get("h"),
                status=entry["s"],
                reason=entry.get("w"),
                stopped_by_rule_id=entry.get("b"),
                error_message=entry.get("e"),
                created_at=created_at,
                actions=[_renamed(a, _ACTION_NAMES_BACK) for a in entry.get("a") or []],
            )
        )
    return tuple(found)


def _fingerprint_item(fingerprint: str) -> Any:
    # A SHA-256 in hex is 64 bytes, its digest 32.
    try:
        return Binary(bytes.fromhex(fingerprint))
    except ValueError:
        return fingerprint


def _fingerprint(value: Any) -> str:
    if isinstance(value, Binary):
        return bytes(value.value).hex()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)


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
    return {"gd": keys.events_due(stamp[:13], keys.shard_of(event.id, keys.EVENTS_DUE_SHARDS)), "gw": stamp}


def _index_keys(event: Event) -> dict[str, Any]:
    org = event.organization_id
    shard = keys.shard_of(event.id, keys.EVENT_LIST_SHARDS)
    status_shard = keys.shard_of(event.id, keys.EVENT_STATUS_SHARDS)
    return {
        "gl": keys.events_list(org, shard),
        "gc": keys.list_sort_key(items.timestamp(event.created_at), event.id),
        "gt": keys.list_sort_key(items.timestamp(event.event_timestamp), event.id),
        "gs": None
        if event.status is EventStatus.COMPLETED
        else keys.events_by_status(org, event.status.value, status_shard),
        **(_due_key(event) or {}),
    }


def _item(event: Event) -> dict[str, Any]:
    received = None if event.received_at == event.created_at else items.timestamp(event.received_at)
    return {
        **_key(event.organization_id, event.id),
        "entity": "EVENT",
        "organization_id": event.organization_id,
        "id": event.id,
        "program_id": event.program_id,
        "participant_id": event.participant_id,
        "external_id": event.external_id,
        "status": event.status.value,
        "event_type": None if event.event_type is EventType.EXTERNAL else event.event_type.value,
        "idempotency_key": event.idempotency_key,
        "event_data": event.event_data or None,
        "recipient_id": event.recipient_id,
        "recipient_external_id": event.recipient_external_id,
        "fingerprint": _fingerprint_item(event.fingerprint),
        "error_message": event.error_message,
        "received_at": received,
        "updated_at": items.timestamp(event.updated_at),
        "processed_at": items.timestamp(event.processed_at),
        "attempts": event.attempts or None,
        "next_attempt_at": items.timestamp(event.next_attempt_at),
        "version": event.version,
        "ev": _evaluations_item(event),
        "matched_rule_ids": list(event.matched_rule_ids) or None,
        "je": list(event.journal_entry_ids) or None,
        "state_changes": [vars(c) for c in event.state_changes] or None,
        "origin_event_id": event.origin_event_id,
        "broadcast": event.broadcast or None,
        **_index_keys(event),
    }


def _from_item(item: dict[str, Any]) -> Event:
    def moment(value: Any) -> datetime:
        found = items.moment(value)
        assert found is not None
        return found

    created_at = moment(str(item["gc"]).split("#", 1)[0])
    processed_at = items.moment(item.get("processed_at"))
    return Event(
        organization_id=item["organization_id"],
        id=item["id"],
        program_id=item["program_id"],
        idempotency_key=item["idempotency_key"],
        event_timestamp=moment(str(item["gt"]).split("#", 1)[0]),
        event_data=item.get("event_data") or {},
        event_type=EventType(item.get("event_type") or EventType.EXTERNAL.value),
        status=EventStatus(item["status"]),
        created_at=created_at,
        received_at=items.moment(item.get("received_at")) or created_at,
        updated_at=moment(item["updated_at"]),
        fingerprint=_fingerprint(item["fingerprint"]),
        external_id=item.get("external_id"),
        participant_id=item.get("participant_id"),
        recipient_id=item.get("recipient_id"),
        recipient_external_id=item.get("recipient_external_id"),
        error_message=item.get("error_message"),
        processed_at=processed_at,
        attempts=int(item.get("attempts") or 0),
        next_attempt_at=items.moment(item.get("next_attempt_at")),
        version=int(item["version"]),
        rule_evaluations=_evaluations(item, str(item["id"]), processed_at),
        matched_rule_ids=tuple(item.get("matched_rule_ids") or []),
        journal_entry_ids=tuple(item.get("je") or []),
        state_changes=tuple(StateChangeRecord(**c) for c in item.get("state_changes") or []),
        origin_event_id=item.get("origin_event_id"),
        broadcast=bool(item.get("broadcast")),
    )


# ------------------------------------------------------------------- writes


def insert_writes(event: Event) -> list[transactions.Write]:
    """The put that stores a new event unless its (program, key) is taken (``EventExists``):
    its index entries come with it."""
    return [transactions.put(_item(event), condition=Attr("PK").not_exists(), on_condition_failed=EventExists)]


def insert(event: Event) -> None:
    """Store a new event: one conditional ``PutItem`` (1 write unit under 1 KB, where a
    transaction is 2), since nothing else commits with it."""
    (write,) = insert_writes(event)
    try:
        table.client().put_item(TableName=table.table_name(), **write.params)
    except ClientError as error:
        code = table.error_code(error)
        if code == "ConditionalCheckFailedException":
            raise EventExists from None
        message = str(error).lower()
        if code == "ValidationException" and "size" in message and ("exceeded" in message or "larger" in message):
            raise PayloadTooLarge(
                "the change is larger than one item (400 KB) or one transaction (4 MB) can hold; shorten the request"
            ) from None
        raise


def save_writes(previous: Event, updated: Event) -> list[transactions.Write]:
    """Replace the event if it is still the version read (else ``StaleEvent``): one put, whose
    key attributes move its index entries."""
    return [
        transactions.put(_item(updated), condition=Attr("version").eq(previous.version), on_condition_failed=StaleEvent)
    ]


# -------------------------------------------------------------------- reads


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


@dataclass(frozen=True)
class _Filters:
    program_id: str | None = None
    status: EventStatus | None = None
    event_type: EventType | None = None
    participant_id: str | None = None
    external_id: str | None = None
    rule_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    event_from: datetime | None = None
    event_to: datetime | None = None

    def in_index(self) -> Any:
        """The filters on what the list indexes project (fields fixed at ingestion), as an
        index query's filter: they run in DynamoDB, before any event is read."""
        conditions = [
            Attr(name).eq(value)
            for name, value in (("program_id", self.program_id), ("external_id", self.external_id))
            if value is not None
        ]
        if self.event_type is EventType.EXTERNAL:
            conditions.append(Attr("event_type").not_exists())  # the default is not stored
        elif self.event_type is not None:
            conditions.append(Attr("event_type").eq(self.event_type.value))
        return listing.all_of(conditions)

    def keeps(self, event: Event) -> bool:
        return (
            all(
                wanted is None or actual == wanted
                for wanted, actual in (
                    (self.program_id, event.program_id),
                    (self.status, event.status),
                    (self.event_type, event.event_type),
                    (self.participant_id, event.participant_id),
                    (self.external_id, event.external_id),
                )
            )
            and (self.rule_id is None or self.rule_id in event.matched_rule_ids)
            and _within(event.created_at, self.created_from, self.created_to)
            and _within(event.event_timestamp, self.event_from, self.event_to)
        )


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


@dataclass(frozen=True)
class _Segment:
    """One run of a page's order: an index over some partitions, the events it keeps, and the
    window of sort-key times outside which nothing can be kept."""

    index: listing.Index
    partitions: list[str]
    keep: Callable[[Event], bool]
    start: str | None = None  # times (sort-key prefixes) of the window, inclusive
    end: str | None = None
    in_index: Any = None  # the part of the filters the index itself can run


def _read_segment(
    org_id: str, segment: _Segment, *, after: str | None, descending: bool, want: int
) -> tuple[list[tuple[str, Event]], bool]:
    """Up to ``want`` kept events after the sort key ``after`` (with their sort keys), and
    whether more exist. Entries outside the time window are passed over without reading their
    event; the read stops at the window's far end."""
    found: list[tuple[str, Event]] = []
    position, batch = after, min(_MAX_BATCH, want + 1)
    sort_key = segment.index.sort_key
    first, last = (segment.end, segment.start) if descending else (segment.start, segment.end)
    while True:
        entries, more = listing.read_merged_page(
            segment.partitions,
            limit=batch,
            after=position,
            descending=descending,
            item_filter=segment.in_index,
            index=segment.index,
        )
        wanted: list[tuple[str, str]] = []
        for entry in entries:
            value = str(entry[sort_key])
            time = value.split("#", 1)[0]
            if last is not None and (time < last if descending else time > last):
                more = False  # past the window: nothing further can be kept
                break
            if first is not None and (time > first if descending else time < first):
                continue  # not yet in the window
            ref = keys.event_of(str(entry["PK"]))
            if ref is not None and ref[0] == org_id:
                wanted.append((value, ref[1]))
        events = _get_many(org_id, [event_id for _, event_id in wanted])
        for value, event_id in wanted:
            event = events.get(event_id)
            if event is not None and segment.keep(event):
                found.append((value, event))
                if len(found) > want:
                    return found[:want], True
        if not more or not entries:
            return found, False
        position = str(entries[-1][sort_key])
        batch = min(_MAX_BATCH, batch * 2)


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
    wanted = _Filters(**filters)
    if order == "BY_STATUS" and participant_scope is None:
        return _status_page(org_id, wanted, descending=descending, limit=limit, after=after)
    segment = _segment(org_id, order, wanted, participant_scope)
    found, more = _read_segment(org_id, segment, after=after, descending=descending, want=limit)
    return [event for _, event in found], (found[-1][0] if found and more else None)


def _segment(org_id: str, order: str, wanted: _Filters, participant_scope: str | None) -> _Segment:
    """Where a page in creation or event-time order reads: the narrowest index that holds it."""
    created = _window(wanted.created_from, wanted.created_to)
    if order == "BY_EVENT_TIME":
        return _over(BY_EVENT_TIME, _list_partitions(org_id), wanted, _window(wanted.event_from, wanted.event_to))
    participant = participant_scope or wanted.participant_id
    if participant is not None:
        return _over(
            OF_PARTICIPANT, [participant], _Filters(**{**vars(wanted), "participant_id": participant}), created
        )
    if wanted.status is not None and wanted.status is not EventStatus.COMPLETED:
        return _over(BY_STATUS, _status_partitions(org_id, wanted.status.value), wanted, created)
    return _over(BY_CREATED, _list_partitions(org_id), wanted, created)


def _over(
    index: listing.Index, partitions: list[str], wanted: _Filters, window: tuple[str | None, str | None]
) -> _Segment:
    return _Segment(index, partitions, wanted.keeps, window[0], window[1], wanted.in_index())


def _list_partitions(org_id: str) -> list[str]:
    return [keys.events_list(org_id, s) for s in range(keys.EVENT_LIST_SHARDS)]


def _status_segment(org_id: str, status: str, wanted: _Filters, created: tuple[str | None, str | None]) -> _Segment:
    """One status of a status-ordered page (COMPLETED from the creation index, which keeps them)."""
    if status == EventStatus.COMPLETED.value:
        completed = _Filters(**{**vars(wanted), "status": EventStatus.COMPLETED})
        return _over(BY_CREATED, _list_partitions(org_id), completed, created)
    return _over(BY_STATUS, _status_partitions(org_id, status), wanted, created)


def _status_partitions(org_id: str, status: str) -> list[str]:
    return [keys.events_by_status(org_id, status, s) for s in range(keys.EVENT_STATUS_SHARDS)]


def _window(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    return items.timestamp(start), items.timestamp(end)


def _status_page(
    org_id: str, wanted: _Filters, *, descending: bool, limit: int, after: str | None
) -> tuple[list[Event], str | None]:
    """Status order: every status in turn (by name), each by creation; the cursor is
    ``<status>#<created_at>#<id>``. COMPLETED events are read from the creation index (the
    status index drops an event when it completes)."""
    statuses = [s for s in _STORED_STATUSES if wanted.status is None or s == wanted.status.value]
    if descending:
        statuses.reverse()
    resume_status: str | None = None
    resume_after: str | None = None
    if after is not None:
        resume_status, _, resume_after = after.partition("#")
    created = _window(wanted.created_from, wanted.created_to)
    page: list[tuple[str, Event]] = []
    more = False
    for status in statuses:
        if resume_status is not None:
            if status != resume_status:
                continue  # a status the cursor has passed
            position: str | None = resume_after
            resume_status = None
        else:
            position = None
        segment = _status_segment(org_id, status, wanted, created)
        found, more = _read_segment(org_id, segment, after=position, descending=descending, want=limit - len(page))
        page += [(keys.list_sort_key(status, value), event) for value, event in found]
        if len(page) >= limit:
            if not more:
                # The page ends with this status: whether more follow is whether a later status has any.
                rest = statuses[statuses.index(status) + 1 :]
                more = any(
                    _read_segment(
                        org_id, _status_segment(org_id, s, wanted, created), after=None, descending=descending, want=1
                    )[0]
                    for s in rest
                )
            break
    return [event for _, event in page], (page[-1][0] if page and more else None)


# --------------------------------------------------------------------- due


def overdue(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Due index entries of one hour bucket (every shard) due at or before ``until``: each
    with the event's organization and id, and the index key it was found under."""
    bucket = (items.timestamp(hour) or "")[:13]
    last = items.timestamp(until) or ""
    found = []
    for shard in range(keys.EVENTS_DUE_SHARDS):
        for entry in listing.read_up_to(keys.events_due(bucket, shard), last, index=DUE):
            ref = keys.event_of(str(entry["PK"]))
            if ref is not None:
                found.append({"organization_id": ref[0], "event_id": ref[1], "gd": entry["gd"], "gw": entry["gw"]})
    return found


def is_current_due_entry(event: Event, entry: dict[str, Any]) -> bool:
    """Whether this due entry is the event's own (else the index has not caught up with a move)."""
    return _due_key(event) == {"gd": entry.get("gd"), "gw": entry.get("gw")}


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
