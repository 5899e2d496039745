"""Helpers shared by the use cases."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from scrip.domain.errors import Conflict

type StaleErrors = type[Exception] | tuple[type[Exception], ...]


@dataclass(frozen=True)
class StaleRetry:
    """How a read-plan-write is re-run when what it read changed before it committed.

    The pause before each new attempt is drawn at random below a bound that grows with the
    failures so far (``pause_step_seconds`` per failure, at most ``pause_max_steps`` steps):
    writers that collided once do not collide again in lockstep.
    """

    stale: StaleErrors
    attempts: int = 5
    pause_step_seconds: float = 0.001
    pause_max_steps: int = 10
    conflict_message: str = "the resource changed concurrently; retry the request"

    def pause_bound(self, failures: int) -> float:
        """The longest pause after ``failures`` failed attempts, in seconds."""
        return self.pause_step_seconds * min(failures, self.pause_max_steps)


def retry_on_stale[T](operation: Callable[[], T], stale: StaleErrors | StaleRetry) -> T:
    """Run ``operation`` until what it read is still current when it commits, else ``409``.

    ``stale`` names the exceptions that mean "lost to another writer" (retried with the
    default policy), or is a ``StaleRetry`` for a hotter item that needs more attempts.
    """
    policy = stale if isinstance(stale, StaleRetry) else StaleRetry(stale)
    for failures in range(1, policy.attempts + 1):
        try:
            return operation()
        except policy.stale:
            if failures < policy.attempts:
                time.sleep(random.uniform(0, policy.pause_bound(failures)))  # noqa: S311 - jitter, not a secret
    raise Conflict(policy.conflict_message)
