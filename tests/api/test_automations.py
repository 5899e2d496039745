"""Automations API (06 §1.3-1.7.5) through HTTP against the local stack, and its due index."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrip.domain import schedules
from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip.storage import automations as automation_store
from scrip.storage import transactions
from tests.conftest import Api

# A Saturday before Berlin's spring-forward night (29 March 2026): fixed, so next_run_at is exact.
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def _error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    if field is not None:
        assert body["details"]["field"] == field, body
    return body


TRIGGERS: dict[str, dict[str, Any]] = {
    "cron": {"type": "cron", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin"},
    "one_time": {"type": "one_time", "trigger_at": "2026-04-01T10:00:00Z"},
    "immediate": {"type": "immediate"},
    "participant_state": {
        "type": "participant_state",
        "schedule_type": "ATTRIBUTE_DATE",
        "schedule_config": {"attribute": "birthday", "time_of_day": "09:00"},
    },
}


def _body(kind: str = "cron", scope: str = "participants", **fields: Any) -> dict[str, Any]:
    return {
        "name": f"automation {uuid.uuid4()}",
        "event_name": "monthly_bonus",
        "scope": scope,
        "trigger": dict(TRIGGERS[kind]),
        **fields,
    }


def _url(program_id: str, automation_id: str | None = None) -> str:
    base = f"/v1/programs/{program_id}/automations"
    return base if automation_id is None else f"{base}/{automation_id}"


def _create(api: Api, program_id: str, **body: Any) -> dict[str, Any]:
    response = api.post(_url(program_id), json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _patch(api: Api, program_id: str, automation_id: str, **changes: Any) -> dict[str, Any]:
    response = api.patch(_url(program_id, automation_id), json=changes)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _due_key(api: Api, automation_id: str) -> dict[str, str] | None:
    """The automation's due index entry as storage holds it (None when it has none)."""
    automation = automation_store.get(api.organization_id, automation_id)
    assert automation is not None
    key = automation_store.due_entry_key(automation)
    if key is None:
        return None
    _, hour_text, shard_text = key["PK"].rsplit("#", 2)
    hour = datetime.strptime(hour_text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    shard = int(shard_text)
    found = [
        e
        for e in automation_store.due_entries(hour, shard, hour + timedelta(hours=1))
        if e.automation_id == automation_id
    ]
    assert len(found) == 1, found
    return found[0].key


def _all_due(api: Api, automation_id: str, *moments: datetime) -> list[automation_store.DueEntry]:
    """Every due entry of the automation in the hours of these moments (every shard)."""
    hours = sorted({moment.replace(minute=0, second=0, microsecond=0) for moment in moments})
    return [
        entry
        for hour in hours
        for shard in range(automation_store.SHARDS)
        for entry in automation_store.due_entries(hour, shard, hour + timedelta(hours=1))
        if entry.automation_id == automation_id
    ]


# --- create -----------------------------------------------------------------------------------


def test_create_a_cron_and_get_it(api: Api, move_clock: Callable[[datetime], None]) -> None:
    move_clock(NOW)
    program_id = api.create_program()["id"]
    created = _create(
        api,
        program_id,
        **_body("cron", "program", name="Monthly bonus", description="1st of the month", payload={"amount": 5}),
    )
    assert uuid.UUID(created["id"])
    assert created["program_id"] == program_id and created["name"] == "Monthly bonus"
    assert (created["status"], created["source"], created["trigger_type"], created["scope"]) == (
        "active",
        "api",
        "cron",
        "program",
    )
    assert created["cron_expression"] == "0 9 * * *" and created["timezone"] == "Europe/Berlin"
    # 09:00 Berlin on 29 March is after the spring-forward: 07:00 UTC, not 08:00.
    assert parse_rfc3339(created["next_run_at"]) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert created["payload"] == {"amount": 5} and created["execution_status"] is None
    assert "participants_total" not in created and "participants_processed" not in created
    assert created["trigger_at"] is None and created["schedule_type"] is None and created["filter_hints"] == []
    assert api.get(_url(program_id, created["id"])).json() == created
    assert _due_key(api, created["id"]) is not None


def test_a_participants_automation_shows_its_fan_out_state(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(
        api,
        program_id,
        **_body(
            "cron",
            participant_filter='"vip" in participant.tags',
            guard_condition="participant.counters.purchases >= 1",
            filter_hints=[{"type": "has_tag", "key": "vip"}],
        ),
    )
    assert created["execution_status"] == "idle"
    assert (created["participants_total"], created["participants_processed"]) == (0, 0)
    assert created["filter_hints"] == [{"type": "has_tag", "key": "vip"}]
    assert created["participant_filter"] == '"vip" in participant.tags'


def test_immediate_starts_pending_and_has_no_due_entry(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("immediate"))
    assert created["execution_status"] == "pending" and created["next_run_at"] is None
    assert _due_key(api, created["id"]) is None


def test_one_time_is_due_at_its_trigger_at_even_in_the_past(api: Api) -> None:
    program_id = api.create_program()["id"]
    past = "2020-01-01T00:00:00Z"
    created = _create(api, program_id, **_body("one_time", "program", trigger={"type": "one_time", "trigger_at": past}))
    assert parse_rfc3339(created["trigger_at"]) == datetime(2020, 1, 1, tzinfo=UTC)
    entries = _all_due(api, created["id"], datetime(2020, 1, 1, tzinfo=UTC))
    assert [e.due_at for e in entries] == [datetime(2020, 1, 1, tzinfo=UTC)]


def test_participant_state_stores_its_schedule(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("participant_state"))
    assert created["schedule_type"] == "ATTRIBUTE_DATE" and created["timezone"] == "UTC"
    assert created["schedule_config"] == {"attribute": "birthday", "time_of_day": "09:00"}
    # Its subscriptions are scheduled; the automation's own entry is its periodic refresh (§1.7.9).
    due = _due_key(api, created["id"])
    assert due is not None and due["SK"].startswith(
        to_rfc3339(parse_rfc3339(created["created_at"]) + timedelta(minutes=15))
    )
    assert api.delete(_url(program_id, created["id"])).status_code == 204  # so no later scheduler run refreshes it
    assert _due_key(api, created["id"]) is None


@pytest.mark.parametrize(
    ("trigger", "scope", "allowed"),
    [
        ("cron", "program", True),
        ("cron", "participants", True),
        ("one_time", "program", True),
        ("one_time", "participants", True),
        ("immediate", "program", False),
        ("immediate", "participants", True),
        ("participant_state", "program", False),
        ("participant_state", "participants", True),
    ],
)
def test_every_trigger_and_scope_combination(api: Api, trigger: str, scope: str, allowed: bool) -> None:
    program_id = api.create_program()["id"]
    response = api.post(_url(program_id), json=_body(trigger, scope))
    if allowed:
        assert response.status_code == 201, response.text
        assert (response.json()["trigger_type"], response.json()["scope"]) == (trigger, scope)
    else:
        body = _error(response, 400, "validation_error", "scope")
        assert body["details"]["reason"] == "invalid_combination"


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "cron"}, "trigger.cron_expression"),
        ({"type": "cron", "cron_expression": "0 9 * * *", "trigger_at": "2026-04-01T00:00:00Z"}, "trigger.trigger_at"),
        ({"type": "cron", "cron_expression": "0 9 * * *", "schedule_type": "CRON"}, "trigger.schedule_type"),
        ({"type": "cron", "cron_expression": "0 9 * * *", "schedule_config": {}}, "trigger.schedule_config"),
        ({"type": "one_time"}, "trigger.trigger_at"),
        (
            {"type": "one_time", "trigger_at": "2026-04-01T00:00:00Z", "cron_expression": "* * * * *"},
            "trigger.cron_expression",
        ),
        ({"type": "one_time", "trigger_at": "2026-04-01T00:00:00Z", "schedule_type": "CRON"}, "trigger.schedule_type"),
        ({"type": "one_time", "trigger_at": "2026-04-01T00:00:00Z", "timezone": "UTC"}, "trigger.timezone"),
        ({"type": "immediate", "cron_expression": "* * * * *"}, "trigger.cron_expression"),
        ({"type": "immediate", "trigger_at": "2026-04-01T00:00:00Z"}, "trigger.trigger_at"),
        ({"type": "immediate", "schedule_config": {}}, "trigger.schedule_config"),
        ({"type": "participant_state", "schedule_config": {"attribute": "b"}}, "trigger.schedule_type"),
        ({"type": "participant_state", "schedule_type": "ATTRIBUTE_DATE"}, "trigger.schedule_config"),
        (
            {
                "type": "participant_state",
                "schedule_type": "CRON",
                "schedule_config": {"cron_expression": "0 9 * * *"},
                "trigger_at": "2026-04-01T00:00:00Z",
            },
            "trigger.trigger_at",
        ),
        (
            {"type": "participant_state", "schedule_type": "CRON", "schedule_config": {"cron_expression": "0 9 * *"}},
            "trigger.schedule_config.cron_expression",
        ),
        (
            {
                "type": "participant_state",
                "schedule_type": "INTERVAL",
                "schedule_config": {"every": 3, "unit": "days", "x": 1},
            },
            "trigger.schedule_config.x",
        ),
    ],
)
def test_per_type_validation_names_the_field(api: Api, trigger: dict[str, Any], field: str) -> None:
    program_id = api.create_program()["id"]
    _error(api.post(_url(program_id), json={**_body(), "trigger": trigger}), 400, "validation_error", field)


