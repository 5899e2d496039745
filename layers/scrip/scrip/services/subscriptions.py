"""participant_state subscriptions (06 §1.5.4, §1.7.8, §1.7.9, §1.8): refresh, fire, list.

**Refresh** (``refresh`` from the route, ``start_initial_refresh`` from the automation's INSERT
record): a fan-out job (``services/fanouts.py``, kind ``SUBSCRIPTION_REFRESH``) over the
program's enrolled participants. Per page (``refresh_page``), each ACTIVE participant is judged
by ``participant_filter`` exactly as an automation run judges it (``automation_runs``: the rule
engine's CEL semantics, cost and time bounds, the same ``participant`` variables, usable
``filter_hints`` pre-selecting): a match without an active subscription is subscribed with its
first ``next_trigger_at``; an active subscription's ``next_trigger_at`` is recomputed (a birthday
set or changed since); an active subscription that no longer matches (or whose participant is
no longer active) is ``completed``. Every save is conditioned on what was read, so a page
applied twice changes nothing twice. The job's end sets the automation's ``last_evaluated_at``.

**Periodic refresh** (§1.7.9, "every 15 min" [inferred]; the period is the setting
``SCRIP_SUBSCRIPTION_REFRESH_SECONDS``, 900 by default): an active participant_state automation
has an entry in the automations' due index at its ``next_refresh_at`` (its create, a resume or a
refresh-starting PATCH set it to now + period; a pause clears it, archiving removes the entry).
The automation scheduler fires it (``periodic_refresh_writes``): one refresh job whose id derives
from the automation and the due instant, started in the transaction that moves
``next_refresh_at`` to the first period boundary after now, conditioned on the automation's
version: an overlapping or retried scheduler run finds the entry stale, and a second start of
the same job is refused. While the last periodic job still runs, the fire only moves the entry.
Cost of an idle automation per period: one transaction of the automation's put, the due entry's
delete and put, and the job's put (each written twice, as transactions write), then the job's
own pages (one read of each enrolled participant) and ``last_evaluated_at``'s save at its end.

**Fire pass** (``fire_due``, a step of the automation scheduler, every minute): looks at the
subscription due index up to now, from a checkpoint, hour by hour and shard by shard (as the
automation scheduler reads its own: no scan), one item per shard-hour, and hands each shard-hour
with due entries to its fire job (a fan-out job of kind ``SUBSCRIPTION_FIRE``, one per
shard-hour, started again by a tick that finds it finished and entries due): the job pages
through the entries (``fire_page``, 100 per page, each page one stream record of the job), so
any number of subscriptions due at one instant fire over bounded invocations. Each due
subscription fires once, at its stored ``next_trigger_at``: ``guard_condition`` first (false or
an error: no event, the schedule moves on), then one SYSTEM event under
``automation:{id}:{next_trigger_at}:{participant_id}``, then the subscription's save
(``trigger_count``, ``last_triggered_at``, the next occurrence or ``completed``) conditioned on
its version, moving its due entry in the same transaction. A page applied again or an
overlapping fire finds the entry moved and fires nothing; a crash between the event and the save
fires again under the same key, which replays. A paused automation's due subscriptions
move to their next occurrence without firing; an archived or deleted one's are completed.

**THRESHOLD** subscriptions have no time and are not in the due index: each active one files a
watch entry under its participant (``storage/subscriptions.py``), and every counter change's
history line (its stream record, ``on_counter_change``) reads the participant's watches of that
counter; a change from not satisfying the comparison to satisfying it fires once (guard first,
the change's time as the fire instant) and completes the subscription. A failed fire is retried
by the fire pass (the retry's time puts it in the due index), then completes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from scrip import settings
from scrip.domain import clock, due_hours, ids
from scrip.domain import subscriptions as rules
from scrip.domain.automations import Automation, AutomationStatus, TriggerType, generated_event_data, idempotency_key
from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.events import EventType, Submission
from scrip.domain.fanouts import FanOut, FanOutKind, FanOutStatus, new_job
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.participants import Participant, ParticipantStatus
from scrip.domain.rule_engine import activation
from scrip.domain.schedules import ScheduleConfig, ThresholdConfig, parse_schedule_config
from scrip.domain.subscriptions import Subscription, SubscriptionStatus
from scrip.observability import logger
from scrip.services import automation_runs, events
from scrip.services.common import retry_on_stale
from scrip.storage import automations as automation_store
from scrip.storage import fanouts as fanout_store
from scrip.storage import participants as participant_store
from scrip.storage import subscriptions as subscription_store
from scrip.storage import transactions

NOT_REFRESHABLE = "only an active participant_state automation's subscriptions can be refreshed"
# The create's refresh job id is derived from the automation: a redelivered INSERT record names
# the same job, whose put-if-absent refuses the second start.
_REFRESH_NAMESPACE = uuid.UUID("5d0b7f3e-2a91-4c65-8e1f-93c4a7d2b610")


def _config(automation: Automation) -> ScheduleConfig:
    return parse_schedule_config(automation.schedule_type, automation.schedule_config)


def _refreshable(automation: Automation | None) -> bool:
    return (
        automation is not None
        and automation.status is AutomationStatus.ACTIVE
        and automation.trigger_type is TriggerType.PARTICIPANT_STATE
    )


# ---------------------------------------------------------------- refresh


def _refresh_job(automation: Automation, job_id: str, now: datetime) -> FanOut:
    payload = {"automation_id": automation.id}
    return new_job(
        automation.organization_id, job_id, FanOutKind.SUBSCRIPTION_REFRESH, automation.program_id, payload, now
    )


def refresh(caller: Caller, program_id: str, automation_id: str) -> None:
    """Queue a re-evaluation of the filter (§1.7.9); 400 unless active and participant_state."""
    automation = automation_store.require(caller.organization_id, program_id, automation_id)
    if not _refreshable(automation):
        raise ValidationFailed(NOT_REFRESHABLE, reason="not_refreshable")
    transactions.write(fanout_store.start_writes(_refresh_job(automation, ids.new_id(), clock.now())))


def refresh_writes(before: Automation, after: Automation) -> list[transactions.Write]:
    """For the transaction of an update: a refresh job when an active participant_state
    automation's filter, hints, zone or schedule changed (§1.7.4), or it was resumed [inferred]."""
    if not _refreshable(after):
        return []
    watched = ("participant_filter", "filter_hints", "timezone", "schedule_type", "schedule_config")
    changed = any(getattr(before, name) != getattr(after, name) for name in watched)
    if not changed and before.status is AutomationStatus.ACTIVE:
        return []
    return fanout_store.start_writes(_refresh_job(after, ids.new_id(), clock.now()))


