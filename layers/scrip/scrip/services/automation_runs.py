"""Automation execution (06 §1.9): the scheduler, fan-out runs, manual trigger and cancel.

**The scheduler** (``run_due``, every minute) reads the due index (``storage/automations.py``:
``AUTODUE#<hour>#<shard>``) from a checkpoint, hour by hour and shard by shard, exactly as the
lot job reads its own: no scan. For each due automation it fires once, at the stored instant
(``next_run_at`` of a cron, ``trigger_at`` of a one_time), never at the clock's: a cron late by
several slots fires once and moves to its first slot after now (``schedules.catch_up``); a
one_time gets ``processed_at`` and leaves the index. The automation's save is conditioned on its
version and moves its due entry in the same transaction, so an overlapping run or a retry finds
it no longer due; and every generated event's idempotency key names the fire instant (§1.9), so
even a fire repeated after a crash between the event and the save creates nothing twice.

* ``scope=program``: one SYSTEM event, for the one_time's ``participant_id`` if it has one, else
  for no participant. A failure to generate it is recorded (``last_error`` of a cron,
  ``error_message`` of a one_time); 5 consecutive failed runs pause the automation [inferred,
  §1.9]; a success resets the count.
* ``trigger_type=participant_state``: its periodic subscription refresh (``services/subscriptions.py``).
* ``scope=participants``: a fan-out run (``services/fanouts.py``, kind ``AUTOMATION``) started in
  the transaction of the save: ``execution_status`` ``pending``, counters at 0. A fire while a run
  is pending or executing is skipped (§1.9), the schedule still moves on.

**A fan-out run** (``automation_page``, per page of 100 enrolled participants): for each ACTIVE
participant, ``participant_filter`` (CEL, the rules engine's semantics, cost and time bounds,
over the same ``participant`` variables as a rule condition, ``now`` = the fire instant) selects;
``guard_condition`` decides at fire time (false or a CEL error: skipped, counted as processed);
one event per selected participant under ``automation:{id}:{fire_instant}:{participant_id}``.
The page's counters reach the automation in one transaction with the run's ``counted`` marker
(``storage/automation_runs.py``), so a page applied twice counts once. The first page moves
``pending`` to ``executing``; the job's end (its COMPLETED record) moves it to ``completed``.

Choices [inferred]: ``participants_total`` is the number selected by the filter so far: it
grows page by page and is final when the run completes (counting the program's participants
before the first event would read every participant twice); ``participants_processed`` counts
the selected participants whose guard was judged and event generated. ``filter_hints`` pre-select
only when the filter itself requires what the hint names (a top-level ``&&`` term such as
``"vip" in participant.tags``): then skipping a candidate without the tag cannot change the
result, and saves the CEL evaluation; a hint the filter does not imply is ignored.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from scrip.domain import cel, clock, due_hours
from scrip.domain.automations import (
    Automation,
    AutomationSource,
    AutomationStatus,
    ExecutionStatus,
    FilterHint,
    FilterHintType,
    Scope,
    TriggerType,
    generated_event_data,
    idempotency_key,
)
from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.events import EventType, Submission
from scrip.domain.fanouts import FanOut, FanOutKind, FanOutStatus, new_job
from scrip.domain.organizations import Caller
from scrip.domain.participants import Participant, ParticipantStatus
from scrip.domain.rule_engine import TIMED_OUT, Snapshot, activation, judge_within_limit
from scrip.domain.schedules import parse_cron, parse_zone
from scrip.domain.state import Owner, OwnerKind
from scrip.observability import logger
from scrip.services import events
from scrip.services.common import retry_on_stale
from scrip.storage import automation_runs as run_store
from scrip.storage import automations as automation_store
from scrip.storage import fanouts as fanout_store
from scrip.storage import items, read_cache, transactions
from scrip.storage import participants as participant_store
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store

LOOKBACK = due_hours.HOUR * 48  # as the lot job: how far back a run looks for entries it has not cleared
SETTLE = due_hours.HOUR / 4  # as the lot job: longer than any writer runs between its clock read and commit
PAUSE_AFTER_FAILURES = 5  # consecutive failed runs before the automation is paused (§1.9 [inferred])
NOT_TRIGGERABLE = "Automation cannot be triggered (must be active and idle or cron+program)"
CANCELED = "canceled"
RUNNING = (ExecutionStatus.PENDING, ExecutionStatus.EXECUTING)
_ERROR_CHARS = 500
# Fan-out ids are derived, not drawn: one automation's fire instant always names the same job.
_FANOUT_NAMESPACE = uuid.UUID("0c4f8a52-3e1d-4b7a-9f26-7d5e1a0b9c33")


@dataclass
class SchedulerReport:
    fired: int = 0  # automations fired (program events generated or fan-out runs started)
    skipped: int = 0  # participant fires skipped because a run was still going
    failed: int = 0  # program fires whose event could not be generated
    dropped: int = 0  # due entries with nothing (left) to do
    refreshes: int = 0  # periodic subscription refreshes started (participant_state, §1.7.9)


def fanout_id(automation_id: str, fire_at: datetime) -> str:
    return str(uuid.uuid5(_FANOUT_NAMESPACE, f"{automation_id}:{clock.to_rfc3339(fire_at)}"))


def _touched(automation: Automation, now: datetime, **changes: Any) -> Automation:
    return replace(automation, **changes, updated_at=now, version=automation.version + 1)


# ---------------------------------------------------------------- starting a run


def _run_writes(
    before: Automation, after: Automation, fire_at: datetime, now: datetime
) -> tuple[Automation, list[transactions.Write]]:
    """``after`` (already changed by the caller: schedule moved, ...) as a new pending run, and
    its writes: the save, the run marker and the job, for one transaction."""
    started = replace(
        after,
        execution_status=ExecutionStatus.PENDING,
        execution_started_at=now,
        execution_completed_at=None,
        execution_error=None,
        participants_total=0,
        participants_processed=0,
    )
    org = before.organization_id
    payload = {"automation_id": before.id, "fire_at": clock.to_rfc3339(fire_at)}
    job = new_job(org, fanout_id(before.id, fire_at), FanOutKind.AUTOMATION, before.program_id, payload, now)
    return started, [
        *automation_store.save_writes(before, started),
        run_store.start_write(org, before.id, job.id, fire_at),
        *fanout_store.start_writes(job),
    ]


def new_run_writes(automation: Automation) -> list[transactions.Write]:
    """A new ``immediate`` automation with its run already started, for one transaction: what a
    BROADCAST action stages in its event's (§1.10). Its INSERT record then finds the run marker
    and starts nothing more (``start_pending``); the fire instant is its creation."""
    org, fire_at = automation.organization_id, automation.created_at
    payload = {"automation_id": automation.id, "fire_at": clock.to_rfc3339(fire_at)}
    job = new_job(
        org, fanout_id(automation.id, fire_at), FanOutKind.AUTOMATION, automation.program_id, payload, fire_at
    )
    started = replace(automation, execution_started_at=fire_at)
    return [
        *automation_store.create_writes(started, check_program=False),
        run_store.start_write(org, automation.id, job.id, fire_at),
        *fanout_store.start_writes(job),
    ]


def start_pending(org_id: str, automation_id: str) -> bool:
    """Start the run an ``immediate`` automation's create asked for (its INSERT shows it
    ``pending``, §1.5.3); fire instant = its creation. False when there is nothing to start:
    a redelivered record finds the run started (or the automation cancelled first)."""

    def attempt() -> bool:
        automation = automation_store.get(org_id, automation_id)
        if automation is None or automation.execution_status is not ExecutionStatus.PENDING:
            return False
        if run_store.get(org_id, automation_id) is not None:
            return False
        now = clock.now()
        fire_at = automation.created_at
        transactions.write(_run_writes(automation, _touched(automation, now), fire_at, now)[1])
        return True

    return retry_on_stale(attempt, automation_store.StaleAutomation)


# ---------------------------------------------------------------- the scheduler


def run_due(now: datetime | None = None) -> SchedulerReport:
    """Fire every automation due by ``now`` (the application clock, which tests move)."""
    moment = now or clock.now()
    report = SchedulerReport()
    sweep_due_index(
        moment,
        shards=automation_store.SHARDS,
        entries=automation_store.due_entries,
        fire=lambda entry: _fire_entry(entry, moment, report),
        checkpoint=run_store.due_checkpoint,
        save_checkpoint=run_store.save_due_checkpoint,
        failure="automation fire raised",
        describe=lambda entry: {"automation_id": entry.automation_id},
    )
    return report


def sweep_due_index[Entry](
    moment: datetime,
    *,
    shards: int,
    entries: Callable[[datetime, int, datetime], Iterable[Entry]],
    fire: Callable[[Entry], None],
    checkpoint: Callable[[], datetime | None],
    save_checkpoint: Callable[[datetime], None],
    failure: str,
    describe: Callable[[Entry], dict[str, str]],
) -> None:
    """Fire each entry of a sharded hourly due index due by ``moment``, from its checkpoint on
    (the automation scheduler's and the subscriptions' fire pass share it).

    One entry's failure is logged and does not stop the others' fires; its entry stays, and
    the checkpoint does not move, so the next run reads its hour again and retries it.
    """
    # The wall clock bounds the checkpoint, as the lot job's: whoever files a due entry files it
    # after the wall clock's "now" at its start, whatever the application clock says.
    settled = min(moment, datetime.now(moment.tzinfo)) - SETTLE
    start = checkpoint()
    hours = due_hours.hours_to_read(start, moment, LOOKBACK)
    failed_entries = 0
    for hour in hours:
        for shard in range(shards):
            for entry in entries(hour, shard, moment):
                try:
                    fire(entry)
                except Exception:  # noqa: BLE001 - one broken entry must not stop the others' fires
                    failed_entries += 1
                    logger.exception(failure, extra=describe(entry))
    if failed_entries:
        return
    # Every entry read was handled, so each bucket read is empty.
    advanced = due_hours.advanced_checkpoint(start, hours, settled)
    if advanced is not None:
        save_checkpoint(advanced)


def _fire_entry(entry: automation_store.DueEntry, now: datetime, report: SchedulerReport) -> None:
    def attempt() -> None:
        automation = automation_store.get(entry.organization_id, entry.automation_id)
        if automation is None or automation.due_at != entry.due_at:
            # The automation moved on (an overlapping run fired it; it was paused, archived or
            # rescheduled): its save removed this entry, unless it is gone altogether.
            if automation is None or automation_store.due_entry_key(automation) != entry.key:
                transactions.write([run_store.delete_due_entry(entry.key)])
            report.dropped += 1
            return
        _fire(automation, entry.due_at, now, report)

    retry_on_stale(attempt, automation_store.StaleAutomation)


def _scheduled(automation: Automation, fire_at: datetime, now: datetime) -> dict[str, Any]:
    """The schedule's move for a fire at ``fire_at``: a cron's next slot after now, a one_time's end."""
    if automation.trigger_type is TriggerType.CRON:
        assert automation.cron_expression is not None
        zone = parse_zone(automation.timezone or "UTC")
        caught = parse_cron(automation.cron_expression).catch_up(zone, fire_at, now)
        assert caught is not None  # due: now >= fire_at
        return {"next_run_at": caught.next_run_at, "last_run_at": now}
    return {"processed_at": now}


