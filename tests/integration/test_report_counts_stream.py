"""The reports' holder count (ledger-summary's ``participant_count``) from the ledger totals stream
consumer, with the records DynamoDB emits (NEW_AND_OLD_IMAGES): a balance crossing zero counts,
once per balance version however often the batch comes, and a failure reports the records from
the first one not counted (partial batch response)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from scrip.services import report_counts
from scrip.storage import keys
from scrip.storage import report_counts as count_store
from scrip_local.stack import LocalStack
from tests.integration.automation_helpers import stream_record

FUNCTION = "LedgerTotalsFunction"


def _balance(org: str, participant: str, asset: str, available: int, version: int) -> dict[str, Any]:
    return {
        "PK": keys.participant(org, participant),
        "SK": keys.balance(asset),
        "entity": "BALANCE",
        "entity_type": "PARTICIPANT",
        "owner_id": participant,
        "program_id": None,
        "asset_id": asset,
        "available": Decimal(available),
        "held": Decimal(0),
        "deferred": Decimal(0),
        "version": version,
    }


def _change(org: str, participant: str, asset: str, before: int | None, after: int, version: int) -> dict[str, Any]:
    """The record of a balance going from ``before`` (None: no item yet) to ``after``."""
    record = stream_record("INSERT" if before is None else "MODIFY", _balance(org, participant, asset, after, version))
    if before is not None:
        old = _balance(org, participant, asset, before, version - 1)
        record["dynamodb"]["OldImage"] = {k: TypeSerializer().serialize(v) for k, v in old.items()}
    return record


def test_a_balance_crossing_zero_counts_once_per_version(stack: LocalStack) -> None:
    org, asset = str(uuid.uuid4()), str(uuid.uuid4())
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [
        _change(org, alice, asset, None, 5, 1),  # holds: +1
        _change(org, alice, asset, 5, 8, 2),  # still holds: nothing
        _change(org, bob, asset, None, 3, 1),  # +1
        _change(org, alice, asset, 8, 0, 3),  # back to zero: -1
    ]
    function = stack.functions[FUNCTION]
    assert function.invoke({"Records": batch}) == {"batchItemFailures": []}
    assert report_counts.holders(org, asset) == 1
    assert function.invoke({"Records": batch}) == {"batchItemFailures": []}  # redelivered
    assert function.invoke({"Records": batch[1:3]}) == {"batchItemFailures": []}
    assert report_counts.holders(org, asset) == 1


def test_a_failed_count_reports_the_records_from_it_on(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    org, asset = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [_change(org, str(uuid.uuid4()), asset, None, 1, 1) for _ in range(3)]
    real = count_store.count_holder_change
    calls: list[str] = []

    def second_fails(org_id: str, participant_id: str, asset_id: str, version: int, delta: int) -> None:
        calls.append(participant_id)
        if len(calls) == 2:
            raise RuntimeError("throttled")
        real(org_id, participant_id, asset_id, version, delta)

    monkeypatch.setattr(count_store, "count_holder_change", second_fails)
    answer = stack.functions[FUNCTION].invoke({"Records": batch})
    assert answer == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in batch[1:]]}
    assert report_counts.holders(org, asset) == 1
    monkeypatch.setattr(count_store, "count_holder_change", real)
    # Lambda retries from the first failed record; a whole redelivery would count nothing twice either.
    assert stack.functions[FUNCTION].invoke({"Records": batch}) == {"batchItemFailures": []}
    assert report_counts.holders(org, asset) == 3