def refresh_period() -> timedelta:
    """The period of the scheduler's refresh of each active participant_state automation."""
    return timedelta(seconds=settings.current().subscription_refresh_seconds)


def periodic_refresh_id(automation_id: str, due_at: datetime) -> str:
    """The id of the periodic refresh due at ``due_at``: every scheduler run names the same job."""
    return str(uuid.uuid5(_REFRESH_NAMESPACE, f"{automation_id}:periodic:{clock.to_rfc3339(due_at)}"))


def next_refresh(due_at: datetime, now: datetime) -> datetime:
    """The first period boundary after ``now``, counted from ``due_at``: a scheduler late by
    several periods refreshes once, and the cadence stays where it was."""
    period = refresh_period()
    return due_at + period * ((now - due_at) // period + 1)


def periodic_refresh_writes(
    automation: Automation, due_at: datetime, now: datetime
) -> tuple[bool, list[transactions.Write]]:
    """The scheduler's fire of a due periodic refresh: whether a job starts, and the writes (the
    automation's save, moving its due entry, and the job), for one transaction."""
    job_id = periodic_refresh_id(automation.id, due_at)
    previous = (
        fanout_store.get(automation.organization_id, automation.refresh_job_id) if automation.refresh_job_id else None
    )
    running = previous is not None and previous.status is FanOutStatus.RUNNING
    after = replace(
        automation,
        next_refresh_at=next_refresh(due_at, now),
        refresh_job_id=automation.refresh_job_id if running else job_id,
        updated_at=now,
        version=automation.version + 1,
    )
    writes = automation_store.save_writes(automation, after)
    if running:
        return False, writes  # skipped: one refresh at a time; the next period judges again
    return True, [*writes, *fanout_store.start_writes(_refresh_job(automation, job_id, now))]


def with_refresh_schedule(before: Automation, after: Automation, refreshing: bool, now: datetime) -> Automation:
    """``after`` with its periodic refresh placed: none while paused, a period after a refresh
    started now (a create, a resume, a PATCH of the filter or schedule)."""
    if after.trigger_type is not TriggerType.PARTICIPANT_STATE:
        return after
    if after.status is AutomationStatus.PAUSED:
        return replace(after, next_refresh_at=None)
    if refreshing or (after.status is AutomationStatus.ACTIVE and after.next_refresh_at is None):
        return replace(after, next_refresh_at=now + refresh_period())
    return after


def initial_refresh_id(automation_id: str) -> str:
    """The id of the refresh job a participant_state automation's create starts."""
    return str(uuid.uuid5(_REFRESH_NAMESPACE, automation_id))


def start_initial_refresh(org_id: str, automation_id: str) -> bool:
    """The first refresh of a participant_state automation, from its INSERT record; False when
    there is nothing to start (not such an automation, or a redelivered record)."""
    automation = automation_store.get(org_id, automation_id)
    if not _refreshable(automation):
        return False
    assert automation is not None
    job_id = initial_refresh_id(automation_id)
    if fanout_store.get(org_id, job_id) is not None:
        return False
    try:
        transactions.write(fanout_store.start_writes(_refresh_job(automation, job_id, clock.now())))
    except transactions.TransactionCancelled:
        return False  # another delivery of the record started it meanwhile
    return True


def _judge(
    automation: Automation,
    config: ScheduleConfig,
    participant_id: str,
    participant: Participant | None,
    current: Subscription | None,
    now: datetime,
) -> Subscription | None:
    """The subscription a refresh leaves for one participant, or None to leave it as it is."""
    matches = False
    attributes: dict[str, Any] = {}
    if participant is not None and participant.status is ParticipantStatus.ACTIVE:
        snapshot = automation_runs._snapshot(automation.organization_id, participant, automation.program_id, now)
        attributes = dict(snapshot.attributes)
        hints = automation_runs.usable_hints(automation.participant_filter, automation.filter_hints)
        matches = all(automation_runs._meets(hint, snapshot) for hint in hints)
        if matches and automation.participant_filter:
            variables = activation(generated_event_data(automation), snapshot, now)
            matches = automation_runs._holds(automation.participant_filter, variables)[0]
    is_active = current is not None and current.status is SubscriptionStatus.ACTIVE
    if not matches:
        return rules.ended(current, now) if is_active and current is not None else None
    if is_active and current is not None:
        after = rules.rescheduled(current, config, automation.timezone, attributes, now)
        return after if after is not current else None
    return rules.subscribed(
        subscription_id=ids.new_id(),
        organization_id=automation.organization_id,
        program_id=automation.program_id,
        automation_id=automation.id,
        participant_id=participant_id,
        config=config,
        timezone=automation.timezone,
        attributes=attributes,
        now=now,
        previous=current,
    )


def end_writes(automation: Automation) -> list[transactions.Write]:
    """For the transaction that archives ``automation``: a participant_state automation's job that
    ends its active subscriptions (§1.7.5), page by page. Its id is derived, so archiving is
    still idempotent."""
    if automation.trigger_type is not TriggerType.PARTICIPANT_STATE:
        return []
    job_id = str(uuid.uuid5(_REFRESH_NAMESPACE, f"{automation.id}:archived"))
    return fanout_store.start_writes(_refresh_job(automation, job_id, clock.now()))


def refresh_page(job: FanOut, participant_ids: list[str]) -> int:
    """One page of a refresh (of the archive's job: every active subscription ends); the
    subscriptions created, rescheduled or ended."""
    org = job.organization_id
    automation = automation_store.get(org, str(job.payload["automation_id"]))
    ending = automation is not None and automation.status is AutomationStatus.ARCHIVED
    if automation is None or not (ending or _refreshable(automation)):
        return 0  # paused since the refresh was asked for
    config = _config(automation)
    participants = participant_store.get_many(org, participant_ids)
    existing = subscription_store.get_many(org, automation.id, participant_ids)
    changed = 0
    now = clock.now()
    for participant_id in participant_ids:
        current = existing.get(participant_id)
        if ending:
            if current is None or current.status is not SubscriptionStatus.ACTIVE:
                continue
            after: Subscription | None = rules.ended(current, now)
        else:
            after = _judge(automation, config, participant_id, participants.get(participant_id), current, now)
        if after is None:
            continue
        try:
            subscription_store.save(current, after)
        except subscription_store.StaleSubscription:
            # A fire or another refresh changed it since the page's read: that writer's result
            # stands; the next refresh judges it again.
            continue
        changed += 1
    return changed


def finish_refresh(job: FanOut) -> bool:
    """A refresh job's end: the automation's ``last_evaluated_at`` (once per job)."""
    if job.kind is not FanOutKind.SUBSCRIPTION_REFRESH or job.status is not FanOutStatus.COMPLETED:
        return False
    org = job.organization_id

    def attempt() -> bool:
        automation = automation_store.get(org, str(job.payload["automation_id"]))
        if (
            automation is None
            or automation.status is AutomationStatus.ARCHIVED
            or (automation.last_evaluated_at is not None and automation.last_evaluated_at >= job.updated_at)
        ):
            return False  # gone or archived, or a redelivered record found its own earlier write
        now = clock.now()
        after = replace(automation, last_evaluated_at=job.updated_at, updated_at=now, version=automation.version + 1)
        transactions.write(automation_store.save_writes(automation, after))
        return True

    return retry_on_stale(attempt, automation_store.StaleAutomation)


# ---------------------------------------------------------------- the fire pass


@dataclass
class FireReport:
    fired: int = 0  # events generated (or replayed after a crash before the save)
    skipped: int = 0  # guard false, participant inactive, automation paused: no event
    failed: int = 0  # fires whose event could not be generated
    dropped: int = 0  # due entries with nothing (left) to do


@dataclass
class FirePass:
    """What one scheduler tick did with the due index: the shard-hours it handed to fire jobs."""

    started: int = 0  # shard-hours with due entries whose job started (or restarted)
    running: int = 0  # shard-hours with due entries whose job was still running: left to it


# The fire jobs are the scheduler's, not an organization's: their items live under this owner.
FIRE_JOBS_OWNER = "_scheduler"
FIRE_PAGE_SIZE = 100  # fires per page: a few seconds of work, far inside the dispatcher's timeout
FIRE_JOB_STALLED = timedelta(minutes=15)  # far longer than a page takes, even retried
_FIRE_JOB_NAMESPACE = uuid.UUID("9a7c2e41-6b3d-4f58-8e0a-1c5d7b9f3a26")


def fire_job_id(partition: str) -> str:
    """One job per shard-hour, for good: a tick finding it finished starts it again."""
    return str(uuid.uuid5(_FIRE_JOB_NAMESPACE, partition))


def fire_due(now: datetime | None = None) -> FirePass:
    """Hand every shard-hour of the due index with subscriptions due by ``now`` (the application
    clock, which tests move) to its fire job; the checkpoint passes the hours found empty.

    The scheduler reads one item per shard-hour and fires nothing itself, so 100,000 birthdays
    due at 09:00 cost its tick 16 small queries: the jobs page through them (``fire_page``).
    """
    moment = now or clock.now()
    report = FirePass()
    settled = min(moment, datetime.now(moment.tzinfo)) - automation_runs.SETTLE
    start = subscription_store.due_checkpoint()
    hours = due_hours.hours_to_read(start, moment, automation_runs.LOOKBACK)
    empty: list[datetime] = []  # the hours from the first read on found empty, in a row
    for hour in hours:
        busy = False
        for shard in range(subscription_store.SHARDS):
            partition = subscription_store.due_partition(hour, shard)
            if not subscription_store.has_due(partition, moment):
                continue
            busy = True
            if _start_fire_job(partition, moment):
                report.started += 1
            else:
                report.running += 1
        if not busy and len(empty) == hours.index(hour):
            empty.append(hour)
    advanced = due_hours.advanced_checkpoint(start, empty, settled)
    if advanced is not None:
        subscription_store.save_due_checkpoint(advanced)
    return report


def _start_fire_job(partition: str, until: datetime) -> bool:
    """Start the shard-hour's job, or start it again from its first entry when it finished; False
    while it still runs (its pages reach what is due, or its next start does)."""
    payload = {"partition": partition, "until": clock.to_rfc3339(until)}
    job_id = fire_job_id(partition)
    job = fanout_store.get(FIRE_JOBS_OWNER, job_id)
    now = clock.now()
    if job is None:
        try:
            transactions.write(
                fanout_store.start_writes(
                    new_job(FIRE_JOBS_OWNER, job_id, FanOutKind.SUBSCRIPTION_FIRE, "", payload, now)
                )
            )
        except transactions.TransactionCancelled:
            return False  # an overlapping tick started it first
        return True
    if job.status is FanOutStatus.RUNNING:
        if until - job.updated_at > FIRE_JOB_STALLED:
            # No page advanced it for that long: its record was lost (dead-lettered after the
            # dispatcher's retries). A new record of the same page drives it again.
            fanout_store.nudge(job, now)
        return False
    return fanout_store.restart(job, payload=payload, now=now)


def due_page(job: FanOut) -> tuple[list[str], bool]:
    """The next page of a fire job: entries of its shard-hour due by its ``until``, after its cursor."""
    until = clock.parse_rfc3339(str(job.payload["until"]))
    return subscription_store.due_page(str(job.payload["partition"]), until, after=job.cursor, limit=FIRE_PAGE_SIZE)


def fire_page(job: FanOut, sort_keys: list[str]) -> int:
    """Fire one page of due entries (a fan-out page, ``services/fanouts.py``); the events fired.

    The job's cursor passes the page only after this returns, so a crash midway applies the page
    again: an entry already fired is gone from the index (its save moved it), or, after a crash
    between its event and its save, fires again under the same idempotency key, which replays.
    One entry's failure is logged and does not stop the page; it stays in the index, and the
    job's next start (the scheduler's next tick finds the shard-hour not empty) tries it again.
    """
    partition = str(job.payload["partition"])
    now = max(clock.now(), clock.parse_rfc3339(str(job.payload["until"])))
    report = FireReport()
    for sort_key in sort_keys:
        entry = subscription_store.entry_of(partition, sort_key)
        try:
            _fire_entry(entry, now, report)
        except Exception:  # noqa: BLE001 - one broken entry must not stop the others' fires
            logger.exception(
                "subscription fire raised",
                extra={"automation_id": entry.automation_id, "participant_id": entry.participant_id},
            )
    if report.failed:
        logger.warning("subscription fires failed", extra={"partition": partition, "failed": report.failed})
    return report.fired


def _fire_entry(entry: subscription_store.DueEntry, now: datetime, report: FireReport) -> None:
    org = entry.organization_id

    def attempt() -> None:
        current = subscription_store.get(org, entry.automation_id, entry.participant_id)
        if current is None or current.due_at != entry.due_at:
            # Moved on (an overlapping pass fired it, a refresh ended it): its save removed the entry.
            if current is None or subscription_store.due_entry_key(current) != entry.key:
                transactions.write([subscription_store.delete_due_entry(entry.key)])
            report.dropped += 1
            return
        after = _fired(current, entry.due_at, now, report)
        subscription_store.save(current, after)

    retry_on_stale(attempt, subscription_store.StaleSubscription)


def _fired(
    current: Subscription, fire_at: datetime, now: datetime, report: FireReport, *, threshold: bool = False
) -> Subscription:
    """What one due subscription becomes, the event generated on the way if it fires."""
    org = current.organization_id
    automation = automation_store.get(org, current.automation_id)
    if automation is None or automation.status is AutomationStatus.ARCHIVED:
        report.dropped += 1
        return rules.ended(current, now)
    config = _config(automation)
    participant = participant_store.get_many(org, [current.participant_id]).get(current.participant_id)
    if participant is None:
        report.dropped += 1
        return rules.ended(current, now)
    snapshot = automation_runs._snapshot(org, participant, automation.program_id, fire_at)
    attributes = dict(snapshot.attributes)
    if automation.status is AutomationStatus.PAUSED or participant.status is not ParticipantStatus.ACTIVE:
        report.skipped += 1
        return rules.skipped(current, config, automation.timezone, attributes, now)
    data = generated_event_data(automation)
    if automation.guard_condition:
        held, error = automation_runs._holds(automation.guard_condition, activation(data, snapshot, fire_at))
        if not held:
            if error is not None:
                logger.info("subscription guard error", extra={"automation_id": automation.id, "error": error})
            report.skipped += 1
            return rules.skipped(current, config, automation.timezone, attributes, now)
    submission = Submission(
        program_id=automation.program_id,
        idempotency_key=idempotency_key(automation.id, fire_at, current.participant_id),
        event_timestamp=fire_at,
        event_data=data,
        participant_id=current.participant_id,
    )
    try:
        events.ingest(org, submission, event_type=EventType.SYSTEM)
    except ApiError as failure:
        logger.warning(
            "subscription fire failed",
            extra={"automation_id": automation.id, "participant_id": current.participant_id, "error": failure.message},
        )
        report.failed += 1
        return rules.failed_attempt(current, failure.message, now)
    report.fired += 1
    if threshold:
        return rules.threshold_fired(current, now)
    return rules.fired(current, config, automation.timezone, attributes, now)


# ---------------------------------------------------------------- THRESHOLD crossings


def _counter_value(text: object) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def on_counter_change(
    org_id: str, participant_id: str, counter: str, old_value: object, new_value: object, changed_at: datetime
) -> int:
    """Fire the participant's THRESHOLD subscriptions that this counter change crosses (a
    history line's stream record); the events generated. The fire instant is the change's time,
    so a redelivered record names the same key, and finds the subscription completed anyway."""
    fired = 0
    for automation_id in subscription_store.watches(org_id, participant_id, counter):
        report = FireReport()

        def attempt(automation_id: str = automation_id, report: FireReport = report) -> None:
            current = subscription_store.get(org_id, automation_id, participant_id)
            if current is None or current.status is not SubscriptionStatus.ACTIVE:
                return
            automation = automation_store.get(org_id, automation_id)
            config = _config(automation) if automation is not None else None
            if automation is not None and isinstance(config, ThresholdConfig):
                if not config.crossed(_counter_value(old_value), _counter_value(new_value)):
                    return
                if automation.status is AutomationStatus.PAUSED:
                    return  # a paused automation watches nothing [inferred]
            subscription_store.save(current, _fired(current, changed_at, clock.now(), report, threshold=True))

        retry_on_stale(attempt, subscription_store.StaleSubscription)
        fired += report.fired
    return fired


def on_counter_change_record(image: dict[str, Any]) -> int:
    """``on_counter_change`` for a history line's stream image; lines of groups and programs, and
    a subscription's own generated events' lines, are read the same way (only participants have
    subscriptions)."""
    change = subscription_store.counter_change(image)
    if change is None:
        return 0
    return on_counter_change(
        change.organization_id,
        change.participant_id,
        change.counter,
        change.old_value,
        change.new_value,
        change.changed_at,
    )


# ---------------------------------------------------------------- the list


def list_subscriptions(
    caller: Caller,
    program_id: str,
    automation_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: SubscriptionStatus | None,
) -> Page[Subscription]:
    """A page by ``next_trigger_at`` ascending, nulls last (§1.7.8); empty for other trigger types."""
    org_id = caller.organization_id
    automation = automation_store.require(org_id, program_id, automation_id)
    signature = scope_signature("subscriptions", org_id, automation_id, status)
    after = decode_cursor(cursor, signature) if cursor else None
    if automation.trigger_type is not TriggerType.PARTICIPANT_STATE:
        return Page([], None)
    found, resume_after = subscription_store.list_page(org_id, automation_id, limit=limit, after=after, status=status)
    return Page(found, encode_cursor(resume_after, signature) if resume_after else None)