@pytest.mark.parametrize(
    ("trigger", "scope", "fields", "field"),
    [
        ("immediate", "participants", {"participant_id": "p-1"}, "participant_id"),
        ("participant_state", "participants", {"participant_id": "p-1"}, "participant_id"),
        ("cron", "program", {"participant_id": "p-1"}, "participant_id"),
        ("one_time", "participants", {"participant_id": "p-1"}, "participant_id"),
        ("cron", "program", {"participant_filter": "true"}, "participant_filter"),
        ("cron", "program", {"filter_hints": [{"type": "has_tag", "key": "vip"}]}, "filter_hints"),
        ("cron", "program", {"guard_condition": "true"}, "guard_condition"),
    ],
)
def test_targeting_fields_out_of_place_are_400(
    api: Api, trigger: str, scope: str, fields: dict[str, Any], field: str
) -> None:
    program_id = api.create_program()["id"]
    _error(api.post(_url(program_id), json=_body(trigger, scope, **fields)), 400, "validation_error", field)


def test_one_time_to_one_participant_with_a_guard(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("one_time", "program", participant_id="p-1", guard_condition="true"))
    assert created["participant_id"] == "p-1" and created["guard_condition"] == "true"


@pytest.mark.parametrize(
    ("expression", "position"),
    [("CRON_TZ=Europe/Berlin 0 9 * * *", 1), ("0 25 * * *", 3), ("0 9 * * MON", 9), ("0 9 * *", None)],
)
def test_bad_cron_is_400_with_the_position(api: Api, expression: str, position: int | None) -> None:
    program_id = api.create_program()["id"]
    trigger = {"type": "cron", "cron_expression": expression}
    body = _error(api.post(_url(program_id), json={**_body(), "trigger": trigger}), 400, "validation_error")
    assert body["details"]["field"] == "trigger.cron_expression"
    if position is not None:
        assert body["details"]["position"] == position, body


