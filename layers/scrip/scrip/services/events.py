"""Event use cases (03 §1): ingest, batch ingest, read, list, retry, impact.

Ingestion only stores: the event answers ``202 PENDING`` and the table's stream hands it to
the processor (``services.event_processing``). Program existence and participant resolution
are checked there, asynchronously, as the spec has it (03 §1.6).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from scrip.domain import clock
from scrip.domain.errors import ApiError, Conflict, IdempotencyConflict, NotFound
from scrip.domain.events import Event, EventStatus, EventType, Submission, new_event
from scrip.domain.events import event_id as keyed_event_id
from scrip.domain.ledger import JournalEntry
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.storage import events as event_store
from scrip.storage import ledger as ledger_store
from scrip.storage import participants as participant_store
from scrip.storage import transactions

_ORDERS = {"created_at": "BY_CREATED", "event_timestamp": "BY_EVENT_TIME", "status": "BY_STATUS"}


def ingest(
    organization_id: str,
    submission: Submission,
    *,
    event_type: EventType = EventType.EXTERNAL,
    origin_event_id: str | None = None,
    broadcast: bool = False,
) -> tuple[Event, bool]:
    """Store the event unless its (program, key) is taken: (event, replayed)."""
    event = new_event(
        organization_id,
        submission,
        now=clock.now(),
        event_type=event_type,
        origin_event_id=origin_event_id,
        broadcast=broadcast,
    )
    try:
        # One conditional put: the lists and the due index are indexes of the item (no transaction).
        event_store.insert(event)
        return event, False
    except event_store.EventExists:
        stored = event_store.get(organization_id, event.id)
        if stored is None:  # pragma: no cover - a stored event is never deleted
            raise Conflict("the event could not be read back; retry the request") from None
        if stored.fingerprint != event.fingerprint:
            raise IdempotencyConflict(
                f"idempotency_key {submission.idempotency_key!r} was already used in program "
                f"{submission.program_id} with a different payload"
            ) from None
        return stored, True


@dataclass(frozen=True)
class BatchItem:
    index: int
    event: Event | None = None
    error: str | None = None
    code: str | None = None


def ingest_batch(caller: Caller, items: list[Submission | ApiError]) -> list[BatchItem]:
    """Each item on its own (03 §1.4): one refused item never affects the others.

    Items whose shape was already refused arrive as the error; a repeated key inside the batch
    is a replay of its first occurrence.
    """
    results = []
    for index, item in enumerate(items):
        if isinstance(item, ApiError):
            results.append(BatchItem(index, error=item.message, code=item.code))
            continue
        try:
            event, _ = ingest(caller.organization_id, item)
        except ApiError as error:
            results.append(BatchItem(index, error=error.code, code=error.code))
        else:
            results.append(BatchItem(index, event=event))
    return results


def get_event(caller: Caller, event_id: str) -> Event:
    return event_store.require(caller.organization_id, event_id)


def get_event_by_key(caller: Caller, program_id: str, idempotency_key: str) -> Event:
    """The event a (program, key) names (decision 15): its id is derived from the two, so this
    is the same single read as by id, and a key never used (or used in another organization)
    is ``404``."""
    event = event_store.get(caller.organization_id, keyed_event_id(program_id, idempotency_key))
    if event is None:
        raise NotFound(f"no event with idempotency_key {idempotency_key!r} in program {program_id}")
    return event


def list_events(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    sort_by: str = "created_at",
    sort_dir: str = "desc",
    participant_scope: str | None = None,
    **filters: Any,
) -> Page[Event]:
    org = caller.organization_id
    if participant_scope is not None:
        participant_store.require(org, participant_scope)
        sort_by = "created_at"
    scope = scope_signature("events", org, participant_scope, sort_by, sort_dir, *sorted(filters.items()))
    after = decode_cursor(cursor, scope) if cursor else None
    found, resume = event_store.list_page(
        org,
        order=_ORDERS[sort_by],
        descending=sort_dir == "desc",
        limit=limit,
        after=after,
        participant_scope=participant_scope,
        **filters,
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)


@dataclass(frozen=True)
class RetryOutcome:
    event: Event
    previous_error: str | None


def retry_event(caller: Caller, event_id: str) -> RetryOutcome:
    """FAILED → PENDING with a fresh set of attempts (03 §1.4); any other status is 409."""
    org = caller.organization_id
    while True:
        event = event_store.require(org, event_id)
        if event.status is not EventStatus.FAILED:
            raise Conflict(f"event {event_id} is {event.status.value}; only a FAILED event can be retried")
        now = clock.now()
        queued = replace(
            event,
            status=EventStatus.PENDING,
            attempts=0,
            next_attempt_at=None,
            processed_at=None,
            updated_at=now,
            version=event.version + 1,
        )
        try:
            transactions.write(event_store.save_writes(event, queued))
        except event_store.StaleEvent:
            continue
        return RetryOutcome(queued, event.error_message)


@dataclass(frozen=True)
class Impact:
    event: Event
    journal_entries: list[JournalEntry]
    balance_impact: list[dict[str, Any]]


def impact(caller: Caller, event_id: str) -> Impact:
    """The event with what it changed (03 §1.4 impact): entries, state changes, net balances."""
    org = caller.organization_id
    event = event_store.require(org, event_id)
    entries = [ledger_store.get_entry(org, entry_id) for entry_id in event.journal_entry_ids]
    net: dict[tuple[str, str | None, str, str, str], Decimal] = {}
    for entry in entries:
        for posting in entry.postings:
            account = posting.account
            key = (
                account.entity_type.value,
                account.owner_id,
                posting.asset_symbol,
                posting.bucket.value,
                str(entry.scale),
            )
            net[key] = net.get(key, Decimal(0)) + posting.amount
    rows = [
        {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "asset_symbol": symbol,
            "bucket": bucket,
            "amount": amount,
            "scale": int(scale),
        }
        for (entity_type, entity_id, symbol, bucket, scale), amount in net.items()
        if amount != 0
    ]
    return Impact(event, entries, rows)
