"""participant_state subscriptions through HTTP (06 §1.7.8, §1.7.9, §1.8): refresh at create and
on request, the scheduler's fire pass with the application clock moved, the list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import by_key, create, error, fire, url
from tests.conftest import Api


def _participant(api: Api, program_id: str, **fields: Any) -> str:
    response = api.post(
        "/v1/participants", json={"external_id": f"s-{uuid.uuid4()}", "program_id": program_id, **fields}
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def _create(
    api: Api, created: list[tuple[str, str]], program_id: str, trigger: dict[str, Any], **body: Any
) -> dict[str, Any]:
    return create(
        api,
        created,
        program_id,
        **{
            "name": f"sub {uuid.uuid4()}",
            "event_name": "celebrate",
            "scope": "participants",
            "trigger": trigger,
            **body,
        },
    )


def _subscriptions(api: Api, automation: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    response = api.get(url(automation, "subscriptions"), params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _by_participant(api: Api, automation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["participant_id"]: s for s in _subscriptions(api, automation)}


def _fire(api: Api, stack: LocalStack, automation: dict[str, Any]) -> int:
    """One scheduler tick and the fire jobs it hands the due shard-hours to (their pages run from
    the stream): how many times the automation's subscriptions fired."""

    def counts() -> dict[str, int]:
        return {s["id"]: int(s["trigger_count"]) for s in _subscriptions(api, automation)}

    before = counts()
    fire(api)
    stack.drain()
    # By subscription id: a refresh may replace a completed subscription with a new one.
    return sum(count - before.get(sub_id, 0) for sub_id, count in counts().items() if count)


