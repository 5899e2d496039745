"""Follow-up events that SCHEDULE_EVENT asked for, indexed by the hour they fall due.

``SCHEDULED#<hour>#<shard>`` / ``<fire_at>#<org>#<key>``, in shards like the lots' due index:
a burst of events with one delay lands in one hour. The entry is written in the source
event's transaction, so a failed source schedules nothing (03 §5.4.11).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scrip.storage import items, keys, listing, transactions

SHARDS = 16


def _partition(moment: datetime, shard: int) -> str:
    return keys.scheduled_events_due(moment.strftime("%Y-%m-%dT%H"), shard)


def schedule(
    org_id: str,
    *,
    program_id: str,
    participant_id: str | None,  # None: a program's event (its source had no participant)
    idempotency_key: str,
    fire_at: datetime,
    event_data: dict[str, Any],
    origin_event_id: str,
) -> None:
    transactions.write(
        [
            transactions.put(
                {
                    "PK": _partition(fire_at, keys.shard_of(idempotency_key, SHARDS)),
                    "SK": keys.due_entry(items.timestamp(fire_at) or "", org_id, idempotency_key),
                    "entity": "SCHEDULED_EVENT",
                    "organization_id": org_id,
                    "program_id": program_id,
                    "participant_id": participant_id,
                    "idempotency_key": idempotency_key,
                    "fire_at": items.timestamp(fire_at),
                    "event_data": event_data,
                    "origin_event_id": origin_event_id,
                }
            )
        ]
    )


def due(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Entries of one hour (every shard) due at or before ``until``."""
    last = (items.timestamp(until) or "") + "\uffff"
    return [entry for shard in range(SHARDS) for entry in listing.read_up_to(_partition(hour, shard), last)]


def done(entry: dict[str, Any]) -> None:
    transactions.write([transactions.delete({"PK": entry["PK"], "SK": entry["SK"]})])
