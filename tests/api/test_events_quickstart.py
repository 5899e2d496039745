"""The spec's quickstart through HTTP: program → asset → rule → event → balance and one entry."""

from __future__ import annotations

from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, participant_id, processed, rule, send
from tests.conftest import Api


def test_quickstart_event_credits_points_with_one_journal_entry(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    earn = rule(
        api,
        program["id"],
        "event.type == 'purchase' && event.amount > 50.0",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 10"}],
        name="Base earn",
    )

    accepted = send(api, program["id"], {"type": "purchase", "amount": 75}, external_id="cust_881")
    assert accepted["status"] == "PENDING"
    assert accepted["participant_id"] is None

    event = processed(api, stack, accepted["id"])
    assert event["status"] == "COMPLETED", event
    assert [e["status"] for e in event["rule_evaluations"]] == ["SUCCESS"]
    assert event["rule_evaluations"][0]["rule_history_id"]
    member = participant_id(api, "cust_881")
    assert event["participant_id"] == member
    assert balance(api, member, points["id"])["available"] == "750"

    entries = api.get(f"/v1/journal-entries?event_id={event['id']}").json()["data"]
    assert len(entries) == 1
    assert entries[0]["rule_id"] == earn["id"]
    assert sorted((p["entity_type"], p["amount"]) for p in entries[0]["postings"]) == [
        ("PARTICIPANT", "750"),
        ("SYSTEM", "-750"),
    ]