def test_a_birthday_fires_on_the_day_and_29_february_on_28_february(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    leap = _participant(api, program["id"], attributes={"birthday": "1992-02-29"})
    summer = _participant(api, program["id"], attributes={"birthday": "1985-07-14"})
    nobody = _participant(api, program["id"])
    zone = ZoneInfo("America/New_York")
    automation = _create(
        api,
        created,
        program["id"],
        {
            "type": "participant_state",
            "schedule_type": "ATTRIBUTE_DATE",
            "schedule_config": {"attribute": "birthday", "recurrence": "yearly", "time_of_day": "09:00"},
            "timezone": "America/New_York",
        },
        participant_filter="has(participant.attributes.birthday)",
    )
    stack.drain()  # the create's refresh
    listed = _subscriptions(api, automation)
    assert {s["participant_id"] for s in listed} == {leap, summer}  # nobody has no birthday
    assert nobody not in {s["participant_id"] for s in listed}
    assert api.get(url(automation)).json()["last_evaluated_at"] is not None
    first = {s["participant_id"]: parse_rfc3339(s["next_trigger_at"]) for s in listed}
    # The next February after today with no 29th: the leap birthday falls on the 28th.
    local = first[leap].astimezone(zone)
    year = local.year
    expected_day = 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    assert (local.month, local.day, local.hour, local.minute) == (2, expected_day, 9, 0)
    summer_local = first[summer].astimezone(zone)
    assert (summer_local.month, summer_local.day, summer_local.hour) == (7, 14, 9)
    assert [s["participant_id"] for s in listed] == sorted(first, key=lambda p: first[p])  # ascending

    instant = first[leap]
    move_clock(instant - timedelta(seconds=30))
    assert _fire(api, stack, automation) == 0  # not yet due
    move_clock(instant + timedelta(seconds=20))
    assert _fire(api, stack, automation) == 1
    assert _fire(api, stack, automation) == 0  # a second tick fires nothing more
    key = f"automation:{automation['id']}:{to_rfc3339(instant)}:{leap}"
    event = by_key(api, program["id"], key)
    assert event is not None and event["event_type"] == "SYSTEM" and event["participant_id"] == leap
    assert parse_rfc3339(event["event_timestamp"]) == instant and event["event_data"] == {"type": "celebrate"}
    after = _by_participant(api, automation)
    assert after[leap]["trigger_count"] == 1 and after[leap]["status"] == "active"
    assert after[leap]["last_triggered_at"] is not None
    assert parse_rfc3339(after[leap]["next_trigger_at"]).astimezone(zone).year == year + 1
    assert after[summer]["trigger_count"] == 0  # not its day


def test_an_interval_with_max_triggers_completes(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    member = _participant(api, program["id"])
    automation = _create(
        api,
        created,
        program["id"],
        {
            "type": "participant_state",
            "schedule_type": "INTERVAL",
            "schedule_config": {"every": 2, "unit": "hours", "max_triggers": 2},
        },
    )
    stack.drain()
    [subscription] = _subscriptions(api, automation)
    subscribed = parse_rfc3339(subscription["created_at"])
    first = parse_rfc3339(subscription["next_trigger_at"])
    assert first == subscribed + timedelta(hours=2)
    move_clock(first + timedelta(seconds=5))
    assert _fire(api, stack, automation) == 1
    [once] = _subscriptions(api, automation)
    assert once["trigger_count"] == 1 and parse_rfc3339(once["next_trigger_at"]) == subscribed + timedelta(hours=4)
    move_clock(subscribed + timedelta(hours=4, seconds=5))
    assert _fire(api, stack, automation) == 1
    [done] = _subscriptions(api, automation)
    assert done["status"] == "completed" and done["next_trigger_at"] is None and done["trigger_count"] == 2
    for fire_at in (first, subscribed + timedelta(hours=4)):
        assert by_key(api, program["id"], f"automation:{automation['id']}:{to_rfc3339(fire_at)}:{member}")
    move_clock(subscribed + timedelta(hours=6, seconds=5))
    assert _fire(api, stack, automation) == 0


def test_a_guard_that_fails_skips_the_fire_and_moves_on(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    member = _participant(api, program["id"], attributes={"level": "silver"})
    automation = _create(
        api,
        created,
        program["id"],
        {"type": "participant_state", "schedule_type": "INTERVAL", "schedule_config": {"every": 1, "unit": "hours"}},
        guard_condition='participant.attributes.level == "gold"',
    )
    stack.drain()
    [subscription] = _subscriptions(api, automation)
    first = parse_rfc3339(subscription["next_trigger_at"])
    move_clock(first + timedelta(seconds=5))
    assert _fire(api, stack, automation) == 0  # skipped: the schedule moves on
    [after] = _subscriptions(api, automation)
    assert after["trigger_count"] == 0 and parse_rfc3339(after["next_trigger_at"]) == first + timedelta(hours=1)
    assert by_key(api, program["id"], f"automation:{automation['id']}:{to_rfc3339(first)}:{member}") is None


def test_refresh_subscribes_and_completes_as_the_filter_changes(
    api: Api, stack: LocalStack, created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    vip = _participant(api, program["id"], tags=["vip"])
    plain = _participant(api, program["id"])
    automation = _create(
        api,
        created,
        program["id"],
        {"type": "participant_state", "schedule_type": "INTERVAL", "schedule_config": {"every": 1, "unit": "days"}},
        participant_filter='"vip" in participant.tags',
        filter_hints=[{"type": "has_tag", "key": "vip"}],
    )
    stack.drain()
    assert set(_by_participant(api, automation)) == {vip}
    first_evaluated = api.get(url(automation)).json()["last_evaluated_at"]
    assert api.patch(f"/v1/participants/{vip}", json={"tags": []}).status_code == 200
    assert api.patch(f"/v1/participants/{plain}", json={"tags": ["vip"]}).status_code == 200
    response = api.post(url(automation, "refresh-subscriptions"))
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued"}
    stack.drain()
    after = _by_participant(api, automation)
    assert after[vip]["status"] == "completed" and after[vip]["next_trigger_at"] is None
    assert after[plain]["status"] == "active" and after[plain]["next_trigger_at"] is not None
    assert parse_rfc3339(api.get(url(automation)).json()["last_evaluated_at"]) >= parse_rfc3339(first_evaluated)
    # Nulls last; the status filter.
    assert [s["participant_id"] for s in _subscriptions(api, automation)] == [plain, vip]
    assert [s["participant_id"] for s in _subscriptions(api, automation, status="completed")] == [vip]
    assert [s["participant_id"] for s in _subscriptions(api, automation, status="active")] == [plain]
    assert _subscriptions(api, automation, status="failed") == []
    # A refresh applied again changes nothing; a participant matching again gets a fresh subscription.
    assert api.patch(f"/v1/participants/{vip}", json={"tags": ["vip"]}).status_code == 200
    assert api.post(url(automation, "refresh-subscriptions")).status_code == 202
    assert api.post(url(automation, "refresh-subscriptions")).status_code == 202
    stack.drain()
    again = _by_participant(api, automation)
    assert again[vip]["status"] == "active" and again[vip]["id"] != after[vip]["id"]
    assert again[plain] == after[plain]


def test_list_pages_and_errors(api: Api, other_api: Api, stack: LocalStack, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    for _ in range(3):
        _participant(api, program["id"])
    automation = _create(
        api,
        created,
        program["id"],
        {"type": "participant_state", "schedule_type": "INTERVAL", "schedule_config": {"every": 1, "unit": "weeks"}},
    )
    stack.drain()
    first = api.get(url(automation, "subscriptions"), params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["pagination"]["has_more"] is True
    rest = api.get(
        url(automation, "subscriptions"), params={"limit": 2, "cursor": first["pagination"]["next_cursor"]}
    ).json()
    assert len(rest["data"]) == 1 and rest["pagination"]["has_more"] is False
    seen = [s["participant_id"] for s in first["data"] + rest["data"]]
    assert len(set(seen)) == 3
    error(api.get(url(automation, "subscriptions"), params={"status": "paused"}), 400, "validation_error")

    cron = _create(api, created, program["id"], {"type": "cron", "cron_expression": "0 0 1 1 *"})
    assert _subscriptions(api, cron) == []  # other trigger types: an empty list, not an error
    error(api.post(url(cron, "refresh-subscriptions")), 400, "validation_error")
    assert api.patch(url(automation), json={"status": "paused"}).status_code == 200
    error(api.post(url(automation, "refresh-subscriptions")), 400, "validation_error")
    unknown = {"program_id": program["id"], "id": str(uuid.uuid4())}
    error(api.post(url(unknown, "refresh-subscriptions")), 404, "not_found")
    error(api.get(url(unknown, "subscriptions")), 404, "not_found")
    error(other_api.get(url(automation, "subscriptions")), 404, "not_found")
    error(other_api.post(url(automation, "refresh-subscriptions")), 404, "not_found")
    # Archiving ends every active subscription (§1.7.5); archiving again changes nothing.
    assert {s["status"] for s in _subscriptions(api, automation)} == {"active"}
    assert api.delete(url(automation)).status_code == 204
    assert api.delete(url(automation)).status_code == 204
    stack.drain()
    ended = _subscriptions(api, automation)
    assert len(ended) == 3 and {(s["status"], s["next_trigger_at"]) for s in ended} == {("completed", None)}


def test_a_threshold_fires_once_on_crossing(api: Api, stack: LocalStack, created: list[tuple[str, str]]) -> None:
    program = api.create_program()
    member = _participant(api, program["id"])
    already = _participant(api, program["id"])
    assert api.put(f"/v1/participants/{already}/state/counters/purchase_count", json={"value": "12"}).ok
    automation = _create(
        api,
        created,
        program["id"],
        {
            "type": "participant_state",
            "schedule_type": "THRESHOLD",
            "schedule_config": {"counter": "purchase_count", "operator": ">=", "threshold": 10},
        },
    )
    stack.drain()
    subscribed = _by_participant(api, automation)
    assert {s["next_trigger_at"] for s in subscribed.values()} == {None}  # no time: changes fire it

    def set_count(who: str, value: str) -> None:
        response = api.put(f"/v1/participants/{who}/state/counters/purchase_count", json={"value": value})
        assert response.status_code == 200, response.text
        stack.drain()

    set_count(member, "9")  # below: nothing
    set_count(already, "13")  # satisfied before and after: no crossing
    assert {s["trigger_count"] for s in _by_participant(api, automation).values()} == {0}
    set_count(member, "10")  # crosses
    set_count(member, "4")
    set_count(member, "11")  # crosses again: the subscription already completed
    after = _by_participant(api, automation)
    assert after[member]["status"] == "completed" and after[member]["trigger_count"] == 1
    assert after[already]["status"] == "active" and after[already]["trigger_count"] == 0
    prefix = f"automation:{automation['id']}:"
    fired = api.get("/v1/events", params={"program_id": program["id"], "participant_id": member, "limit": 50}).json()[
        "data"
    ]
    keys_seen = [e["idempotency_key"] for e in fired if str(e.get("idempotency_key", "")).startswith(prefix)]
    assert len(keys_seen) == 1 and keys_seen[0].endswith(f":{member}")


def test_a_patch_of_the_schedule_or_the_filter_refreshes(
    api: Api, stack: LocalStack, created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    member = _participant(api, program["id"], tags=["vip"])
    automation = _create(
        api,
        created,
        program["id"],
        {"type": "participant_state", "schedule_type": "INTERVAL", "schedule_config": {"every": 1, "unit": "days"}},
        participant_filter='"vip" in participant.tags',
    )
    stack.drain()
    [subscription] = _subscriptions(api, automation)
    subscribed = parse_rfc3339(subscription["created_at"])
    assert parse_rfc3339(subscription["next_trigger_at"]) == subscribed + timedelta(days=1)
    patched = api.patch(url(automation), json={"schedule_config": {"every": 3, "unit": "days"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["schedule_config"]["every"] == 3, patched.text
    stack.drain()
    [rescheduled] = _subscriptions(api, automation)
    assert rescheduled["id"] == subscription["id"]
    assert parse_rfc3339(rescheduled["next_trigger_at"]) == subscribed + timedelta(days=3)
    patched = api.patch(url(automation), json={"participant_filter": '"gold" in participant.tags'})
    assert patched.status_code == 200, patched.text
    stack.drain()
    assert _by_participant(api, automation)[member]["status"] == "completed"
    # Resuming re-evaluates too: a participant who came to match while paused is subscribed.
    assert api.patch(url(automation), json={"status": "paused"}).status_code == 200
    gold = _participant(api, program["id"], tags=["gold"])
    stack.drain()
    assert gold not in _by_participant(api, automation)
    assert api.patch(url(automation), json={"status": "active"}).status_code == 200
    stack.drain()
    assert _by_participant(api, automation)[gold]["status"] == "active"
