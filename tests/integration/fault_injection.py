"""Faults injected at one DynamoDB call of an operation, to prove it applies exactly once.

``FaultyClient`` stands in for ``table.client()`` and counts every call the code under test
makes. At the ``fault_at``-th call (counting from 0) it injects one of:

* ``FAIL``: the call fails before it runs (nothing reaches the table);
* ``LOSE``: the call runs, its answer is lost, and it is sent again once, as botocore's retry
  does after a timeout or a 500; the caller gets the second answer (or its error);
* ``RAN_THEN_FAILED``: the call runs and the caller gets an error, as when the SDK's retries run out
  after a call that did commit.

``faulted(monkeypatch, ...)`` installs one for a block and yields it, so a test first counts
the calls of a clean run, then replays the operation once per call index and mode.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scrip.storage import table


class Fault(enum.Enum):
    FAIL = "fail"
    LOSE = "lose"
    RAN_THEN_FAILED = "ran_then_failed"


def injected_error(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "InternalServerError", "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        operation,
    )


def cancelled_by_conflict(items: int) -> ClientError:
    """What DynamoDB answers a transaction that a concurrent one cancelled."""
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}] * items
    return ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "injected"}, "CancellationReasons": reasons},
        "TransactWriteItems",
    )


class FaultyClient:
    """Delegates to the real client; injects ``fault`` at the ``fault_at``-th call."""

    def __init__(self, real: Any, fault_at: int | str | None = None, fault: Fault = Fault.FAIL) -> None:
        self.real, self.fault_at, self.fault = real, fault_at, fault
        self.calls: list[str] = []
        self.faulted: str | None = None  # the name of the call that was faulted, once it was

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)
        if not callable(method) or name.startswith("_") or name in ("meta", "exceptions"):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            index = len(self.calls)
            self.calls.append(name)
            # An index faults that call; a name faults the first call of that operation.
            target = index if isinstance(self.fault_at, int) else (name if self.faulted is None else None)
            if target != self.fault_at:
                return method(*args, **kwargs)
            self.faulted = name
            if self.fault is Fault.FAIL:
                raise injected_error(name)
            method(*args, **kwargs)
            if self.fault is Fault.RAN_THEN_FAILED:
                raise injected_error(name)
            return method(*args, **kwargs)  # the SDK's re-send of the same request

        return call


@contextmanager
def faulted(
    monkeypatch: pytest.MonkeyPatch, fault_at: int | str | None = None, fault: Fault = Fault.FAIL
) -> Iterator[FaultyClient]:
    """``table.client()`` answers a ``FaultyClient`` inside the block (``fault_at`` None only counts;
    a name such as ``"transact_write_items"`` faults the first call of that operation)."""
    real = table.client()
    client = FaultyClient(real, fault_at, fault)
    monkeypatch.setattr(table, "client", lambda: client)
    try:
        yield client
    finally:
        monkeypatch.setattr(table, "client", lambda: real)