@pytest.mark.parametrize("zone", ["Mars/Olympus", "localtime", "CET+1", ""])
def test_unknown_time_zone_is_400(api: Api, zone: str) -> None:
    program_id = api.create_program()["id"]
    trigger = {"type": "cron", "cron_expression": "0 9 * * *", "timezone": zone}
    _error(
        api.post(_url(program_id), json={**_body(), "trigger": trigger}), 400, "validation_error", "trigger.timezone"
    )


@pytest.mark.parametrize("field", ["participant_filter", "guard_condition"])
def test_bad_cel_is_400_with_the_position(api: Api, field: str) -> None:
    program_id = api.create_program()["id"]
    body = _error(
        api.post(_url(program_id), json=_body(**{field: "participant.tags.exists(t, t =="})),
        400,
        "validation_error",
        field,
    )
    assert body["details"]["reason"] == "cel"
    assert isinstance(body["details"]["column"], int) and body["details"]["line"] == 1


@pytest.mark.parametrize(
    "hints",
    [[{"type": "has_nothing", "key": "x"}], [{"type": "has_tag"}], [{"type": "has_tag", "key": ""}], "vip"],
)
def test_bad_filter_hints_are_400(api: Api, hints: Any) -> None:
    program_id = api.create_program()["id"]
    _error(api.post(_url(program_id), json=_body(filter_hints=hints)), 400, "validation_error")