def _fire(automation: Automation, fire_at: datetime, now: datetime, report: SchedulerReport) -> None:
    if automation.trigger_type is TriggerType.PARTICIPANT_STATE:
        # Imported here: services/subscriptions.py builds on this module (its snapshot and CEL).
        from scrip.services import subscriptions

        started, writes = subscriptions.periodic_refresh_writes(automation, fire_at, now)
        transactions.write(writes)
        if started:
            report.refreshes += 1
        else:
            report.skipped += 1
        return
    scheduled = _scheduled(automation, fire_at, now)
    if automation.scope is Scope.PARTICIPANTS:
        moved = _touched(automation, now, **scheduled)
        if automation.execution_status in RUNNING:
            transactions.write(automation_store.save_writes(automation, moved))
            report.skipped += 1
            return
        transactions.write(_run_writes(automation, moved, fire_at, now)[1])
        report.fired += 1
        return
    error = _program_event(automation, fire_at)
    outcome: dict[str, Any] = {}
    if error is None:
        # The run's outcome is its event's: ``record_program_event_outcome`` clears or sets
        # ``last_error`` and the failure count once the event is COMPLETED or FAILED.
        report.fired += 1
    else:
        failures = automation.consecutive_failures + 1
        outcome = {"consecutive_failures": failures}
        outcome["last_error" if automation.trigger_type is TriggerType.CRON else "error_message"] = error
        if failures >= PAUSE_AFTER_FAILURES:
            outcome["status"] = AutomationStatus.PAUSED
        report.failed += 1
    transactions.write(automation_store.save_writes(automation, _touched(automation, now, **scheduled, **outcome)))


