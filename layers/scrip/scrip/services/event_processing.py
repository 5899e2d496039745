"""Processing one event (03 §1.6, §2): resolve, judge the rules, run the actions, commit once.

Everything an event does (the ledger entries, lots, state changes, budget consumption, the
follow-ups it schedules) and the event's own move to ``COMPLETED`` are one transaction,
guarded by the event's version. That is what makes processing exactly-once under
at-least-once delivery: a redelivered message finds the event ``COMPLETED``; two processors
racing on one event both plan, one commits and the other's transaction is cancelled by the
version guard; a crash after the commit leaves an event that is already ``COMPLETED``.

A balance, counter or budget that changed between our reads and the commit cancels the
transaction; the attempt is planned again from fresh reads, so two events of one participant
never lose an update. A refusal (an action failed) records a failed attempt: the event stays
``PENDING`` with its next attempt's time (2, 4, 8, 16 s), and after 5 attempts is ``FAILED``.
So does any other error, which is also logged at ERROR with the event id (``FAILED`` at once
when a retry can only repeat it). An event nobody attempts (its stream record or message lost)
is found past its due time by ``sweep_overdue``: no event stays ``PENDING`` for good.

A ``SYSTEM`` event may name no participant: a program-scoped automation's fire (06 §1.9, "one
event for the program with no participant"). Its rules see ``participant`` as ``null`` (a
condition that selects a field of it is ``SKIPPED_ERROR``, 03 §2.3); its actions that act on
"the event participant" (no ``target``) fail it, those with a target or none needed (BROADCAST,
SCHEDULE_EVENT, a PROGRAM or explicit PARTICIPANT target) run; tier qualification is skipped.
An API event always names one (``POST /v1/events`` answers 400 otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from scrip import settings
from scrip.domain import budgets as budget_rules
from scrip.domain import clock, ids
from scrip.domain.assets import Asset
from scrip.domain.errors import ApiError, NotFound, PayloadTooLarge
from scrip.domain.events import (
    MAX_ATTEMPTS,
    ActionFailed,
    Event,
    EventStatus,
    EventType,
    PermanentFailure,
    RuleEvaluation,
    StateChangeRecord,
    plain_numbers,
    retry_delay,
)
from scrip.domain.participants import Participant
from scrip.domain.programs import Program
from scrip.domain.rule_engine import BUDGET_EXCEEDED, Snapshot, Verdict, activation, judge
from scrip.domain.rules import Rule, RuleActionType, RuleStatus
from scrip.domain.state import Owner, OwnerKind
from scrip.observability import logger
from scrip.outbound import queues
from scrip.services import participants as participant_service
from scrip.services import rule_actions, tier_events
from scrip.services.state import ChangeSource
from scrip.storage import assets as asset_store
from scrip.storage import budgets as budget_store
from scrip.storage import events as event_store
from scrip.storage import ledger as ledger_store
from scrip.storage import programs as program_store
from scrip.storage import read_cache, table, transactions, unit_of_work
from scrip.storage import rules as rule_store
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store

_REPLANS = 25
_DETAIL_CHARS = 300
# Changes that mean "what we read is out of date": plan again at once, not a failed attempt.
_STALE = (
    ledger_store.StaleBalance,
    state_store.StaleState,
    budget_store.BudgetRace,
    event_store.StaleEvent,
    tier_store.StaleTierState,
    tier_store.StaleTier,
)


@dataclass(frozen=True)
class Processed:
    status: EventStatus | None  # None: nothing to do (already finished, or unknown)
    event: Event | None = None


def process(organization_id: str, event_id: str) -> Processed:
    """Process the event if it still waits; safe to call any number of times, concurrently."""
    for _ in range(_REPLANS):
        event = event_store.get(organization_id, event_id)
        if event is None or event.status not in (EventStatus.PENDING, EventStatus.PROCESSING):
            return Processed(None, event)
        try:
            return Processed(EventStatus.COMPLETED, _attempt(event))
        except _STALE:
            continue
        except PermanentFailure as failure:
            outcome = _record_failure(event, str(failure), permanent=True)
        except ActionFailed as failure:
            outcome = _record_failure(event, failure.message)
        except ApiError as error:
            outcome = _record_failure(event, error.message, permanent=isinstance(error, PayloadTooLarge))
        except unit_of_work.UnitTooLarge as error:
            outcome = _record_failure(event, str(error))
        except Exception as error:  # noqa: BLE001 - whatever it is, the event must not stay PENDING unattempted
            outcome = _record_unexpected(event, error)
        if outcome is not None:
            return Processed(outcome.status, outcome)
    # Every plan was overtaken by a concurrent change: a failed attempt, with its backoff, so
    # that the contention passes before the next one.
    event = event_store.get(organization_id, event_id)
    if event is None or event.status not in (EventStatus.PENDING, EventStatus.PROCESSING):
        return Processed(None, event)
    outcome = _record_failure(event, f"the event's data kept changing during {_REPLANS} plans")
    if outcome is None:
        raise RuntimeError(f"event {event_id} kept changing under its processor; the message will be retried")
    return Processed(outcome.status, outcome)


def _record_unexpected(event: Event, error: Exception) -> Event | None:
    """An error no rule explains: logged with the event id, and a failed attempt like any other.

    A deterministic one (arithmetic out of range, an item over DynamoDB's size limit) fails the
    event at once, since retrying would only repeat it; anything else is retried with backoff,
    which a transient fault (throttling, a lost connection) needs, and ends FAILED after the
    last attempt.
    """
    permanent = is_deterministic(error)
    logger.exception(
        "event processing failed",
        extra={
            "event_id": event.id,
            "organization_id": event.organization_id,
            "attempt": event.attempts + 1,
            "permanent": permanent,
        },
    )
    return _record_failure(event, describe_unexpected(error), permanent=permanent)


def is_deterministic(error: Exception) -> bool:
    if isinstance(error, (ArithmeticError, RecursionError, PayloadTooLarge)):
        return True
    return table.error_code(error) == "ValidationException"


def describe_unexpected(error: Exception) -> str:
    """The event's ``error_message``: the kind of error, and its text where that is the client's own data."""
    code = table.error_code(error)
    if code is not None:
        return f"processing failed: DynamoDB {code}"
    if isinstance(error, (ArithmeticError, ApiError)):
        return f"processing failed: {type(error).__name__}: {str(error)[:_DETAIL_CHARS]}"
    return f"processing failed: unexpected {type(error).__name__}"


def _record_failure(event: Event, message: str, *, permanent: bool = False) -> Event | None:
    """The attempt failed: PENDING with the next attempt's time, or FAILED when none is left."""
    now = clock.now()
    attempts = event.attempts + 1
    final = permanent or attempts >= MAX_ATTEMPTS
    updated = replace(
        event,
        status=EventStatus.FAILED if final else EventStatus.PENDING,
        error_message=message,
        attempts=attempts,
        next_attempt_at=None if final else now + retry_delay(attempts, settings.current().event_retry_base_seconds),
        processed_at=now if final else None,
        updated_at=now,
        version=event.version + 1,
    )
    try:
        transactions.write(event_store.save_writes(event, updated))
    except event_store.StaleEvent:
        return None  # someone else moved it: read it again
    log = logger.error if final else logger.warning
    log(
        "event failed" if final else "event attempt failed",
        extra={"event_id": event.id, "organization_id": event.organization_id, "attempt": attempts, "error": message},
    )
    return updated


# -------------------------------------------------------------- resolution


def _resolve(event: Event, program: Program) -> tuple[Participant | None, Participant | None]:
    org = event.organization_id
    source = ChangeSource(event_id=event.id, program_id=program.id)
    try:
        participant = None
        if _names_a_participant(event):
            participant, _ = participant_service.resolve_for_event(
                org,
                program.id,
                external_id=event.external_id,
                participant_id=event.participant_id,
                source=source,
                program=program,
            )
        recipient = None
        if event.recipient_id or event.recipient_external_id:
            recipient, _ = participant_service.resolve_for_event(
                org,
                program.id,
                external_id=event.recipient_external_id,
                participant_id=event.recipient_id,
                source=source,
                program=program,
            )
    except participant_service.UnknownParticipantRejected as error:
        raise PermanentFailure(error.message) from None
    except NotFound as error:
        raise PermanentFailure(error.message) from None
    return participant, recipient


def _names_a_participant(event: Event) -> bool:
    """Only a SYSTEM event is for the program as a whole; any other without a participant fails
    as it always did (the resolution's "names no participant")."""
    named = event.participant_id is not None or event.external_id is not None
    return named or event.event_type is not EventType.SYSTEM


def _snapshot(org: str, participant: Participant | None, program_id: str) -> Snapshot | None:
    if participant is None:
        return None
    owner = Owner(OwnerKind.PARTICIPANT, participant.id)
    stored = state_store.read(org, owner)
    # From the attempt's one read of the participant's partition, as the state above.
    levels = tier_store.owner_states(state_store.partition(org, owner), program_id)
    now = clock.now()
    return Snapshot(
        participant_id=participant.id,
        external_id=participant.external_id,
        status=participant.status.value,
        tags=sorted(stored.tags),
        counters={key: counter.effective(now).value for key, counter in stored.counters.items()},
        attributes=stored.attributes,
        tiers={key: {"level": s.state.level, "rank": s.state.rank} for key, s in sorted(levels.items())},
    )


# ---------------------------------------------------------------- budgets


def _budget_check(org: str, rule: Rule, variables: dict[str, Any], assets: dict[str, Asset], now: datetime) -> set[str]:
    """Stage the consumption of the rule's budgeted credits; the assets whose credits are suppressed."""
    suppressed: set[str] = set()
    for budget in rule.budgets:
        asset_id = str(budget["asset_id"])
        credit_actions = [
            a for a in rule.actions if a["type"] == RuleActionType.CREDIT.value and a["asset_id"] == asset_id
        ]
        if not credit_actions:
            continue
        asset = assets[asset_id]
        total = sum(
            (rule_actions.resolve_amount(a, variables, asset) or Decimal(0) for a in credit_actions), Decimal(0)
        )
        state = budget_store.read(org, rule.id, asset_id)
        window = budget_rules.current_window(budget, state, now)
        consumed = budget_rules.consumed_in(window, state)
        if not budget_rules.allows(budget, consumed, total):
            suppressed.add(asset_id)
            continue
        transactions.write(
            [budget_store.consume(org, rule.id, asset_id, state, window.id, total, Decimal(budget["limit"]))]
        )
    return suppressed


# ---------------------------------------------------------------- attempt


def _attempt(event: Event) -> Event:
    """One plan and commit. What it reads is read once (P8): the services its actions call read
    the program, assets, participant and balances again, and get them from the attempt's cache;
    a stale commit ends the attempt, and the next one reads afresh."""
    with read_cache.per_attempt():
        return _plan_and_commit(event)


def _plan_and_commit(event: Event) -> Event:
    org = event.organization_id
    program = program_store.get(org, event.program_id)
    if program is None:
        raise PermanentFailure(f"invalid program_id: program {event.program_id} not found")
    participant, recipient = _resolve(event, program)
    snapshot = _snapshot(org, participant, program.id)
    variables = activation(plain_numbers(event.event_data), snapshot, event.event_timestamp)
    rules = [r for r in rule_store.program_rules(org, program.id) if r.status is RuleStatus.ACTIVE]
    verdicts = judge(rules, variables, clock.now())
    wanted_assets = {str(a["asset_id"]) for v in verdicts if v.matched for a in v.rule.actions if a.get("asset_id")} | {
        str(b["asset_id"]) for v in verdicts if v.matched for b in v.rule.budgets
    }
    assets = asset_store.get_many(org, sorted(wanted_assets))
    now = clock.now()

    evaluations: list[RuleEvaluation] = []
    entries: list[str] = []
    changes: list[StateChangeRecord] = []
    with unit_of_work.collecting() as unit:
        for verdict in verdicts:
            resolved, reason = _run_rule(event, program, verdict, participant, recipient, variables, assets, now)
            if verdict.matched:
                entries += resolved.journal_entry_ids
                changes += resolved.state_changes
            evaluations.append(
                RuleEvaluation(
                    id=ids.new_id(),
                    rule_id=verdict.rule.id,
                    rule_name=verdict.rule.name,
                    rule_history_id=verdict.rule.history_id,
                    status=verdict.status,
                    reason=reason,
                    stopped_by_rule_id=verdict.stopped_by_rule_id,
                    error_message=verdict.error_message,
                    created_at=now,
                    actions=resolved.actions,
                )
            )
        # 02 §6 steps 3 and 5, after every rule so that this event's counter increments count.
        if participant is not None:  # a program's event has nobody to qualify
            tier_events.after_rules(org, program.id, event, participant.id, _tiers_set_by_rules(evaluations))
    completed = replace(
        event,
        status=EventStatus.COMPLETED,
        participant_id=participant.id if participant else None,
        recipient_id=recipient.id if recipient else event.recipient_id,
        error_message=None,
        attempts=event.attempts + 1,
        next_attempt_at=None,
        processed_at=now,
        updated_at=now,
        version=event.version + 1,
        rule_evaluations=tuple(evaluations),
        matched_rule_ids=tuple(v.rule.id for v in verdicts if v.matched),
        journal_entry_ids=tuple(entries),
        state_changes=tuple(changes),
    )
    unit.commit(event_store.save_writes(event, completed))
    return completed


def _tiers_set_by_rules(evaluations: list[RuleEvaluation]) -> set[str]:
    """The tier keys a SET_TIER of this event ran on, whatever its target: automatic qualification
    leaves them be (02 §4.7.1.3 names the tier key only)."""
    return {
        str(action["resolved"]["tier"])
        for evaluation in evaluations
        for action in evaluation.actions
        if action.get("type") == RuleActionType.SET_TIER.value and "resolved" in action
    }


@dataclass
class _RuleRun:
    actions: list[dict[str, Any]]
    journal_entry_ids: list[str]
    state_changes: list[StateChangeRecord]


def _run_rule(
    event: Event,
    program: Program,
    verdict: Verdict,
    participant: Participant | None,
    recipient: Participant | None,
    variables: dict[str, Any],
    assets: dict[str, Asset],
    now: datetime,
) -> tuple[_RuleRun, str | None]:
    run = _RuleRun([], [], [])
    if not verdict.matched:
        return run, verdict.reason
    rule = verdict.rule
    suppressed = _budget_check(event.organization_id, rule, variables, assets, now)
    for index, action in enumerate(rule.actions):
        if action["type"] == RuleActionType.CREDIT.value and action.get("asset_id") in suppressed:
            run.actions.append({"type": action["type"], "suppressed": BUDGET_EXCEEDED})
            continue
        scope = rule_actions.ActionScope(
            event.organization_id, program, event, rule, participant, recipient, variables, index
        )
        result = rule_actions.run(action, scope)
        run.actions.append(result.resolved)
        run.journal_entry_ids += result.journal_entry_ids
        run.state_changes += result.state_changes
    return run, BUDGET_EXCEEDED if suppressed else None


# ------------------------------------------------------------------ sweep

# The recent hours every run reads whatever the checkpoint says: a clock set back (tests move
# time) or a checkpoint far behind never delays the events of the last hour.
_SWEEP_LOOKBACK = timedelta(hours=1)
# Hour buckets one run reads at most; after an outage the checkpoint takes the next run on.
_SWEEP_MAX_HOURS = 48
_HOUR = timedelta(hours=1)


def sweep_grace_seconds() -> float:
    """How long past its due time an event may wait before the sweep counts it lost (see ``settings``)."""
    return settings.current().event_sweep_grace_seconds


@dataclass(frozen=True)
class SweepRun:
    overdue: int  # entries past the grace period
    requeued: int  # events given a new attempt and queued
    failed: int  # events whose last attempt that was
    dropped: int  # entries of an event that had moved on (the index had not caught up)


def sweep_overdue() -> SweepRun:
    """Find the PENDING events nobody processed (a lost stream batch, a message dead-lettered,
    a processor killed mid-attempt) and queue them again.

    Each one found is a failed attempt ("not processed in time"): its entry moves to its next
    attempt's time, and after the last attempt the event is FAILED with that message, so no
    event waits forever whatever keeps failing. The index is read from the checkpoint on, hour
    bucket by hour bucket, and the checkpoint advances over the buckets left empty.
    """
    now = clock.now()
    grace = sweep_grace_seconds()
    cutoff = now - timedelta(seconds=grace)
    current = _hour_of(now)
    checkpoint = event_store.due_checkpoint()
    advanced_to: datetime | None = None
    counts = {"overdue": 0, "requeued": 0, "failed": 0, "dropped": 0}
    messages: list[tuple[dict[str, Any], int]] = []
    expected: datetime | None = None  # the next hour that keeps the swept buckets in a row
    for hour in _sweep_hours(checkpoint, current):
        emptied = True
        for entry in event_store.overdue(hour, cutoff):
            counts["overdue"] += 1
            try:
                outcome = _sweep_one(entry, now, grace)
            except Exception:  # noqa: BLE001 - one event's trouble must not stop the others
                logger.exception(
                    "sweep could not re-queue an event",
                    extra={"event_id": entry.get("event_id"), "organization_id": entry.get("organization_id")},
                )
                emptied = False
                continue
            if outcome is None:
                emptied = False
                continue
            counts[outcome[0]] += 1
            if outcome[1] is not None:
                messages.append(outcome[1])
        # The checkpoint passes only over buckets wholly past the cutoff and left empty, in a row.
        if expected in (None, hour) and emptied and hour + _HOUR <= cutoff:
            advanced_to = expected = hour + _HOUR
        else:
            expected = current + _HOUR  # unreachable: the row is broken
    if messages:
        queues.send(settings.current().event_queue_url, messages)
    if advanced_to is not None and advanced_to != checkpoint:
        event_store.save_due_checkpoint(advanced_to)
    return SweepRun(**counts)


def _hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _sweep_hours(checkpoint: datetime | None, current: datetime) -> list[datetime]:
    """The hour buckets of one run: up to ``_SWEEP_MAX_HOURS`` from the checkpoint, then always
    the recent ones (a long outage is caught up over several runs without delaying today's)."""
    recent = current - _SWEEP_LOOKBACK
    hours = []
    if checkpoint is not None and checkpoint < recent:
        hours = [checkpoint + _HOUR * n for n in range(_SWEEP_MAX_HOURS) if checkpoint + _HOUR * n < recent]
    return hours + [recent + _HOUR * n for n in range(int((current - recent) / _HOUR) + 1)]


def _sweep_one(
    entry: dict[str, Any], now: datetime, grace: float
) -> tuple[str, tuple[dict[str, Any], int] | None] | None:
    """What became of one overdue entry, with the message to queue; None if the event moved meanwhile."""
    org, event_id = str(entry["organization_id"]), str(entry["event_id"])
    event = event_store.get(org, event_id)
    if event is None or not event_store.is_current_due_entry(event, entry):
        # The index (eventually consistent) has not yet caught up with the event's move: the
        # entry goes with the item's own write, there is nothing to delete.
        return "dropped", None
    due = event_store.due_at(event)
    updated = _record_failure(
        event,
        f"not processed within {grace:.0f} s of its due time {clock.to_rfc3339_or_none(due)}; queued again",
    )
    if updated is None:
        return None
    if updated.status is EventStatus.FAILED:
        return "failed", None
    delay = math.ceil((updated.next_attempt_at - now).total_seconds()) if updated.next_attempt_at else 0
    return "requeued", ({"organization_id": org, "event_id": event_id}, max(0, delay))