@pytest.mark.parametrize(
    "missing",
    ["name", "event_name", "scope", "trigger"],
)
def test_required_fields(api: Api, missing: str) -> None:
    program_id = api.create_program()["id"]
    body = _body()
    del body[missing]
    _error(api.post(_url(program_id), json=body), 400, "validation_error")


def test_duplicate_name_is_409_and_a_renamed_name_is_free_again(api: Api) -> None:
    program_id = api.create_program()["id"]
    first = _create(api, program_id, **_body(name="Birthday"))
    _error(api.post(_url(program_id), json=_body(name="birthday")), 409, "conflict")
    other_program = api.create_program()["id"]
    _create(api, other_program, **_body(name="Birthday"))  # unique per program only
    _patch(api, program_id, first["id"], name="Birthday 2")
    _create(api, program_id, **_body(name="Birthday"))
    _error(api.patch(_url(program_id, first["id"]), json={"name": "BIRTHDAY"}), 409, "conflict")


def test_unknown_program_is_404_and_a_program_not_active_is_422(api: Api) -> None:
    _error(api.post(_url(str(uuid.uuid4())), json=_body()), 404, "not_found")
    program_id = api.create_program()["id"]
    assert api.patch(f"/v1/programs/{program_id}", json={"status": "SUSPENDED"}).status_code == 200
    _error(api.post(_url(program_id), json=_body()), 422, "program_not_active")


def test_another_programs_or_organizations_automation_is_404(api: Api, other_api: Api) -> None:
    program_id = api.create_program()["id"]
    other_program = api.create_program()["id"]
    automation_id = _create(api, program_id, **_body())["id"]
    for call in (api.get, api.delete):
        _error(call(_url(other_program, automation_id)), 404, "not_found")
    _error(api.patch(_url(other_program, automation_id), json={"status": "paused"}), 404, "not_found")
    _error(other_api.get(_url(program_id, automation_id)), 404, "not_found")
    _error(api.get(_url(program_id, str(uuid.uuid4()))), 404, "not_found")


# --- list -------------------------------------------------------------------------------------


def test_list_filters_and_paging(api: Api) -> None:
    program_id = api.create_program()["id"]
    cron = _create(api, program_id, **_body("cron", "program", name="Monthly Bonus"))
    once = _create(api, program_id, **_body("one_time", "participants", name="Spring promo"))
    now = _create(api, program_id, **_body("immediate", name="Welcome now"))
    state = _create(api, program_id, **_body("participant_state", name="Birthday bonus"))
    archived = _create(api, program_id, **_body("cron", name="Old bonus"))
    assert api.delete(_url(program_id, archived["id"])).status_code == 204
    paused = _patch(api, program_id, once["id"], status="paused")

    def ids(**query: Any) -> list[str]:
        response = api.get(_url(program_id), params=query)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["data"]]

    assert ids() == [state["id"], now["id"], once["id"], cron["id"]]  # newest first, archived left out
    assert ids(status="archived") == [archived["id"]]
    assert ids(status="paused") == [paused["id"]]
    assert ids(trigger_type="cron") == [cron["id"]]
    assert ids(trigger_type="cron", status="archived") == [archived["id"]]
    assert ids(scope="program") == [cron["id"]]
    assert ids(source="api") == [state["id"], now["id"], once["id"], cron["id"]]
    assert ids(source="rule_action") == []
    assert ids(search="BONUS") == [state["id"], cron["id"]]
    assert ids(search="bonus", scope="participants") == [state["id"]]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get(_url(program_id), params=params).json()
        seen.extend(a["id"] for a in page["data"])
        if not page["pagination"]["has_more"]:
            break
        cursor = page["pagination"]["next_cursor"]
    assert seen == [state["id"], now["id"], once["id"], cron["id"]]
    listed = api.get(_url(program_id), params={"limit": 1}).json()["data"][0]
    assert listed == api.get(_url(program_id, state["id"])).json()


