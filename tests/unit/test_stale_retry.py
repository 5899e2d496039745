"""The one optimistic-retry helper: retried while stale, then 409, with a bounded jittered pause."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from scrip.domain.errors import Conflict
from scrip.services import common
from scrip.services.common import StaleRetry, retry_on_stale


class Stale(Exception):
    pass


class OtherStale(Exception):
    pass


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(common, "time", SimpleNamespace(sleep=slept.append))  # this module's clock only
    return slept


def _losing(times: int, *errors: Exception) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def operation() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise errors[(len(calls) - 1) % len(errors)]
        return "committed"

    return calls, operation


def test_an_operation_that_loses_a_few_races_commits(pauses: list[float]) -> None:
    calls, operation = _losing(3, Stale(), OtherStale())
    assert retry_on_stale(operation, (Stale, OtherStale)) == "committed"
    assert len(calls) == 4
    assert len(pauses) == 3


def test_an_operation_that_always_loses_is_a_conflict_after_its_attempts(pauses: list[float]) -> None:
    calls, operation = _losing(100, Stale())
    with pytest.raises(Conflict, match="changed concurrently") as raised:
        retry_on_stale(operation, Stale)
    assert raised.value.status == 409
    assert len(calls) == StaleRetry(Stale).attempts == 5
    assert len(pauses) == 4  # no pause after the last attempt


def test_a_policy_sets_attempts_message_and_pauses(pauses: list[float]) -> None:
    policy = StaleRetry(Stale, attempts=40, pause_max_steps=20, conflict_message="the balance changed")
    calls, operation = _losing(100, Stale())
    with pytest.raises(Conflict, match="the balance changed"):
        retry_on_stale(operation, policy)
    assert len(calls) == 40
    assert all(0 <= pause <= policy.pause_bound(failures) for failures, pause in enumerate(pauses, start=1))


def test_the_pause_bound_grows_with_failures_up_to_its_cap() -> None:
    policy = StaleRetry(Stale, pause_step_seconds=0.002, pause_max_steps=10)
    assert [policy.pause_bound(n) for n in (1, 2, 10, 11, 60)] == pytest.approx([0.002, 0.004, 0.02, 0.02, 0.02])


def test_other_errors_are_not_retried(pauses: list[float]) -> None:
    calls, operation = _losing(1, ValueError("not a race"))
    with pytest.raises(ValueError, match="not a race"):
        retry_on_stale(operation, Stale)
    assert len(calls) == 1
    assert pauses == []
