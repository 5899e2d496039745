"""A paged, resumable job over a program's enrolled participants (BROADCAST, the tier period
end, automation runs, subscription refreshes).

The job is one item: its kind, its payload, the position reached in the program's enrolled list
(``cursor``), the number of pages done (``page``) and its status. One page is processed per
change of the item, so the work of a large program spreads over many short invocations and a
crash loses at most the page in hand, which is processed again (its work is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class FanOutStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class FanOutKind(StrEnum):
    BROADCAST = "BROADCAST"
    TIER_PERIOD_END = "TIER_PERIOD_END"  # payload: tier_key, boundary (services/tier_jobs.py)
    AUTOMATION = "AUTOMATION"  # payload: automation_id, fire_at (services/automation_runs.py)
    SUBSCRIPTION_REFRESH = "SUBSCRIPTION_REFRESH"  # payload: automation_id (services/subscriptions.py)
    # payload: partition (one shard-hour of the subscription due index), until; pages of due entries,
    # not of participants, under the scheduler's own organization (services/subscriptions.py)
    SUBSCRIPTION_FIRE = "SUBSCRIPTION_FIRE"


@dataclass(frozen=True)
class FanOut:
    organization_id: str
    id: str
    kind: FanOutKind
    program_id: str
    payload: dict[str, Any]
    cursor: str | None  # the last enrolled participant id handled; None before the first page
    page: int  # pages done: a page is applied only while the job is still at the page it read
    participants_processed: int
    status: FanOutStatus
    created_at: datetime
    updated_at: datetime


def new_job(
    organization_id: str, job_id: str, kind: FanOutKind, program_id: str, payload: dict[str, Any], now: datetime
) -> FanOut:
    """A job about to start: RUNNING, before its first page."""
    return FanOut(
        organization_id=organization_id,
        id=job_id,
        kind=kind,
        program_id=program_id,
        payload=payload,
        cursor=None,
        page=0,
        participants_processed=0,
        status=FanOutStatus.RUNNING,
        created_at=now,
        updated_at=now,
    )
