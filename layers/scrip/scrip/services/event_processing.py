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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import budgets as budget_rules
from scrip.domain import clock, ids
from scrip.domain.assets import Asset
from scrip.domain.errors import ApiError, NotFound
from scrip.domain.events import (
    MAX_ATTEMPTS,
    ActionFailed,
    Event,
    EventStatus,
    PermanentFailure,
    RuleEvaluation,
    StateChangeRecord,
    plain_numbers,
    retry_delay,
)
from scrip.domain.participants import Participant
from scrip.domain.programs import Program
from scrip.domain.rule_engine import BUDGET_EXCEEDED, Snapshot, Verdict, activation, judge
from scrip.domain.rules import ActionType, Rule, RuleStatus
from scrip.domain.state import Owner, OwnerKind
from scrip.services import participants as participant_service
from scrip.services import rule_actions
from scrip.services.state import ChangeSource
from scrip.storage import assets as asset_store
from scrip.storage import budgets as budget_store
from scrip.storage import events as event_store
from scrip.storage import ledger as ledger_store
from scrip.storage import programs as program_store
from scrip.storage import rules as rule_store
from scrip.storage import state as state_store
from scrip.storage import transactions, unit_of_work

RETRY_BASE_ENV = "SCRIP_EVENT_RETRY_BASE_SECONDS"
_REPLANS = 25
# Changes that mean "what we read is out of date": plan again at once, not a failed attempt.
_STALE = (
    ledger_store.StaleBalance,
    state_store.StaleState,
    budget_store.BudgetRace,
    event_store.StaleEvent,
)


@dataclass(frozen=True)
class Processed:
    status: EventStatus | None  # None: nothing to do (already finished, or unknown)
    event: Event | None = None


def retry_base_seconds() -> float:
    return float(os.environ.get(RETRY_BASE_ENV, "2"))


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
            outcome = _record_failure(event, error.message)
        except unit_of_work.UnitTooLarge as error:
            outcome = _record_failure(event, str(error))
        if outcome is not None:
            return Processed(outcome.status, outcome)
    raise RuntimeError(f"event {event_id} kept changing under its processor; the message will be retried")


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
        next_attempt_at=None if final else now + retry_delay(attempts, retry_base_seconds()),
        processed_at=now if final else None,
        updated_at=now,
        version=event.version + 1,
    )
    try:
        transactions.write(event_store.save_writes(event, updated))
    except event_store.StaleEvent:
        return None  # someone else moved it: read it again
    return updated


# -------------------------------------------------------------- resolution


def _resolve(event: Event, program: Program) -> tuple[Participant, Participant | None]:
    org = event.organization_id
    source = ChangeSource(event_id=event.id, program_id=program.id)
    try:
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


def _snapshot(org: str, participant: Participant) -> Snapshot:
    stored = state_store.read(org, Owner(OwnerKind.PARTICIPANT, participant.id))
    now = clock.now()
    return Snapshot(
        participant_id=participant.id,
        external_id=participant.external_id,
        status=participant.status.value,
        tags=sorted(stored.tags),
        counters={key: counter.effective(now).value for key, counter in stored.counters.items()},
        attributes=stored.attributes,
    )


# ---------------------------------------------------------------- budgets


def _budget_check(org: str, rule: Rule, variables: dict[str, Any], assets: dict[str, Asset], now: datetime) -> set[str]:
    """Stage the consumption of the rule's budgeted credits; the assets whose credits are suppressed."""
    suppressed: set[str] = set()
    for budget in rule.budgets:
        asset_id = str(budget["asset_id"])
        credit_actions = [a for a in rule.actions if a["type"] == ActionType.CREDIT.value and a["asset_id"] == asset_id]
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
    org = event.organization_id
    program = program_store.get(org, event.program_id)
    if program is None:
        raise PermanentFailure(f"invalid program_id: program {event.program_id} not found")
    participant, recipient = _resolve(event, program)
    variables = activation(plain_numbers(event.event_data), _snapshot(org, participant), event.event_timestamp)
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
    completed = replace(
        event,
        status=EventStatus.COMPLETED,
        participant_id=participant.id,
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


@dataclass
class _RuleRun:
    actions: list[dict[str, Any]]
    journal_entry_ids: list[str]
    state_changes: list[StateChangeRecord]


def _run_rule(
    event: Event,
    program: Program,
    verdict: Verdict,
    participant: Participant,
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
        if action["type"] == ActionType.CREDIT.value and action.get("asset_id") in suppressed:
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
