"""SCHEDULE_EVENT and BROADCAST create automations with ``source = rule_action`` (06 §1.10) and the
automations' scheduler and fan-out execute them: SCHEDULE_EVENT a ``one_time``, ``scope=program``
automation for the event's participant; BROADCAST an ``immediate``, ``scope=participants`` one.
Ids come from the event, rule and action index, so a replanned or redelivered event creates one;
a failed event creates none; PATCH and DELETE act on them as on any automation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from scrip.domain.clock import parse_rfc3339
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import by_key, fire, url
from tests.api.events_helpers import balance, processed, rule, send
from tests.conftest import Api


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _member(api: Api, program_id: str, external_id: str, status: str | None = None) -> str:
    body: dict[str, Any] = {"external_id": external_id, "program_id": program_id}
    response = api.post("/v1/participants", json=body)
    assert response.status_code in (200, 201), response.text
    member = str(response.json()["id"])
    if status is not None:
        changed = api.patch(f"/v1/participants/{member}/status", json={"status": status})
        assert changed.status_code == 200, changed.text
    return member


def _rule_actions(api: Api, program_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/programs/{program_id}/automations", params={"source": "rule_action"})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _resolved(event: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    (evaluation,) = [e for e in event["rule_evaluations"] if e["rule_id"] == rule_id]
    return [action["resolved"] for action in evaluation["actions"]]


def test_schedule_event_is_a_one_time_automation_fired_by_the_scheduler(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="RAA1")
    scheduling = rule(
        api,
        program["id"],
        "event.type == 'signup'",
        [{"type": "SCHEDULE_EVENT", "event_name": "day_later", "delay": "1d", "payload": {"bonus": 4}}],
    )
    rule(
        api,
        program["id"],
        "event.type == 'day_later'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.bonus"}],
    )
    api_made = api.post(
        f"/v1/programs/{program['id']}/automations",
        json={
            "name": f"api {uuid.uuid4()}",
            "event_name": "x",
            "scope": "program",
            "trigger": {"type": "cron", "cron_expression": "0 0 1 1 *"},
        },
    )
    assert api_made.status_code == 201, api_made.text
    source = processed(api, stack, send(api, program["id"], {"type": "signup"}, external_id="raa-1")["id"])
    assert source["status"] == "COMPLETED", source
    (resolved,) = _resolved(source, scheduling["id"])

    (listed,) = _rule_actions(api, program["id"])  # the API-made cron is not listed
    assert listed["id"] == resolved["automation_id"] and listed["source"] == "rule_action"
    assert (listed["trigger_type"], listed["scope"], listed["status"]) == ("one_time", "program", "active")
    assert listed["participant_id"] == source["participant_id"] and listed["trigger_at"] == resolved["fire_at"]
    assert scheduling["id"] in listed["description"] and source["id"] in listed["description"]
    assert listed["event_name"] == "day_later" and listed["payload"] == {"bonus": 4}
    every = api.get(f"/v1/programs/{program['id']}/automations").json()["data"]
    assert {a["source"] for a in every} == {"api", "rule_action"}

    move_clock(parse_rfc3339(resolved["fire_at"]) + timedelta(seconds=5))
    fire(api)
    fire(api)  # a second tick fires nothing more
    stack.drain()
    follow_up = by_key(api, program["id"], resolved["idempotency_key"])
    assert follow_up is not None and follow_up["status"] == "COMPLETED", follow_up
    assert follow_up["participant_id"] == source["participant_id"] and follow_up["event_type"] == "SYSTEM"
    assert follow_up["event_timestamp"] == resolved["fire_at"]
    assert balance(api, source["participant_id"], points["id"])["available"] == "4"
    after = api.get(url(listed)).json()
    assert after["processed_at"] is not None and after["error_message"] is None
    api.delete(url(api_made.json()))


def test_a_deleted_scheduled_automation_never_fires(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    program = api.create_program()
    scheduling = rule(
        api, program["id"], "event.type == 'signup'", [{"type": "SCHEDULE_EVENT", "event_name": "later", "delay": "1h"}]
    )
    source = processed(api, stack, send(api, program["id"], {"type": "signup"}, external_id="raa-2")["id"])
    (resolved,) = _resolved(source, scheduling["id"])
    (listed,) = _rule_actions(api, program["id"])
    assert api.delete(url(listed)).status_code == 204
    move_clock(parse_rfc3339(resolved["fire_at"]) + timedelta(seconds=5))
    fire(api)
    stack.drain()
    assert by_key(api, program["id"], resolved["idempotency_key"]) is None
    assert _rule_actions(api, program["id"]) == []  # archived: left out of the default list


def test_a_failed_event_creates_no_automation(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="RAA3")
    rule(
        api,
        program["id"],
        "event.type == 'order'",
        [
            {"type": "SCHEDULE_EVENT", "event_name": "review", "delay": "1h"},
            {"type": "BROADCAST", "event_name": "news"},
            {"type": "DEBIT", "asset_id": points["id"], "amount": "10"},
        ],
    )
    source = processed(api, stack, send(api, program["id"], {"type": "order"}, external_id="raa-3")["id"])
    assert source["status"] == "FAILED" and source["retry_count"] == 5, source
    assert _rule_actions(api, program["id"]) == []


def test_broadcast_is_an_immediate_participants_automation_run_by_the_fan_out(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="RAA4")
    announce = rule(
        api,
        program["id"],
        "event.type == 'announce'",
        [{"type": "BROADCAST", "event_name": "promo", "payload": {"points": 3}}],
    )
    rule(api, program["id"], "event.type == 'promo'", [{"type": "TAG", "tag": "reached"}])
    members = [_member(api, program["id"], f"raa4-{uuid.uuid4()}") for _ in range(3)]
    suspended = _member(api, program["id"], f"raa4-s-{uuid.uuid4()}", status="SUSPENDED")
    closed = _member(api, program["id"], f"raa4-c-{uuid.uuid4()}", status="CLOSED")
    source = processed(
        api, stack, send(api, program["id"], {"type": "announce"}, external_id=f"raa4-src-{uuid.uuid4()}")["id"]
    )
    assert source["status"] == "COMPLETED", source
    (resolved,) = _resolved(source, announce["id"])
    stack.drain()
    stack.drain()
    automation = api.get(f"/v1/programs/{program['id']}/automations/{resolved['automation_id']}").json()
    assert (automation["source"], automation["trigger_type"], automation["scope"]) == (
        "rule_action",
        "immediate",
        "participants",
    )
    assert automation["execution_status"] == "completed", automation
    reached = set(members) | {suspended, source["participant_id"]}  # enrolled and not CLOSED, as before
    assert automation["participants_processed"] == automation["participants_total"] == len(reached)
    made = api.get(f"/v1/events?event_type=SYSTEM&program_id={program['id']}&limit=200").json()["data"]
    assert sorted(e["participant_id"] for e in made) == sorted(reached)
    assert closed not in {e["participant_id"] for e in made}
    for event in made:
        assert event["status"] == "COMPLETED" and event["event_data"] == {"points": 3, "type": "promo"}
    assert balance(api, members[0], points["id"])["available"] == "0"
    (listed,) = _rule_actions(api, program["id"])
    assert listed["id"] == automation["id"]
