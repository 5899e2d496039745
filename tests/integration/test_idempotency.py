"""The idempotency machinery on its own (01-platform §4.12), against the emulated table.

Later endpoints (hold, release, redemptions, transfers, events) put it behind HTTP; here the
guarantees are checked directly: replay, conflict, racing threads, retention, atomicity.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key

from scrip.domain.errors import Conflict, IdempotencyConflict
from scrip.domain.idempotency import IdempotencyScope, StoredResponse, fingerprint
from scrip.storage import idempotency, table, transactions


@pytest.fixture
def scope(stack) -> IdempotencyScope:  # type: ignore[no-untyped-def]
    return IdempotencyScope(str(uuid.uuid4()), str(uuid.uuid4()), "hold", "order-8841-settled")


def _executions(marker: str) -> list[dict[str, Any]]:
    response = table.client().query(TableName=table.table_name(), KeyConditionExpression=Key("PK").eq(f"TEST#{marker}"))
    return list(response["Items"])


def _operation(marker: str, amount: str, calls: list[int], pause: float = 0.0) -> Any:
    """An operation that writes one execution item and answers with its id."""

    def prepare() -> tuple[list[transactions.Write], StoredResponse]:
        calls.append(1)
        execution = str(uuid.uuid4())
        if pause:
            time.sleep(pause)  # widen the race window between the read and the commit
        write = transactions.put({"PK": f"TEST#{marker}", "SK": execution, "amount": Decimal(amount)})
        return [write], StoredResponse(200, {"execution": execution, "amount": amount})

    return prepare


def test_first_call_executes_and_replay_returns_the_original(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    payload = {"amount": Decimal("100"), "participant_id": "p1"}
    first = idempotency.run_once(scope, fingerprint(payload), _operation(marker, "100", calls))
    assert not first.replayed
    replay = idempotency.run_once(
        scope, fingerprint({"participant_id": "p1", "amount": Decimal("100.00")}), _operation(marker, "100", calls)
    )
    assert replay.replayed
    assert replay.response == first.response
    assert len(_executions(marker)) == 1 and len(calls) == 1


def test_different_payload_is_idempotency_conflict_and_executes_nothing(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    idempotency.run_once(scope, fingerprint({"amount": Decimal("100")}), _operation(marker, "100", calls))
    with pytest.raises(IdempotencyConflict) as raised:
        idempotency.run_once(scope, fingerprint({"amount": Decimal("101")}), _operation(marker, "101", calls))
    assert raised.value.status == 409 and raised.value.code == "idempotency_conflict"
    assert len(_executions(marker)) == 1 and len(calls) == 1


def test_keys_are_scoped_by_organization_program_and_family(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    digest = fingerprint({"amount": Decimal("1")})
    neighbours = [
        scope,
        IdempotencyScope(scope.organization_id, scope.program_id, "transfer", scope.key),
        IdempotencyScope(scope.organization_id, str(uuid.uuid4()), "hold", scope.key),
        IdempotencyScope(str(uuid.uuid4()), scope.program_id, "hold", scope.key),
    ]
    outcomes = [idempotency.run_once(s, digest, _operation(marker, "1", calls)) for s in neighbours]
    assert not any(o.replayed for o in outcomes)
    assert len(_executions(marker)) == 4


@pytest.mark.parametrize("threads", [2, 16])
def test_racing_requests_with_one_key_execute_once(scope: IdempotencyScope, threads: int) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    digest = fingerprint({"amount": Decimal("5")})
    barrier = threading.Barrier(threads)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def request() -> None:
        barrier.wait()
        try:
            outcomes.append(idempotency.run_once(scope, digest, _operation(marker, "5", calls, pause=0.02)))
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    workers = [threading.Thread(target=request) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert len(calls) > 1, "the race did not happen: every thread should have prepared"
    executions = _executions(marker)
    assert len(executions) == 1, "two requests with one key both executed"
    assert sum(not o.replayed for o in outcomes) == 1
    assert {o.response.body["execution"] for o in outcomes} == {executions[0]["SK"]}


def test_racing_requests_with_different_payloads(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def request(amount: str) -> None:
        barrier.wait()
        try:
            results.append(
                idempotency.run_once(
                    scope, fingerprint({"amount": Decimal(amount)}), _operation(marker, amount, calls, pause=0.02)
                )
            )
        except IdempotencyConflict as error:
            results.append(error)

    workers = [threading.Thread(target=request, args=(a,)) for a in ("1", "2")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(isinstance(r, IdempotencyConflict) for r in results) == 1
    assert len(_executions(marker)) == 1


def test_a_failed_operation_stores_no_record(scope: IdempotencyScope) -> None:
    """The operation's own condition fails: neither its writes nor the key are committed."""
    marker = str(uuid.uuid4())

    def failing() -> tuple[list[transactions.Write], StoredResponse]:
        return [
            transactions.put({"PK": f"TEST#{marker}", "SK": "written-before-the-failure"}),
            transactions.condition_check(
                {"PK": f"TEST#{marker}", "SK": "missing"}, Attr("PK").exists(), lambda: Conflict("precondition failed")
            ),
        ], StoredResponse(200, {})

    with pytest.raises(Conflict):
        idempotency.run_once(scope, fingerprint({}), failing)
    assert _executions(marker) == []
    assert idempotency.find(scope) is None
    calls: list[int] = []
    assert not idempotency.run_once(scope, fingerprint({}), _operation(marker, "1", calls)).replayed


def test_retention_is_configured_and_expired_records_are_ignored(
    scope: IdempotencyScope, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    monkeypatch.setenv(idempotency.RETENTION_ENV, "86400")
    idempotency.run_once(scope, fingerprint({}), _operation(marker, "1", calls))
    key = {"PK": idempotency._key(scope)["PK"], "SK": idempotency._key(scope)["SK"]}
    item = table.client().get_item(TableName=table.table_name(), Key=key)["Item"]
    assert abs(int(item["expires_at_epoch"]) - (time.time() + 86400)) < 60
    # DynamoDB's TTL deletes lazily: a record past its expiry must already be ignored.
    table.client().update_item(
        TableName=table.table_name(),
        Key=key,
        UpdateExpression="SET expires_at_epoch = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert idempotency.find(scope) is None


def test_default_retention_is_thirty_days() -> None:
    assert idempotency.DEFAULT_RETENTION_SECONDS == 30 * 24 * 3600


def test_event_keys_never_expire(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    event_scope = IdempotencyScope(scope.organization_id, scope.program_id, "event", "evt-1")
    idempotency.run_once(event_scope, fingerprint({}), _operation(marker, "1", calls), expires=False)
    item = table.client().get_item(TableName=table.table_name(), Key=idempotency._key(event_scope))["Item"]
    assert "expires_at_epoch" not in item


def test_stored_response_keeps_decimals_exact(scope: IdempotencyScope) -> None:
    marker, calls = str(uuid.uuid4()), []  # type: ignore[var-annotated]
    idempotency.run_once(scope, fingerprint({}), _operation(marker, "0.000000000000000001", calls))
    found = idempotency.find(scope)
    assert found is not None
    assert found[1].body["amount"] == "0.000000000000000001"