def _program_event(automation: Automation, fire_at: datetime) -> str | None:
    """Generate a program-scoped fire's one event; the error text when it could not be."""
    submission = Submission(
        program_id=automation.program_id,
        idempotency_key=idempotency_key(automation.id, fire_at),
        event_timestamp=fire_at,
        event_data=generated_event_data(automation),
        participant_id=automation.participant_id,
    )
    try:
        events.ingest(
            automation.organization_id,
            submission,
            event_type=EventType.SYSTEM,
            origin_event_id=automation.origin_event_id,  # a SCHEDULE_EVENT's source event (§1.10)
        )
    except ApiError as failure:
        logger.warning("automation fire failed", extra={"automation_id": automation.id, "error": failure.message})
        return failure.message[:_ERROR_CHARS]
    return None


_KEY_PREFIX = "automation:"
_ID_CHARS = 36


def program_fire_of(idempotency_key: str | None) -> str | None:
    """The automation id of a program-scoped fire's key (``automation:{id}:{instant}``, §1.9),
    None for any other key (a participant's fan-out event adds ``:{participant_id}``)."""
    if not idempotency_key or not idempotency_key.startswith(_KEY_PREFIX):
        return None
    automation_id = idempotency_key[len(_KEY_PREFIX) : len(_KEY_PREFIX) + _ID_CHARS]
    instant = idempotency_key[len(_KEY_PREFIX) + _ID_CHARS + 1 :]
    try:
        clock.parse_rfc3339(instant)
    except ValueError:
        return None
    return automation_id


