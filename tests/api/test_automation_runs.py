"""Automation execution through HTTP (06 §1.7.6-1.7.7, §1.9): the scheduler function fired by
the local stack with the application clock moved, trigger and cancel, and the generated events
followed to balances and webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import by_key, create, error, fire, url
from tests.api.events_helpers import balance, rule
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api

NOT_TRIGGERABLE = "Automation cannot be triggered (must be active and idle or cron+program)"


def test_a_program_cron_fires_at_its_utc_instant_once(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    automation = create(
        api,
        created,
        program["id"],
        scope="program",
        trigger={"type": "cron", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin"},
        payload={"campaign": "daily"},
    )
    instant = parse_rfc3339(automation["next_run_at"])
    assert instant.astimezone(ZoneInfo("Europe/Berlin")).hour == 9
    key = f"automation:{automation['id']}:{to_rfc3339(instant)}"
    move_clock(instant - timedelta(seconds=30))
    fire(api)
    assert by_key(api, program["id"], key) is None  # not yet due
    move_clock(instant + timedelta(seconds=20))
    fire(api)
    fire(api)  # a second tick (or a retried one) fires nothing more
    event = by_key(api, program["id"], key)
    assert event is not None and parse_rfc3339(event["event_timestamp"]) == instant
    assert event["event_data"] == {"campaign": "daily", "type": "bonus"} and event["event_type"] == "SYSTEM"
    after = api.get(url(automation)).json()
    assert parse_rfc3339(after["next_run_at"]) == instant + timedelta(days=1)
    assert after["last_run_at"] is not None and after["last_error"] is None


def test_a_one_time_fires_once_and_credits_its_participant(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="AUTO1")
    rule(
        api,
        program["id"],
        'event.type == "goodwill_credit"',
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "250"}],
    )
    member = api.post("/v1/participants", json={"external_id": f"m-{uuid.uuid4()}", "program_id": program["id"]})
    member_id = member.json()["id"]
    trigger_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    automation = create(
        api,
        created,
        program["id"],
        event_name="goodwill_credit",
        scope="program",
        trigger={"type": "one_time", "trigger_at": to_rfc3339(trigger_at)},
        participant_id=member_id,
        payload={"ticket": "8812"},
    )
    error(api.post(url(automation, "trigger")), 400, "validation_error")  # one_time + program: not triggerable
    move_clock(trigger_at + timedelta(seconds=5))
    fire(api)
    fire(api)
    stack.drain()
    assert balance(api, member_id, points["id"])["available"] == "250"
    after = api.get(url(automation)).json()
    assert after["processed_at"] is not None and after["error_message"] is None
    move_clock(trigger_at + timedelta(days=1))
    fire(api)
    stack.drain()
    assert balance(api, member_id, points["id"])["available"] == "250"  # never again


def test_a_participants_cron_with_filter_and_guard_reaches_balances_and_webhooks(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    created: list[tuple[str, str]],
    hooks: Receiver,
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="AUTO2")
    rule(
        api,
        program["id"],
        'event.type == "weekly_check"',
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "3"}],
    )
    hook = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["balance.credited"]})
    assert hook.status_code == 201, hook.text
    people: dict[str, tuple[bool, bool]] = {}  # id -> (vip, gold)
    for index in range(120):
        vip, gold = index % 2 == 0, index % 3 == 0
        response = api.post(
            "/v1/participants",
            json={
                "external_id": f"w-{uuid.uuid4()}",
                "program_id": program["id"],
                "tags": ["vip"] if vip else [],
                "attributes": {"level": "gold" if gold else "silver"},
            },
        )
        assert response.status_code in (200, 201), response.text
        people[response.json()["id"]] = (vip, gold)
    automation = create(
        api,
        created,
        program["id"],
        event_name="weekly_check",
        scope="participants",
        trigger={"type": "cron", "cron_expression": "30 8 * * 1", "timezone": "Europe/Berlin"},
        participant_filter='"vip" in participant.tags',
        filter_hints=[{"type": "has_tag", "key": "vip"}],
        guard_condition='participant.attributes.level == "gold"',
    )
    assert automation["execution_status"] == "idle"
    instant = parse_rfc3339(automation["next_run_at"])
    move_clock(instant + timedelta(seconds=10))
    fire(api)
    running = api.get(url(automation)).json()
    assert running["execution_status"] in ("pending", "executing", "completed")
    stack.drain()
    stack.drain()
    done = api.get(url(automation)).json()
    selected = [p for p, (vip, _) in people.items() if vip]
    credited = {p for p, (vip, gold) in people.items() if vip and gold}
    assert done["execution_status"] == "completed"
    assert done["participants_total"] == len(selected) == done["participants_processed"]
    for participant, _ in list(people.items())[:12]:
        expected = "3" if participant in credited else "0"
        assert balance(api, participant, points["id"])["available"] == expected
    envelopes = [json.loads(got.body) for got in hooks.received]
    notified = [e["data"]["participant_id"] for e in envelopes if e["type"] == "balance.credited"]
    assert sorted(notified) == sorted(credited)  # one credit, one notification, per guarded participant
    # No delivery left pending for a later test's receiver that may get this port.
    assert api.delete(f"/v1/webhook-endpoints/{hook.json()['id']}").status_code in (200, 204)


def test_trigger_and_cancel_a_participants_run(api: Api, stack: LocalStack, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    for _ in range(3):
        api.post("/v1/participants", json={"external_id": f"t-{uuid.uuid4()}", "program_id": program["id"]})
    automation = create(
        api,
        created,
        program["id"],
        scope="participants",
        trigger={"type": "cron", "cron_expression": "0 0 1 1 *"},
    )
    error(api.post(url(automation, "cancel")), 400, "validation_error")  # idle: nothing to cancel
    triggered = api.post(url(automation, "trigger"))
    assert triggered.status_code == 200, triggered.text
    assert triggered.json()["execution_status"] == "pending" and triggered.json()["participants_processed"] == 0
    body = error(api.post(url(automation, "trigger")), 400, "validation_error")  # a run is pending
    assert body["message"] == NOT_TRIGGERABLE
    cancelled = api.post(url(automation, "cancel"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["execution_status"] == "failed" and cancelled.json()["execution_error"] == "canceled"
    assert cancelled.json()["status"] == "active"
    stack.drain()
    after = api.get(url(automation)).json()
    assert after["execution_status"] == "failed" and after["participants_processed"] == 0  # stopped before page 0
    again = api.post(url(automation, "trigger"))
    assert again.status_code == 200, again.text
    stack.drain()
    done = api.get(url(automation)).json()
    assert done["execution_status"] == "completed" and done["participants_processed"] == 3


def test_trigger_and_cancel_errors(api: Api, other_api: Api, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    cron = create(
        api, created, program["id"], scope="program", trigger={"type": "cron", "cron_expression": "0 0 1 1 *"}
    )
    error(api.post(url(cron, "cancel")), 400, "validation_error")  # program scope: no fan-out
    triggered = api.post(url(cron, "trigger"))  # cron + program: made due now
    assert triggered.status_code == 200, triggered.text
    assert abs(parse_rfc3339(triggered.json()["next_run_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    paused = api.patch(url(cron), json={"status": "paused"})
    assert paused.status_code == 200, paused.text
    assert error(api.post(url(cron, "trigger")), 400, "validation_error")["message"] == NOT_TRIGGERABLE
    unknown = {"program_id": program["id"], "id": str(uuid.uuid4())}
    error(api.post(url(unknown, "trigger")), 404, "not_found")
    error(api.post(url(unknown, "cancel")), 404, "not_found")
    # Another organization, or another program of the same one, does not see it.
    error(other_api.post(url(cron, "trigger")), 404, "not_found")
    elsewhere = {"program_id": api.create_program()["id"], "id": cron["id"]}
    error(api.post(url(elsewhere, "cancel")), 404, "not_found")


def test_an_immediate_automation_runs_after_create(api: Api, stack: LocalStack, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    for _ in range(2):
        api.post("/v1/participants", json={"external_id": f"i-{uuid.uuid4()}", "program_id": program["id"]})
    automation = create(api, created, program["id"], scope="participants", trigger={"type": "immediate"})
    assert automation["execution_status"] == "pending"
    stack.drain()
    done = api.get(url(automation)).json()
    assert done["execution_status"] == "completed" and done["participants_processed"] == 2
    assert done["execution_started_at"] is not None and done["execution_completed_at"] is not None