@pytest.mark.parametrize(
    "query", [{"status": "done"}, {"trigger_type": "weekly"}, {"scope": "all"}, {"source": "x"}, {"limit": 201}]
)
def test_list_refuses_bad_filters(api: Api, query: dict[str, Any]) -> None:
    program_id = api.create_program()["id"]
    _error(api.get(_url(program_id), params=query), 400, "validation_error")


def test_a_cursor_of_other_filters_is_400(api: Api) -> None:
    program_id = api.create_program()["id"]
    for _ in range(2):
        _create(api, program_id, **_body())
    cursor = api.get(_url(program_id), params={"limit": 1}).json()["pagination"]["next_cursor"]
    _error(
        api.get(_url(program_id), params={"limit": 1, "cursor": cursor, "scope": "program"}), 400, "validation_error"
    )


def test_list_of_an_unknown_program_is_404(api: Api) -> None:
    _error(api.get(_url(str(uuid.uuid4()))), 404, "not_found")


# --- update -----------------------------------------------------------------------------------


def test_pause_and_resume_move_the_due_entry(api: Api, move_clock: Callable[[datetime], None]) -> None:
    move_clock(NOW)
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron", "program"))
    first_key = _due_key(api, created["id"])
    assert first_key is not None

    paused = _patch(api, program_id, created["id"], status="paused")
    assert paused["status"] == "paused" and paused["next_run_at"] is None
    assert _due_key(api, created["id"]) is None
    assert _all_due(api, created["id"], NOW, datetime(2026, 3, 29, 7, tzinfo=UTC)) == []

    # Resumed two days later: next_run_at from the new now; the missed runs are not back-filled.
    later = NOW + timedelta(days=2)
    move_clock(later)
    resumed = _patch(api, program_id, created["id"], status="active")
    expected = schedules.next_fire("0 9 * * *", "Europe/Berlin", later)
    assert parse_rfc3339(resumed["next_run_at"]) == expected == datetime(2026, 3, 31, 7, tzinfo=UTC)
    assert [e.due_at for e in _all_due(api, created["id"], expected, datetime(2026, 3, 29, 7, tzinfo=UTC))] == [
        expected
    ]


def test_schedule_changes_recompute_next_run_at_and_move_the_entry(
    api: Api, move_clock: Callable[[datetime], None]
) -> None:
    move_clock(NOW)
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron"))
    changed = _patch(api, program_id, created["id"], cron_expression="30 6 1 * *")
    assert parse_rfc3339(changed["next_run_at"]) == datetime(2026, 4, 1, 4, 30, tzinfo=UTC)  # 06:30 CEST
    rezoned = _patch(api, program_id, created["id"], timezone="America/Chicago")
    assert parse_rfc3339(rezoned["next_run_at"]) == datetime(2026, 4, 1, 11, 30, tzinfo=UTC)  # 06:30 CDT
    assert [
        e.due_at
        for e in _all_due(
            api,
            created["id"],
            *(datetime(2026, month, day, hour, tzinfo=UTC) for month, day, hour in ((3, 29, 7), (4, 1, 4), (4, 1, 11))),
        )
    ] == [datetime(2026, 4, 1, 11, 30, tzinfo=UTC)]

    once = _create(api, program_id, **_body("one_time", "program"))
    moved = _patch(api, program_id, once["id"], trigger_at="2026-03-29T00:15:00Z")
    assert parse_rfc3339(moved["trigger_at"]) == datetime(2026, 3, 29, 0, 15, tzinfo=UTC)
    assert [
        e.due_at
        for e in _all_due(api, once["id"], datetime(2026, 4, 1, 10, tzinfo=UTC), datetime(2026, 3, 29, 0, tzinfo=UTC))
    ] == [datetime(2026, 3, 29, 0, 15, tzinfo=UTC)]