def on_event_record(image: dict[str, Any], old: dict[str, Any]) -> bool:
    """A stream record of an event: a program-scoped fire's event that just ended (COMPLETED or
    FAILED) is its automation's run outcome. True when the automation changed."""
    status = image.get("status")
    if status not in ("COMPLETED", "FAILED") or old.get("status") == status or image.get("event_type") != "SYSTEM":
        return False
    automation_id = program_fire_of(image.get("idempotency_key"))
    if automation_id is None:
        return False
    message = f"event {image['id']} failed: {image.get('error_message') or 'unknown error'}"
    return record_program_event_outcome(
        str(image["organization_id"]), automation_id, failure=message if status == "FAILED" else None
    )


def record_program_event_outcome(org_id: str, automation_id: str, *, failure: str | None) -> bool:
    """A program fire's event ended: a completion clears ``last_error`` (``error_message`` of a
    one_time) and the failure count; a failure records its message, counts one more consecutive
    failure and pauses the automation at ``PAUSE_AFTER_FAILURES``.

    Idempotent under the stream's redelivery: the recorded message names the event, so the same
    event's failure seen again finds it recorded and counts nothing more.
    """

    def attempt() -> bool:
        automation = automation_store.get(org_id, automation_id)
        if automation is None or automation.status is AutomationStatus.ARCHIVED:
            return False
        field_name = "last_error" if automation.trigger_type is TriggerType.CRON else "error_message"
        recorded = getattr(automation, field_name)
        changes: dict[str, Any]
        if failure is None:
            if recorded is None and automation.consecutive_failures == 0:
                return False
            changes = {field_name: None, "consecutive_failures": 0}
        else:
            text = failure[:_ERROR_CHARS]
            if recorded == text:
                return False
            failures = automation.consecutive_failures + 1
            changes = {field_name: text, "consecutive_failures": failures}
            if failures >= PAUSE_AFTER_FAILURES and automation.status is AutomationStatus.ACTIVE:
                changes["status"] = AutomationStatus.PAUSED
        transactions.write(automation_store.save_writes(automation, _touched(automation, clock.now(), **changes)))
        return True

    return retry_on_stale(attempt, automation_store.StaleAutomation)


