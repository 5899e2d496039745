"""A rule's evaluation time limit measures the evaluation, not the machine around it.

Measured by wall clock, a busy machine (twelve processor threads of one participant's events,
another test process on the same cores) sometimes skipped a matching rule as timed out: the
event completed without its credit. Each case below fails with a wall-clock timer or with the
compilation inside the timed region.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from scrip.domain import cel, cel_cost, cel_runtime
from scrip.domain.rule_engine import EVALUATION_TIME_LIMIT_SECONDS, SKIPPED_TIMEOUT, SUCCESS, judge
from scrip.domain.rules import Rule, RuleStatus

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _rule(condition: str) -> Rule:
    return Rule("o", "r", "p", "n", None, condition, [], 10, False, None, None, [],
                RuleStatus.ACTIVE, NOW, NOW, None)  # fmt: skip


def _variables() -> dict[str, Any]:
    return {"event": {"type": "purchase", "amount": 3}, "participant": None, "now": NOW}


def _burn_cpu(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_waiting_for_the_compiled_runners_lock_is_not_evaluation_time() -> None:
    condition = "event.type == 'purchase'"
    assert cel.compile_expression(condition).fallback is not None, "the condition should take the locked runner"
    verdicts: list[Any] = []
    runner = threading.Thread(target=lambda: verdicts.extend(judge([_rule(condition)], _variables(), NOW)))
    with cel_runtime._COMPILED_RUNNER:  # another thread's evaluation, three times the limit
        runner.start()
        time.sleep(EVALUATION_TIME_LIMIT_SECONDS * 3)
    runner.join()
    assert [v.status for v in verdicts] == [SUCCESS]


def test_compiling_a_condition_is_not_evaluation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A text never compiled before in this process: its first judgement compiles it.
    condition = f"event.type == 'purchase' && '{uuid.uuid4()}' != ''"
    real_estimate = cel_cost.estimate

    def slow_estimate(ast: Any) -> Any:
        _burn_cpu(EVALUATION_TIME_LIMIT_SECONDS * 2)  # a cold container compiling on a small CPU share
        return real_estimate(ast)

    monkeypatch.setattr(cel_cost, "estimate", slow_estimate)
    (verdict,) = judge([_rule(condition)], _variables(), NOW)
    assert verdict.status == SUCCESS


def test_an_evaluation_over_the_limit_is_still_skipped_as_timed_out() -> None:
    """The guard itself: CPU time spent evaluating beyond the limit skips the rule."""
    ticks = iter([0.0, EVALUATION_TIME_LIMIT_SECONDS * 2])
    (verdict,) = judge([_rule("event.type == 'purchase'")], _variables(), NOW, timer=lambda: next(ticks))
    assert verdict.status == SKIPPED_TIMEOUT