def test_update_plain_fields(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("participant_state", payload={"a": 1}, description="d"))
    updated = _patch(
        api,
        program_id,
        created["id"],
        event_name="birthday",
        payload={"b": 2},
        description=None,
        participant_filter="participant.status == 'ACTIVE'",
        guard_condition=None,
        filter_hints=[{"type": "has_attribute", "key": "birthday"}],
        schedule_config={"attribute": "birthday", "recurrence": "once"},
        timezone="Asia/Tokyo",
    )
    assert updated["event_name"] == "birthday" and updated["payload"] == {"b": 2} and updated["description"] is None
    assert updated["filter_hints"] == [{"type": "has_attribute", "key": "birthday"}]
    assert updated["schedule_config"] == {"attribute": "birthday", "recurrence": "once"}
    assert updated["timezone"] == "Asia/Tokyo" and updated["updated_at"] >= created["updated_at"]
    assert api.get(_url(program_id, created["id"])).json() == updated
    assert _patch(api, program_id, created["id"]) == updated  # an empty PATCH changes nothing


@pytest.mark.parametrize("field", ["trigger_type", "scope", "schedule_type", "participant_id", "program_id", "source"])
def test_immutable_fields_are_400(api: Api, field: str) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body())
    _error(api.patch(_url(program_id, created["id"]), json={field: "x"}), 400, "validation_error", field)


@pytest.mark.parametrize(
    ("trigger", "changes", "field"),
    [
        ("one_time", {"cron_expression": "0 9 * * *"}, "cron_expression"),
        ("one_time", {"timezone": "UTC"}, "timezone"),
        ("cron", {"trigger_at": "2026-04-01T00:00:00Z"}, "trigger_at"),
        ("cron", {"schedule_config": {"attribute": "b"}}, "schedule_config"),
        ("immediate", {"cron_expression": "0 9 * * *"}, "cron_expression"),
        ("participant_state", {"cron_expression": "0 9 * * *"}, "cron_expression"),
        ("participant_state", {"schedule_config": {"attribute": "b", "extra": 1}}, "schedule_config.extra"),
        ("cron", {"cron_expression": "CRON_TZ=UTC 0 9 * * *"}, "cron_expression"),
        ("cron", {"timezone": "Nowhere/City"}, "timezone"),
        ("cron", {"participant_filter": "participant.tags.exists("}, "participant_filter"),
        ("cron", {"status": "archived"}, "status"),
        ("cron", {"status": None}, "status"),
        ("cron", {"name": None}, "name"),
        ("cron", {"cron_expression": None}, "cron_expression"),
    ],
)
def test_update_refusals(api: Api, trigger: str, changes: dict[str, Any], field: str) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body(trigger))
    _error(api.patch(_url(program_id, created["id"]), json=changes), 400, "validation_error", field)
    assert api.get(_url(program_id, created["id"])).json() == created  # nothing half-written