# ---------------------------------------------------------------- manual trigger and cancel


def trigger(caller: Caller, program_id: str, automation_id: str) -> Automation:
    """Fire now (§1.7.7): a program cron is made due now; a participants automation starts a run."""

    def attempt() -> Automation:
        automation = automation_store.require(caller.organization_id, program_id, automation_id)
        eligible = automation.status is AutomationStatus.ACTIVE and (
            (automation.scope is Scope.PARTICIPANTS and automation.execution_status not in RUNNING)
            or (automation.scope is Scope.PROGRAM and automation.trigger_type is TriggerType.CRON)
        )
        if not eligible:
            raise ValidationFailed(NOT_TRIGGERABLE, reason="not_triggerable")
        now = clock.now()
        if automation.scope is Scope.PROGRAM:
            # The scheduler's next tick fires it, at this instant (its due entry moves here).
            after = _touched(automation, now, next_run_at=now)
            transactions.write(automation_store.save_writes(automation, after))
            return after
        # A manual fire has its own instant, so its keys never collide with a scheduled fire's;
        # it leaves the schedule (and a one_time's pending run) as it was.
        started, writes = _run_writes(automation, _touched(automation, now), now, now)
        transactions.write(writes)
        return started

    return retry_on_stale(attempt, automation_store.StaleAutomation)


def _not_running() -> Exception:
    return ValidationFailed("the automation has no pending or executing run to cancel", reason="not_running")


def cancel(caller: Caller, program_id: str, automation_id: str) -> Automation:
    """Stop a pending or executing run between pages (§1.7.6): ``failed``, ``canceled``."""

    def attempt() -> Automation:
        automation = automation_store.require(caller.organization_id, program_id, automation_id)
        if automation.scope is Scope.PROGRAM:
            raise ValidationFailed("a program-scoped automation has no fan-out run to cancel", reason="no_fanout")
        if automation.execution_status not in RUNNING:
            raise _not_running()
        now = clock.now()
        after = _touched(
            automation,
            now,
            execution_status=ExecutionStatus.FAILED,
            execution_completed_at=now,
            execution_error=CANCELED,
        )
        writes = automation_store.save_writes(automation, after)
        run = run_store.get(caller.organization_id, automation_id)
        if run is not None:
            # The job of the run in progress: it stops before its next page. A job already
            # finished (its completion not yet recorded) refuses, and the run is not cancelled.
            writes.append(fanout_store.cancel_write(caller.organization_id, run.fanout_id, now, _not_running))
        transactions.write(writes)
        return after

    return retry_on_stale(attempt, automation_store.StaleAutomation)


# ---------------------------------------------------------------- the fan-out's work


def _snapshot(org: str, participant: Participant, program_id: str, now: datetime) -> Snapshot:
    """The participant as a rule condition sees it (services/event_processing.py)."""
    owner = Owner(OwnerKind.PARTICIPANT, participant.id)
    with read_cache.per_attempt():  # the state and the levels come from one read of the partition
        stored = state_store.read(org, owner)
        levels = tier_store.owner_states(state_store.partition(org, owner), program_id)
    return Snapshot(
        participant_id=participant.id,
        external_id=participant.external_id,
        status=participant.status.value,
        tags=sorted(stored.tags),
        counters={key: counter.effective(now).value for key, counter in stored.counters.items()},
        attributes=stored.attributes,
        tiers={key: {"level": s.state.level, "rank": s.state.rank} for key, s in sorted(levels.items())},
    )


