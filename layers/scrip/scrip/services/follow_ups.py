"""What a committed event starts: its processing, its BROADCAST fan-out pages, its scheduled events.

All three are driven by what was committed (stream records, the scheduled index), never by
the request that caused them, and each is idempotent: a message or record delivered twice
creates nothing twice, because every generated event has a deterministic idempotency key.

SCHEDULE_EVENT and BROADCAST now create ``source = rule_action`` automations, which the
automation scheduler and fan-out execute (06 §1.10, ``services/rule_actions.py``):
``broadcast_page`` and ``fire_scheduled`` only finish the BROADCAST jobs and scheduled entries
an earlier version wrote (no new ones are written).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scrip import settings
from scrip.domain import clock
from scrip.domain.events import EventStatus, EventType, Submission
from scrip.domain.fanouts import FanOut
from scrip.domain.participants import ParticipantStatus
from scrip.outbound import queues
from scrip.services import events
from scrip.storage import items as item_values
from scrip.storage import participants as participant_store
from scrip.storage import scheduled_events


def dispatch(images: list[dict[str, Any]]) -> int:
    """Queue every PENDING event of these stream images, delayed until its next attempt."""
    now = clock.now()
    messages = []
    for image in images:
        if image.get("entity") != "EVENT" or image.get("status") != EventStatus.PENDING.value:
            continue
        due = item_values.moment(image.get("next_attempt_at"))
        delay = math.ceil((due - now).total_seconds()) if due else 0
        messages.append(({"organization_id": str(image["organization_id"]), "event_id": str(image["id"])}, delay))
    if messages:
        queues.send(settings.current().event_queue_url, messages)
    return len(messages)


def broadcast_page(job: FanOut, participant_ids: list[str]) -> int:
    """A BROADCAST fan-out page (``services/fanouts.py``): one SYSTEM event per enrolled
    participant not CLOSED (03 §5.4.12); the events created.

    Applied again after a crash, the page creates nothing: each event's idempotency key is the
    broadcast's prefix and the participant id, and its timestamp the job's creation time, so the
    replay's payload (and fingerprint) is the same.
    """
    org, payload = job.organization_id, job.payload
    created = 0
    participants = participant_store.get_many(org, participant_ids)
    for participant_id in participant_ids:
        participant = participants.get(participant_id)
        if participant is None or participant.status is ParticipantStatus.CLOSED:
            continue
        submission = Submission(
            program_id=job.program_id,
            idempotency_key=f"{payload['key_prefix']}:{participant_id}",
            event_timestamp=job.created_at,
            event_data=dict(payload.get("event_data") or {}),
            participant_id=participant_id,
        )
        _, replayed = events.ingest(
            org,
            submission,
            event_type=EventType.SYSTEM,
            origin_event_id=str(payload["source_event_id"]),
            broadcast=True,
        )
        created += 0 if replayed else 1
    return created


@dataclass(frozen=True)
class ScheduledRun:
    created: int
    due: int


def fire_scheduled(lookback_hours: int = 2) -> ScheduledRun:
    """Turn every due SCHEDULE_EVENT entry into its SYSTEM event, then drop the entry.

    The job runs every minute and looks back ``lookback_hours`` hour buckets: entries survive a
    job outage of that long.
    """
    now = clock.now()
    created = due_count = 0
    for hours_back in range(lookback_hours, -1, -1):
        hour = now - timedelta(hours=hours_back)
        for entry in scheduled_events.due(hour, now):
            due_count += 1
            fire_at = item_values.moment(entry["fire_at"]) or now
            submission = Submission(
                program_id=str(entry["program_id"]),
                idempotency_key=str(entry["idempotency_key"]),
                event_timestamp=fire_at,
                event_data=dict(entry.get("event_data") or {}),
                participant_id=str(entry["participant_id"]) if entry.get("participant_id") else None,
            )
            _, replayed = events.ingest(
                str(entry["organization_id"]),
                submission,
                event_type=EventType.SYSTEM,
                origin_event_id=str(entry["origin_event_id"]),
            )
            created += 0 if replayed else 1
            scheduled_events.done(entry)
    return ScheduledRun(created, due_count)
