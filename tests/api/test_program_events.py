"""A program-scoped automation without participant (06 §1.9): one SYSTEM event for the program
as a whole, processed through the rules with ``participant`` null. Actions that need no
participant (BROADCAST, SCHEDULE_EVENT, a targeted action) run; an action on "the event
participant" fails the event, and the automation's ``last_error`` names it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip.services.rule_actions import NO_PARTICIPANT
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import by_key, create, fire, url
from tests.api.events_helpers import balance, rule
from tests.conftest import Api


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed attempt is retried at once: the five attempts of a failing event fit one drain."""
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _members(api: Api, program_id: str, count: int) -> list[str]:
    made = []
    for _ in range(count):
        response = api.post("/v1/participants", json={"external_id": f"p-{uuid.uuid4()}", "program_id": program_id})
        assert response.status_code in (200, 201), response.text
        made.append(str(response.json()["id"]))
    return made


def _monthly(api: Api, created: list[tuple[str, str]], program_id: str) -> dict[str, object]:
    """A program-scoped cron automation (no participant) firing ``monthly`` on the 1st at midnight."""
    return create(
        api,
        created,
        program_id,
        event_name="monthly",
        scope="program",
        trigger={"type": "cron", "cron_expression": "0 0 1 * *"},
    )


def _fire_monthly(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], automation: dict[str, object]
) -> dict[str, object]:
    """Move to the cron's instant, run the scheduler and everything it sets off; the fire's event."""
    instant = parse_rfc3339(str(automation["next_run_at"]))
    move_clock(instant + timedelta(seconds=5))
    fire(api)
    stack.drain()
    stack.drain()
    event = by_key(api, str(automation["program_id"]), f"automation:{automation['id']}:{to_rfc3339(instant)}")
    assert event is not None
    return event


def test_a_program_cron_without_participant_broadcasts_to_every_participant(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PRG1")
    # ``participant`` is null: a rule reading it is skipped (SKIPPED_ERROR), it does not fail the event.
    rule(api, program["id"], '"vip" in participant.tags', [{"type": "TAG", "tag": "never"}], name="reads participant")
    rule(
        api,
        program["id"],
        'event.type == "monthly" && participant == null',
        [{"type": "BROADCAST", "event_name": "each"}],
    )
    rule(api, program["id"], 'event.type == "each"', [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    members = _members(api, program["id"], 3)
    automation = _monthly(api, created, program["id"])
    event = _fire_monthly(api, stack, move_clock, automation)
    assert event["status"] == "COMPLETED", event
    assert event["participant_id"] is None and event["event_type"] == "SYSTEM"
    detail = api.get(f"/v1/events/{event['id']}?include_skipped=true").json()
    statuses = {e["rule_name"]: e["status"] for e in detail["rule_evaluations"]}
    assert statuses["reads participant"] == "SKIPPED_ERROR"
    for member in members:
        assert balance(api, member, points["id"])["available"] == "5"
    after = api.get(url(automation)).json()
    assert after["last_error"] is None and after["status"] == "active"


def test_an_action_on_the_event_participant_fails_the_program_event_and_sets_last_error(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PRG2")
    rule(api, program["id"], 'event.type == "monthly"', [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    (member,) = _members(api, program["id"], 1)
    automation = _monthly(api, created, program["id"])
    event = _fire_monthly(api, stack, move_clock, automation)
    assert event["status"] == "FAILED", event
    assert event["error_message"] == f"action CREDIT failed: {NO_PARTICIPANT}"
    assert balance(api, member, points["id"])["available"] == "0"
    after = api.get(url(automation)).json()
    assert after["last_error"] == f"event {event['id']} failed: action CREDIT failed: {NO_PARTICIPANT}"
    assert after["status"] == "active"  # one failed run of five


def test_a_targeted_action_and_a_schedule_event_run_without_participant(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    """A PARTICIPANT target needs no event participant; SCHEDULE_EVENT without target schedules a
    program's event in turn, which the next fire of the scheduled events processes the same way."""
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PRG3")
    (member,) = _members(api, program["id"], 1)
    target = {"type": "PARTICIPANT", "id": member}
    monthly = rule(
        api,
        program["id"],
        'event.type == "monthly"',
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "2", "target": target},
            {"type": "SCHEDULE_EVENT", "event_name": "later", "delay": "1h"},
        ],
    )
    rule(
        api,
        program["id"],
        'event.type == "later"',
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "7", "target": target}],
    )
    automation = _monthly(api, created, program["id"])
    event = _fire_monthly(api, stack, move_clock, automation)
    assert event["status"] == "COMPLETED", event
    assert balance(api, member, points["id"])["available"] == "2"
    move_clock(parse_rfc3339(str(automation["next_run_at"])) + timedelta(hours=1, minutes=1))
    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    detail = api.get(f"/v1/events/{event['id']}").json()
    (evaluation,) = [e for e in detail["rule_evaluations"] if e["rule_id"] == monthly["id"]]
    scheduled = evaluation["actions"][1]["resolved"]
    follow_up = by_key(api, program["id"], scheduled["idempotency_key"])
    assert follow_up is not None and follow_up["participant_id"] is None and follow_up["status"] == "COMPLETED"
    assert balance(api, member, points["id"])["available"] == "9"


def test_an_api_event_still_needs_a_participant(api: Api) -> None:
    """Only the scheduler makes a program's event: POST /v1/events without one is a 400 (03 §1.5)."""
    program = api.create_program()
    response = api.post("/v1/events", json={"program_id": program["id"], "event_data": {"type": "x"}})
    assert response.status_code == 400 and response.json()["code"] == "validation_error", response.text
