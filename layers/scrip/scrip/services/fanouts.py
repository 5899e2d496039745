"""Paged, resumable fan-out over a program's enrolled participants (or, for a kind in ``PAGES``,
over what that kind pages: the subscription fire pass pages one shard-hour of its due index).

A job is started by a write in the transaction that decides it (a BROADCAST action today, the
tier period-end job and automations later). Each stream record of the job's item that shows it
RUNNING asks for one page (``run_page``):

1. read the job; a record that shows an older page than the job's (a redelivered or stale
   record) does nothing; a job no longer RUNNING (cancelled, completed) only has its kind's
   ``FINISH`` recorded, if it has one (an automation's run state);
2. read up to ``PAGE_SIZE`` enrolled participant ids after the job's cursor (a query of the
   program's ENROLLED partition) and apply the kind's work to them: the work is idempotent per
   participant (deterministic idempotency keys), so a page applied twice creates nothing twice;
3. advance the job (cursor, page + 1, participants_processed) on condition that it is still at
   the page read and RUNNING. That write is the next page's stream record.

A crash or timeout between 2 and 3 leaves the job where it was: the stream redelivers the same
record and the page is applied again, to no effect. ``cancel`` makes step 3 fail and step 1 stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrip.domain import clock, ids
from scrip.domain.fanouts import FanOut, FanOutKind, FanOutStatus, new_job
from scrip.services import automation_runs, follow_ups, subscriptions, tier_jobs
from scrip.storage import fanouts as fanout_store
from scrip.storage import participants as participant_store
from scrip.storage import transactions

# Participants per page: a BROADCAST page is 100 conditional puts plus one BatchGetItem, a few
# seconds at most, far inside the dispatcher's 300 s timeout even with slow retries.
PAGE_SIZE = 100

# What a kind does for one page of participant ids; returns how many effects it created (a
# replayed page returns 0). Plain functions, so a new kind is one entry here.
Work = Callable[[FanOut, list[str]], int]
WORK: dict[FanOutKind, Work] = {
    FanOutKind.BROADCAST: follow_ups.broadcast_page,
    FanOutKind.TIER_PERIOD_END: tier_jobs.period_end_page,
    FanOutKind.AUTOMATION: automation_runs.automation_page,
    FanOutKind.SUBSCRIPTION_REFRESH: subscriptions.refresh_page,
    FanOutKind.SUBSCRIPTION_FIRE: subscriptions.fire_page,
}
# Where a kind's pages come from when not from the program's enrolled participants: the ids of
# the page after the job's cursor, and whether more may follow.
Pages = Callable[[FanOut], tuple[list[str], bool]]
PAGES: dict[FanOutKind, Pages] = {FanOutKind.SUBSCRIPTION_FIRE: subscriptions.due_page}
# What a kind records when its job ends (the record of the job COMPLETED or CANCELLED): run again
# for a redelivered record, so it must find its own earlier effect and do nothing.
Finish = Callable[[FanOut], object]
FINISH: dict[FanOutKind, Finish] = {
    FanOutKind.AUTOMATION: automation_runs.finish,
    FanOutKind.SUBSCRIPTION_REFRESH: subscriptions.finish_refresh,
}


def start(
    org_id: str, *, kind: FanOutKind, program_id: str, payload: dict[str, Any], fanout_id: str | None = None
) -> str:
    """Stage a new job in the current transaction (or write it now outside one); its id."""
    job = new_job(org_id, fanout_id or ids.new_id(), kind, program_id, payload, clock.now())
    transactions.write(fanout_store.start_writes(job))
    return job.id


def run_page(org_id: str, fanout_id: str, page: int) -> int:
    """Apply the page a stream record showed the job at (see the module docstring); effects created."""
    job = fanout_store.get(org_id, fanout_id)
    if job is None or job.page != page:
        return 0
    if job.status is not FanOutStatus.RUNNING:
        finish = FINISH.get(job.kind)
        if finish is not None:
            finish(job)
        return 0
    pages = PAGES.get(job.kind)
    if pages is not None:
        participant_ids, more = pages(job)
    else:
        participant_ids, more = participant_store.enrolled_page(
            org_id, job.program_id, limit=PAGE_SIZE, after=job.cursor
        )
    created = WORK[job.kind](job, participant_ids) if participant_ids else 0
    fanout_store.advance(
        job,
        cursor=participant_ids[-1] if participant_ids else None,
        processed=len(participant_ids),
        finished=not more,
        now=clock.now(),
    )
    return created


def get(org_id: str, fanout_id: str) -> FanOut | None:
    return fanout_store.get(org_id, fanout_id)


def cancel(org_id: str, fanout_id: str) -> bool:
    """Stop a RUNNING job before its next page; False if it had already finished or stopped."""
    return fanout_store.cancel(org_id, fanout_id, clock.now())
