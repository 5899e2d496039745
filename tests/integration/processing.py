"""Helpers for the tests that drive the event processor directly: a real SQS event, two
processors racing to commit one event, and an owner's whole state history."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from scrip.domain.state import Owner, StateChange
from scrip.services import event_processing
from scrip.storage import state as state_store
from scrip.storage import unit_of_work


def sqs_event(org: str, event_id: str) -> dict[str, Any]:
    """What SQS hands EventProcessorFunction for one queued event."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": json.dumps({"organization_id": org, "event_id": event_id}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:EventQueue",
                "awsRegion": "us-east-1",
            }
        ]
    }


def race_two_processors(monkeypatch: pytest.MonkeyPatch, org: str, event_id: str) -> tuple[int, list[Any]]:
    """Two processors plan the event from the same reads, then both commit: (how many reached
    the commit together, their outcomes)."""
    both_planned = threading.Barrier(2, timeout=10)
    real_commit = unit_of_work.UnitOfWork.commit
    waited: list[bool] = []

    def commit_together(self: unit_of_work.UnitOfWork, extra: Any = None) -> None:
        if len(waited) < 2:
            waited.append(True)
            both_planned.wait()  # both have read the same event version and balances
        real_commit(self, extra)

    monkeypatch.setattr(unit_of_work.UnitOfWork, "commit", commit_together)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(event_processing.process(org, event_id))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(unit_of_work.UnitOfWork, "commit", real_commit)
    return len(waited), results


def state_history(org: str, owner: Owner, **filters: Any) -> list[StateChange]:
    """An owner's state history, newest first (one page of 100), optionally of one type or key."""
    query: dict[str, Any] = {
        "limit": 100,
        "after": None,
        "state_type": None,
        "key": None,
        "program_id": None,
        "operation": None,
        "changed_from": None,
        "changed_to": None,
        "event_from": None,
        "event_to": None,
    }
    changes, _ = state_store.history_page(org, owner, **{**query, **filters})
    return list(changes)
