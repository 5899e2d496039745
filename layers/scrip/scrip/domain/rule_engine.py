"""Which rules of a program match an event (03 §2.1-2.4), as pure functions.

Every condition of one event is judged against the same pre-event snapshot of the
participant's state (03 §2.4): a COUNTER written by rule A is not visible to rule B's
condition in the same event. Rules come in ascending ``order``; a matched rule with
``stop_after_match`` stops the rest; activity windows use the wall clock, ``now`` in CEL is the
event's own timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import cel
from scrip.domain.rules import Rule, RuleStatus

# cel-python cannot be interrupted, so a slow evaluation is discarded once measured: the
# bounds on expression size keep one evaluation far below this in practice. What is measured is
# the evaluating thread's CPU time, and the evaluation alone: a thread waiting for the CPU, the
# GIL or the compiled runner's lock is not evaluating, and loading cel-python and compiling the
# condition (a cold container's first event) happen before the clock starts. Measured by wall
# clock, a busy machine skipped a matching rule now and then: the event completed without its
# credit, and a replay could answer otherwise.
EVALUATION_TIME_LIMIT_SECONDS = 0.1

SUCCESS = "SUCCESS"
NOT_MATCHED = "NOT_MATCHED"
SKIPPED = "SKIPPED"
SKIPPED_ERROR = "SKIPPED_ERROR"
SKIPPED_TIMEOUT = "SKIPPED_TIMEOUT"

CONDITION_FALSE = "CONDITION_FALSE"
OUTSIDE_TIME_WINDOW = "OUTSIDE_TIME_WINDOW"
STOPPED_BY_PRIOR_RULE = "STOPPED_BY_PRIOR_RULE"
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


@dataclass(frozen=True)
class Snapshot:
    """The participant's state when processing starts."""

    participant_id: str
    external_id: str | None
    status: str
    tags: list[str]
    counters: dict[str, Decimal]
    attributes: dict[str, str]
    # The event program's tiers where the participant holds a level: {tier_key: {level, rank}} (02 §4.11).
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)


def activation(event_data: dict[str, Any], snapshot: Snapshot | None, now: datetime) -> dict[str, Any]:
    """The CEL variables of 03 §4.3; ``participant`` is ``null`` for a program's event (no participant)."""
    if snapshot is None:
        return {"event": event_data, "participant": None, "now": now}
    return {
        "event": event_data,
        "participant": {
            "id": snapshot.participant_id,
            "external_id": snapshot.external_id or "",
            "status": snapshot.status,
            "tags": snapshot.tags,
            "counters": snapshot.counters,
            "attributes": snapshot.attributes,
            "tiers": snapshot.tiers,
        },
        "now": now,
    }


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    status: str
    reason: str | None = None
    stopped_by_rule_id: str | None = None
    error_message: str | None = None

    @property
    def matched(self) -> bool:
        return self.status == SUCCESS


def in_window(rule: Rule, wall_clock: datetime) -> bool:
    """Both bounds inclusive (03 §2.3)."""
    if rule.active_from is not None and wall_clock < rule.active_from:
        return False
    return not (rule.active_to is not None and wall_clock > rule.active_to)


TIMED_OUT = "condition evaluation timed out"


def judge_within_limit(
    condition: str, variables: dict[str, Any], timer: Callable[[], float] = time.thread_time
) -> tuple[bool, str | None, bool]:
    """(matched, error, timed out): ``cel.judge_condition`` with its evaluation measured against
    ``EVALUATION_TIME_LIMIT_SECONDS`` (the condition loaded and compiled before the clock starts)."""
    cel.prepare(condition)
    started = timer()
    matched, error = cel.judge_condition(condition, variables)
    return matched, error, timer() - started > EVALUATION_TIME_LIMIT_SECONDS


def judge(
    rules: Sequence[Rule],
    variables: dict[str, Any],
    wall_clock: datetime,
    timer: Callable[[], float] = time.thread_time,
) -> list[Verdict]:
    """A verdict for every ACTIVE rule, in evaluation order."""
    verdicts: list[Verdict] = []
    stopped_by: str | None = None
    for rule in sorted(
        (r for r in rules if r.status is RuleStatus.ACTIVE), key=lambda r: (r.order, r.created_at, r.id)
    ):
        if stopped_by is not None:
            verdicts.append(Verdict(rule, SKIPPED, STOPPED_BY_PRIOR_RULE, stopped_by_rule_id=stopped_by))
            continue
        if not in_window(rule, wall_clock):
            verdicts.append(Verdict(rule, SKIPPED, OUTSIDE_TIME_WINDOW))
            continue
        matched, error, timed_out = judge_within_limit(rule.condition, variables, timer)
        if timed_out:
            verdicts.append(Verdict(rule, SKIPPED_TIMEOUT, error_message=TIMED_OUT))
            continue
        if error is not None:
            verdicts.append(Verdict(rule, SKIPPED_ERROR, error_message=error))
            continue
        if not matched:
            verdicts.append(Verdict(rule, NOT_MATCHED, CONDITION_FALSE))
            continue
        verdicts.append(Verdict(rule, SUCCESS))
        if rule.stop_after_match:
            stopped_by = rule.id
    return verdicts
