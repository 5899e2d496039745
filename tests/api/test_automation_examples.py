"""The composed examples of 06 §1.11 through HTTP (issue 15's "Done when"): each body sent as the
spec shows it (ids the test's own), the documented response fields checked, then the application
clock moved so the automation fires and its generated events followed to balances and webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import by_key, error, fire, url
from tests.api.events_helpers import balance, rule
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api

# The moment the spec's examples were created at (their created_at): a Wednesday.
CREATED_AT = parse_rfc3339("2026-03-04T12:00:00Z")
NOT_TRIGGERABLE = "Automation cannot be triggered (must be active and idle or cron+program)"

WEEKLY = {
    "name": "Monday streak check",
    "event_name": "weekly_streak_check",
    "scope": "participants",
    "trigger": {"type": "cron", "cron_expression": "30 8 * * 1", "timezone": "Europe/Berlin"},
    "participant_filter": '"active_member" in participant.tags',
    "filter_hints": [{"type": "has_tag", "key": "active_member"}],
    "guard_condition": 'get(participant.counters, "weekly_logins", 0.0) >= 3.0',
    "payload": {"campaign": "streak-2026"},
}
APOLOGY = {
    "name": "Apology credit for ticket 8812",
    "event_name": "goodwill_credit",
    "scope": "program",
    "trigger": {"type": "one_time", "trigger_at": "2026-04-01T15:00:00Z"},
    "participant_id": "9d2f1b64-1c3e-4a0b-b8a5-55c0e8c1d0aa",
    "payload": {"ticket": "8812", "points": 250},
}
BIRTHDAY = {
    "name": "Birthday bonus",
    "event_name": "birthday",
    "scope": "participants",
    "trigger": {
        "type": "participant_state",
        "schedule_type": "ATTRIBUTE_DATE",
        "schedule_config": {"attribute": "birthday", "recurrence": "yearly", "offset_days": 0, "time_of_day": "09:00"},
        "timezone": "America/New_York",
    },
    "participant_filter": "has(participant.attributes.birthday)",
}
SUBSCRIPTION_FIELDS = {
    "id",
    "automation_id",
    "participant_id",
    "status",
    "next_trigger_at",
    "last_triggered_at",
    "trigger_count",
    "retry_count",
    "last_error",
    "created_at",
}


def _post(api: Api, created: list[tuple[str, str]], program_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/v1/programs/{program_id}/automations", json=body)
    assert response.status_code == 201, response.text
    automation = dict(response.json())
    created.append((program_id, automation["id"]))
    return automation


def _participant(api: Api, program_id: str, **fields: Any) -> str:
    response = api.post(
        "/v1/participants", json={"external_id": f"x-{uuid.uuid4()}", "program_id": program_id, **fields}
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def _credit_rule(api: Api, program_id: str, event_name: str, amount: str, symbol: str) -> dict[str, Any]:
    """An asset and a rule crediting ``amount`` of it on ``event.type == event_name``."""
    points = api.create_asset(program_id, symbol=symbol)
    rule(
        api,
        program_id,
        f'event.type == "{event_name}"',
        [{"type": "CREDIT", "asset_id": points["id"], "amount": amount}],
    )
    return points


@contextmanager
def _credits_endpoint(api: Api, hooks: Receiver) -> Iterator[None]:
    hook = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["balance.credited"]})
    assert hook.status_code == 201, hook.text
    try:
        yield
    finally:
        # No delivery left pending for a later test's receiver that may get this port.
        api.delete(f"/v1/webhook-endpoints/{hook.json()['id']}")


def _credited(hooks: Receiver) -> list[tuple[str, str]]:
    envelopes = [json.loads(got.body) for got in hooks.received]
    return sorted(
        (e["data"]["participant_id"], e["data"]["amount"]) for e in envelopes if e["type"] == "balance.credited"
    )


def test_the_weekly_streak_check_reaches_guarded_members_balances_and_webhooks(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    created: list[tuple[str, str]],
    hooks: Receiver,
) -> None:
    move_clock(CREATED_AT)
    program = api.create_program()
    points = _credit_rule(api, program["id"], "weekly_streak_check", "10", "STRK")
    streaker = _participant(api, program["id"], tags=["active_member"])
    short = _participant(api, program["id"], tags=["active_member"])
    untagged = _participant(api, program["id"])
    silent = _participant(api, program["id"], tags=["active_member"])  # no counter: the guard's default 0
    for who, logins in ((streaker, "3"), (short, "2"), (untagged, "5")):
        put = api.put(f"/v1/participants/{who}/state/counters/weekly_logins", json={"value": logins})
        assert put.status_code == 200, put.text

    automation = _post(api, created, program["id"], WEEKLY)
    expected = {
        "program_id": program["id"],
        "description": None,
        "event_name": "weekly_streak_check",
        "payload": {"campaign": "streak-2026"},
        "scope": "participants",
        "trigger_type": "cron",
        "status": "active",
        "source": "api",
        "cron_expression": "30 8 * * 1",
        "timezone": "Europe/Berlin",
        "last_run_at": None,
        "last_error": None,
        "participant_filter": WEEKLY["participant_filter"],
        "guard_condition": WEEKLY["guard_condition"],
        "filter_hints": WEEKLY["filter_hints"],
        "execution_status": "idle",
        "execution_started_at": None,
        "execution_completed_at": None,
        "execution_error": None,
        "participants_total": 0,
        "participants_processed": 0,
        "name": "Monday streak check",
    }
    assert {key: automation[key] for key in expected} == expected
    # Monday 9 March 2026, 08:30 in Berlin (CET, UTC+1): the first after Wednesday 4 March.
    instant = parse_rfc3339(automation["next_run_at"])
    assert instant == parse_rfc3339("2026-03-09T07:30:00Z")
    for stamp in ("created_at", "updated_at"):
        assert timedelta(0) <= parse_rfc3339(automation[stamp]) - CREATED_AT < timedelta(minutes=1)

    with _credits_endpoint(api, hooks):
        move_clock(instant - timedelta(seconds=30))
        fire(api)
        stack.drain()
        assert api.get(url(automation)).json()["execution_status"] == "idle"  # not yet due
        move_clock(instant + timedelta(seconds=10))
        fire(api)
        stack.drain()
        stack.drain()
        done = api.get(url(automation)).json()
        assert done["execution_status"] == "completed"
        assert done["participants_total"] == done["participants_processed"] == 3  # the tagged ones
        key = f"automation:{automation['id']}:{to_rfc3339(instant)}"
        event = by_key(api, program["id"], f"{key}:{streaker}")
        assert event is not None and event["participant_id"] == streaker
        assert event["event_data"] == {"type": "weekly_streak_check", "campaign": "streak-2026"}
        for other in (short, untagged, silent):
            assert by_key(api, program["id"], f"{key}:{other}") is None
            assert balance(api, other, points["id"])["available"] == "0"
        assert balance(api, streaker, points["id"])["available"] == "10"
        assert _credited(hooks) == [(streaker, "10")]  # one credit, one notification
    assert parse_rfc3339(api.get(url(automation)).json()["next_run_at"]) == instant + timedelta(days=7)


def test_the_one_time_apology_credit_uses_its_payload_points(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    created: list[tuple[str, str]],
    hooks: Receiver,
) -> None:
    move_clock(CREATED_AT)
    program = api.create_program()
    points = _credit_rule(api, program["id"], "goodwill_credit", "event.points", "SORRY")
    customer = _participant(api, program["id"])
    bystander = _participant(api, program["id"])
    automation = _post(api, created, program["id"], {**APOLOGY, "participant_id": customer})
    assert automation["trigger_type"] == "one_time" and automation["scope"] == "program"
    assert automation["participant_id"] == customer and automation["payload"] == APOLOGY["payload"]
    trigger_at = parse_rfc3339("2026-04-01T15:00:00Z")
    assert parse_rfc3339(automation["trigger_at"]) == trigger_at

    with _credits_endpoint(api, hooks):
        move_clock(trigger_at + timedelta(seconds=5))
        fire(api)
        fire(api)  # a second tick fires nothing more
        stack.drain()
        event = by_key(api, program["id"], f"automation:{automation['id']}:{to_rfc3339(trigger_at)}")
        assert event is not None and event["participant_id"] == customer
        assert event["event_data"] == {"type": "goodwill_credit", "ticket": "8812", "points": 250}
        assert balance(api, customer, points["id"])["available"] == "250"
        assert balance(api, bystander, points["id"])["available"] == "0"
        assert _credited(hooks) == [(customer, "250")]
    # one_time + program is never triggerable: the documented answer.
    assert error(api.post(url(automation, "trigger")), 400, "validation_error")["message"] == NOT_TRIGGERABLE


def test_the_birthday_bonus_fires_at_nine_in_new_york_and_lists_its_subscriptions(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    created: list[tuple[str, str]],
    hooks: Receiver,
) -> None:
    move_clock(CREATED_AT)
    program = api.create_program()
    points = _credit_rule(api, program["id"], "birthday", "100", "BDAY")
    summer = _participant(api, program["id"], attributes={"birthday": "1985-07-14"})  # EDT: 13:00 UTC
    winter = _participant(api, program["id"], attributes={"birthday": "1990-01-20"})  # EST: 14:00 UTC
    _participant(api, program["id"])  # no birthday: no subscription
    automation = _post(api, created, program["id"], BIRTHDAY)
    assert automation["trigger_type"] == "participant_state" and automation["timezone"] == "America/New_York"
    stack.drain()  # the create's refresh

    def listed() -> dict[str, dict[str, Any]]:
        response = api.get(url(automation, "subscriptions"))
        assert response.status_code == 200, response.text
        return {item["participant_id"]: item for item in response.json()["data"]}

    before = listed()
    assert set(before) == {summer, winter}
    for item in before.values():
        assert set(item) == SUBSCRIPTION_FIELDS
        assert item["automation_id"] == automation["id"] and item["status"] == "active"
        assert item["last_triggered_at"] is None and item["trigger_count"] == item["retry_count"] == 0
        assert item["last_error"] is None
    summer_at = parse_rfc3339("2026-07-14T13:00:00Z")
    assert parse_rfc3339(before[summer]["next_trigger_at"]) == summer_at
    assert parse_rfc3339(before[winter]["next_trigger_at"]) == parse_rfc3339("2027-01-20T14:00:00Z")

    with _credits_endpoint(api, hooks):
        key = f"automation:{automation['id']}:{to_rfc3339(summer_at)}:{summer}"
        move_clock(summer_at - timedelta(seconds=30))
        fire(api)
        stack.drain()
        assert by_key(api, program["id"], key) is None  # not yet due
        move_clock(summer_at + timedelta(seconds=1))
        fire(api)  # the tick hands the due shard-hour to its fire job, which the stream runs
        stack.drain()
        event = by_key(api, program["id"], key)
        assert event is not None and event["event_data"] == {"type": "birthday"}
        assert balance(api, summer, points["id"])["available"] == "100"
        assert balance(api, winter, points["id"])["available"] == "0"
        assert _credited(hooks) == [(summer, "100")]
    after = listed()[summer]
    assert set(after) == SUBSCRIPTION_FIELDS
    assert after["trigger_count"] == 1 and after["retry_count"] == 0 and after["last_error"] is None
    assert timedelta(0) <= parse_rfc3339(after["last_triggered_at"]) - summer_at < timedelta(minutes=1)
    assert parse_rfc3339(after["next_trigger_at"]) == parse_rfc3339("2027-07-14T13:00:00Z")
    assert after["created_at"] == before[summer]["created_at"] and after["id"] == before[summer]["id"]


def test_trigger_rejected_is_the_documented_answer(api: Api, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    automation = _post(api, created, program["id"], {**WEEKLY, "name": f"paused {uuid.uuid4()}"})
    assert api.patch(url(automation), json={"status": "paused"}).status_code == 200
    assert error(api.post(url(automation, "trigger")), 400, "validation_error")["message"] == NOT_TRIGGERABLE