def _hint_terms(hint: FilterHint) -> set[str]:
    """How a filter spells the requirement a hint names, blanks removed."""
    key = hint.key
    if hint.type is FilterHintType.HAS_TAG:
        return {f'"{key}"inparticipant.tags', f"'{key}'inparticipant.tags"}
    field = "attributes" if hint.type is FilterHintType.HAS_ATTRIBUTE else "counters"
    return {
        f"has(participant.{field}.{key})",
        f'"{key}"inparticipant.{field}',
        f"'{key}'inparticipant.{field}",
    }


def top_level_terms(expression: str) -> list[str]:
    """The ``&&`` operands of an expression's top level, blanks removed (strings kept whole)."""
    terms, current, depth, quote = [], [], 0, ""
    index = 0
    while index < len(expression):
        char = expression[index]
        if quote:
            current.append(char)
            if char == "\\" and index + 1 < len(expression):
                current.append(expression[index + 1])
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char in "([{":
            depth += 1
            current.append(char)
        elif char in ")]}":
            depth -= 1
            current.append(char)
        elif depth == 0 and expression.startswith("&&", index):
            terms.append("".join(current))
            current = []
            index += 1
        elif not char.isspace():
            current.append(char)
        index += 1
    terms.append("".join(current))
    if quote or depth:
        return []  # not an expression we can read: use no hint
    return terms


def usable_hints(participant_filter: str | None, hints: tuple[FilterHint, ...]) -> tuple[FilterHint, ...]:
    """The hints the filter implies: pre-selecting by them cannot change the result (§1.6)."""
    if not participant_filter or not hints:
        return ()
    terms = set(top_level_terms(participant_filter))
    return tuple(hint for hint in hints if _hint_terms(hint) & terms)


def _meets(hint: FilterHint, snapshot: Snapshot) -> bool:
    if hint.type is FilterHintType.HAS_TAG:
        return hint.key in snapshot.tags
    if hint.type is FilterHintType.HAS_ATTRIBUTE:
        return hint.key in snapshot.attributes
    return hint.key in snapshot.counters


def _holds(expression: str, variables: dict[str, Any]) -> tuple[bool, str | None]:
    """A condition judged as a rule's: an error or a too slow evaluation is false, with its text."""
    try:
        cel.compile_expression(expression)  # cached by text: the bound times evaluation, not the first compile
    except cel.CelError as refused:
        return False, str(refused)
    held, error, timed_out = judge_within_limit(expression, variables)
    if timed_out:
        return False, TIMED_OUT
    return (held and error is None), error


@dataclass
class PageOutcome:
    selected: int = 0
    created: int = 0