def test_program_scope_refuses_participant_fields_on_update(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron", "program"))
    for field, value in (("participant_filter", "true"), ("filter_hints", [{"type": "has_tag", "key": "a"}])):
        _error(api.patch(_url(program_id, created["id"]), json={field: value}), 400, "validation_error", field)


def test_trigger_at_of_a_processed_one_time_is_400(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("one_time", "program"))
    stored = automation_store.require(api.organization_id, program_id, created["id"])
    processed = dataclasses.replace(stored, processed_at=datetime.now(UTC), version=stored.version + 1)
    automation_store.save(stored, processed)
    assert automation_store.due_entry_key(processed) is None  # processed: out of the due index
    assert _all_due(api, created["id"], datetime(2026, 4, 1, 10, tzinfo=UTC)) == []
    _error(
        api.patch(_url(program_id, created["id"]), json={"trigger_at": "2026-05-01T00:00:00Z"}),
        400,
        "validation_error",
        "trigger_at",
    )
    assert _patch(api, program_id, created["id"], name="renamed")["name"] == "renamed"


def test_a_stale_save_is_refused_and_writes_nothing(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron"))
    stored = automation_store.require(api.organization_id, program_id, created["id"])
    _patch(api, program_id, created["id"], status="paused")
    stale = dataclasses.replace(stored, name="lost", version=stored.version + 1)
    with pytest.raises(automation_store.StaleAutomation):
        transactions.write(automation_store.save_writes(stored, stale))
    current = api.get(_url(program_id, created["id"])).json()
    assert current["status"] == "paused" and current["name"] == created["name"]
    assert _due_key(api, created["id"]) is None


# --- delete -----------------------------------------------------------------------------------


def test_delete_archives_for_good(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron"))
    assert _due_key(api, created["id"]) is not None
    response = api.delete(_url(program_id, created["id"]))
    assert response.status_code == 204 and response.content == b""
    assert _all_due(api, created["id"], parse_rfc3339(created["next_run_at"])) == []
    archived = api.get(_url(program_id, created["id"])).json()
    assert archived["status"] == "archived" and archived["next_run_at"] is None
    assert api.delete(_url(program_id, created["id"])).status_code == 204  # idempotent
    assert api.get(_url(program_id, created["id"])).json() == archived
    body = _error(api.patch(_url(program_id, created["id"]), json={"status": "active"}), 400, "validation_error")
    assert body["details"]["reason"] == "archived"
    _error(api.patch(_url(program_id, created["id"]), json={"description": "x"}), 400, "validation_error")
    _error(api.delete(_url(program_id, str(uuid.uuid4()))), 404, "not_found")


# --- bad input and races ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"trigger": "cron"},
        {"trigger": {"type": "hourly"}},
        {"trigger": {"type": "cron", "cron_expression": 5}},
        {"trigger": {"type": "cron", "cron_expression": "0 9 * * *", "timezone": 3}},
        {"trigger": {"type": "one_time", "trigger_at": "tomorrow"}},
        {"trigger": {"type": "participant_state", "schedule_type": "WEEKLY", "schedule_config": {}}},
        {"trigger": {"type": "participant_state", "schedule_type": "INTERVAL", "schedule_config": []}},
        {"trigger": {"type": "participant_state", "schedule_type": "THRESHOLD", "schedule_config": {"counter": 1}}},
        {"name": ""},
        {"name": "x" * 256},
        {"event_name": None},
        {"scope": "everyone"},
        {"payload": [1, 2]},
        {"payload": {"blob": "x" * 9000}},
        {"participant_filter": ""},
        {"participant_filter": "true && " * 600 + "true"},
        {"filter_hints": [{"type": "has_tag", "key": "a"}] * 21},
    ],
)
def test_malformed_bodies_are_400_never_500(api: Api, changes: dict[str, Any]) -> None:
    program_id = api.create_program()["id"]
    _error(api.post(_url(program_id), json={**_body(), **changes}), 400, "validation_error")


def test_concurrent_creates_with_one_name_make_one_automation(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    program_id = api.create_program()["id"]
    body = _body(name="Race")
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: api.post(_url(program_id), json=body).status_code, range(6)))
    assert statuses == [201] + [409] * 5
    assert len(api.get(_url(program_id)).json()["data"]) == 1


def test_create_in_a_missing_program_writes_nothing(api: Api) -> None:
    """The program is checked again inside the create transaction (it may go between read and write)."""
    from scrip.domain.errors import NotFound

    program_id = api.create_program()["id"]
    created = _create(api, program_id, **_body("cron"))
    stored = automation_store.require(api.organization_id, program_id, created["id"])
    ghost = dataclasses.replace(stored, id=str(uuid.uuid4()), program_id=str(uuid.uuid4()), name="ghost")
    with pytest.raises(NotFound):
        automation_store.create(ghost)
    assert automation_store.get(api.organization_id, ghost.id) is None
    assert _all_due(api, ghost.id, parse_rfc3339(created["next_run_at"])) == []
