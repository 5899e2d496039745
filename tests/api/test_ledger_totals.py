"""System-account totals derived from the table's stream (decision 8), through the local stack."""

from __future__ import annotations

from decimal import Decimal

from scrip.services import totals
from scrip_local.event_sources import matches
from tests import stream_deliveries
from tests.api.ledger_helpers import make_ledger
from tests.conftest import Api


def test_totals_follow_committed_entries_and_survive_redelivery(api: Api, stack) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(api)
    alice, bob = ledger.participant(), ledger.participant()
    stack.drain()  # whatever other tests left in the stream
    ledger.adjust(alice, "100")
    ledger.adjust(bob, "40")
    ledger.adjust(alice, "15", type="DEBIT")
    ledger.operation(alice, "forfeit", bucket="AVAILABLE", amount="5")
    ledger.fund("250")
    ledger.api.post(f"/v1/programs/{ledger.program['id']}/assets/{ledger.cash['id']}/burn", json={"amount": "50"})
    with stream_deliveries.recorded(stack, "LedgerTotalsFunction") as delivered:
        stack.drain()
    org, points, cash = api.organization_id, ledger.points["id"], ledger.cash["id"]
    diagnosis = (len(delivered), stack.events.dead_letters[-3:], [len(s.pending) for s in stack.events.streams])
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points) == Decimal(-125), diagnosis  # -100 -40 +15
    assert totals.system_total(org, "SYSTEM_BREAKAGE", points) == Decimal(5)
    assert totals.system_total(org, "SYSTEM_ISSUANCE", cash) == Decimal(-250)
    assert totals.system_total(org, "SYSTEM_BREAKAGE", cash) == Decimal(50)
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points, ledger.program["id"]) == Decimal(-125)
    # only journal entries and what the report counts follow (participants' balances, completed
    # events) reach the function: the event source's filter drops the rest
    records = [r for event in delivered for r in event["Records"]]
    entities = {r["dynamodb"]["NewImage"]["entity"]["S"] for r in records}
    assert records and entities <= {"JOURNAL_ENTRY", "BALANCE", "EVENT"}, entities
    assert all(
        r["dynamodb"]["NewImage"]["entity_type"] == {"S": "PARTICIPANT"}
        for r in records
        if r["dynamodb"]["NewImage"]["entity"] == {"S": "BALANCE"}
    )
    # a redelivered batch changes nothing: the consumer is idempotent
    for event in delivered:
        assert stack.functions["LedgerTotalsFunction"].invoke(event) == {"batchItemFailures": []}
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points) == Decimal(-125)


def test_filter_patterns_match_like_lambda() -> None:
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["JOURNAL_ENTRY"]}}}}
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"entity": {"S": "JOURNAL_ENTRY"}, "id": {"S": "x"}}}}
    assert matches(pattern, record)
    assert not matches(pattern, {**record, "eventName": "MODIFY"})
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"entity": {"S": "LOT"}}}})
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {}})