def _page_events(automation: Automation, fire_at: datetime, participant_ids: list[str]) -> PageOutcome:
    org = automation.organization_id
    outcome = PageOutcome()
    data = generated_event_data(automation)
    hints = usable_hints(automation.participant_filter, automation.filter_hints)
    needs_state = bool(automation.participant_filter or automation.guard_condition)
    participants = participant_store.get_many(org, participant_ids)
    # A BROADCAST's run (§1.10) reaches every enrolled participant not CLOSED, as 03 §5.4.12's
    # fan-out always has (SUSPENDED ones receive the event; its rules' financial actions are
    # refused there); and its events never broadcast again.
    broadcast = automation.source is AutomationSource.RULE_ACTION
    excluded = (ParticipantStatus.CLOSED,) if broadcast else (ParticipantStatus.SUSPENDED, ParticipantStatus.CLOSED)
    for participant_id in participant_ids:
        participant = participants.get(participant_id)
        if participant is None or participant.status in excluded:
            continue  # otherwise only active participants are candidates (§1.6 [inferred])
        if needs_state:
            snapshot = _snapshot(org, participant, automation.program_id, fire_at)
            if not all(_meets(hint, snapshot) for hint in hints):
                continue
            variables = activation(data, snapshot, fire_at)
            if automation.participant_filter and not _holds(automation.participant_filter, variables)[0]:
                continue
            outcome.selected += 1
            if automation.guard_condition:
                held, error = _holds(automation.guard_condition, variables)
                if not held:
                    if error is not None:
                        logger.info("automation guard error", extra={"automation_id": automation.id, "error": error})
                    continue  # skipped: processed, no event (§1.6)
        else:
            outcome.selected += 1
        submission = Submission(
            program_id=automation.program_id,
            idempotency_key=idempotency_key(automation.id, fire_at, participant_id),
            event_timestamp=fire_at,
            event_data=data,
            participant_id=participant_id,
        )
        try:
            _, replayed = events.ingest(
                org,
                submission,
                event_type=EventType.SYSTEM,
                origin_event_id=automation.origin_event_id,
                broadcast=broadcast,
            )
        except ApiError as failure:
            # One participant's event failing does not abort the run (§1.9 [inferred]); a replay
            # after the payload was changed mid-run is such a failure, and creates nothing.
            logger.warning(
                "automation event not generated",
                extra={"automation_id": automation.id, "participant_id": participant_id, "error": failure.message},
            )
            continue
        outcome.created += 0 if replayed else 1
    return outcome


def automation_page(job: FanOut, participant_ids: list[str]) -> int:
    """One fan-out page of an automation run; the events created."""
    org = job.organization_id
    automation_id = str(job.payload["automation_id"])
    fire_at = items.moment(job.payload["fire_at"])
    assert fire_at is not None
    automation = automation_store.get(org, automation_id)
    run = run_store.get(org, automation_id)
    if automation is None or run is None or run.fanout_id != job.id or run.counted > job.page:
        return 0  # a replaced run, or a page already applied and counted
    outcome = _page_events(automation, fire_at, participant_ids)

    def count() -> None:
        current = automation_store.get(org, automation_id)
        assert current is not None
        status = current.execution_status
        after = _touched(
            current,
            clock.now(),
            execution_status=ExecutionStatus.EXECUTING if status is ExecutionStatus.PENDING else status,
            participants_total=(current.participants_total or 0) + outcome.selected,
            participants_processed=(current.participants_processed or 0) + outcome.selected,
        )
        transactions.write(
            [
                *automation_store.save_writes(current, after),
                run_store.count_page_write(org, automation_id, job.id, job.page),
            ]
        )

    with contextlib.suppress(run_store.PageAlreadyCounted):  # another delivery of this page counted it
        retry_on_stale(count, automation_store.StaleAutomation)
    return outcome.created


def finish(job: FanOut) -> bool:
    """Record the end of a run's job (its COMPLETED or CANCELLED record): ``completed``, or
    ``failed`` when the job was stopped without the cancel route (which records it itself)."""
    if job.kind is not FanOutKind.AUTOMATION or job.status is FanOutStatus.RUNNING:
        return False
    org = job.organization_id
    automation_id = str(job.payload["automation_id"])

    def attempt() -> bool:
        automation = automation_store.get(org, automation_id)
        run = run_store.get(org, automation_id)
        if automation is None or run is None or run.fanout_id != job.id:
            return False
        if automation.execution_status not in RUNNING:
            return False  # already recorded (a redelivered record, or the cancel route)
        now = clock.now()
        if job.status is FanOutStatus.COMPLETED:
            after = _touched(automation, now, execution_status=ExecutionStatus.COMPLETED, execution_completed_at=now)
        else:
            after = _touched(
                automation,
                now,
                execution_status=ExecutionStatus.FAILED,
                execution_completed_at=now,
                execution_error=CANCELED,
            )
        transactions.write(
            [*automation_store.save_writes(automation, after), run_store.is_current_write(org, automation_id, job.id)]
        )
        return True

    try:
        return retry_on_stale(attempt, automation_store.StaleAutomation)
    except run_store.PageAlreadyCounted:
        return False  # a newer run replaced this one meanwhile
