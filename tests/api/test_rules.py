"""Rules (03 §3, §5): create, list, get, update, archive, versions, and write-time validation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    program = api.create_program(name="Rules")
    points = api.create_asset(program["id"], name="Points", symbol=f"R{uuid.uuid4().hex[:5]}")
    lots = api.create_asset(program["id"], name="Lots", symbol=f"L{uuid.uuid4().hex[:5]}", inventory_mode="LOT")
    return {"program": program, "points": points, "lots": lots}


def _rule(world: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "program_id": world["program"]["id"],
        "name": "10 beans per purchase",
        "condition": 'event.type == "purchase"',
        "actions": [{"type": "CREDIT", "asset_id": world["points"]["id"], "amount": "10"}],
        **fields,
    }


def test_create_get_and_order_assignment(api: Api, world: dict[str, Any]) -> None:
    response = api.post("/v1/rules", json=_rule(world))
    assert response.status_code == 201, response.text
    rule = response.json()
    assert rule["order"] == 10 and rule["status"] == "ACTIVE" and rule["stop_after_match"] is False
    assert rule["actions"] == [{"type": "CREDIT", "asset_id": world["points"]["id"], "amount": "10"}]
    assert api.get(f"/v1/rules/{rule['id']}").json() == rule
    second = api.post("/v1/rules", json=_rule(world, name="second")).json()
    assert second["order"] == 20
    explicit = api.post("/v1/rules", json=_rule(world, name="vip", order=5, stop_after_match=True)).json()
    assert explicit["order"] == 5
    taken = api.post("/v1/rules", json=_rule(world, name="clash", order=20))
    assert taken.status_code == 409 and taken.json()["code"] == "order_conflict"
    listed = api.get(f"/v1/rules?program_id={world['program']['id']}").json()["data"]
    assert [r["order"] for r in listed] == [5, 10, 20]
    assert [
        r["order"] for r in api.get(f"/v1/rules?program_id={world['program']['id']}&sort_dir=desc").json()["data"]
    ] == [20, 10, 5]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition": "event.amount >"}, "condition"),
        ({"actions": []}, "actions"),
        ({"actions": [{"type": "GIFT"}]}, "actions.0.type"),
        ({"actions": [{"type": "CREDIT", "amount": "10"}]}, "actions.0.asset_id"),
        ({"actions": [{"type": "CREDIT", "asset_id": "{points}"}]}, "actions.0.amount"),
        ({"actions": [{"type": "CREDIT", "asset_id": "{points}", "amount": "event.amount *"}]}, "actions.0.amount"),
        (
            {"actions": [{"type": "CREDIT", "asset_id": "{points}", "amount": "1", "expires_at": "30d"}]},
            "actions.0.expires_at",
        ),
        (
            {"actions": [{"type": "CREDIT", "asset_id": "{lots}", "amount": "1", "expires_at": "soon"}]},
            "actions.0.expires_at",
        ),
        ({"actions": [{"type": "CREDIT", "asset_id": str(uuid.uuid4()), "amount": "1"}]}, "actions.0.asset_id"),
        ({"actions": [{"type": "TAG"}]}, "actions.0.tag"),
        ({"actions": [{"type": "COUNTER", "key": "orders"}]}, "actions.0.value"),
        (
            {"actions": [{"type": "COUNTER", "key": "orders", "value": "1", "reset_after": "weekly"}]},
            "actions.0.reset_after",
        ),
        (
            {"actions": [{"type": "SET_TIER", "tier": "status", "level": "gold", "expires_at": "soon"}]},
            "actions.0.expires_at",
        ),
        ({"actions": [{"type": "SET_TIER", "tier": "status"}]}, "actions.0.level"),
        ({"actions": [{"type": "SCHEDULE_EVENT", "event_name": "x", "delay": "later"}]}, "actions.0.delay"),
        ({"actions": [{"type": "VOID_HOLD", "asset_id": "{lots}"}]}, "actions.0.reference_id"),
        ({"actions": [{"type": "TAG", "tag": "x", "target": {"type": "PARTICIPANT"}}]}, "actions.0.target"),
        ({"order": 0}, "order"),
        ({"name": ""}, "name"),
        ({"active_from": "2026-02-01T00:00:00Z", "active_to": "2026-01-01T00:00:00Z"}, "active_to"),
        ({"budgets": [{"asset_id": "{points}", "limit": "0"}]}, "budgets.0.limit"),
        ({"budgets": [{"asset_id": "{points}", "limit": "100", "schedule_type": "INTERVAL"}]}, "budgets.0.interval"),
    ],
)
def test_invalid_rules_are_refused(api: Api, world: dict[str, Any], change: dict[str, Any], field: str) -> None:
    import json

    text = json.dumps(change).replace("{points}", world["points"]["id"]).replace("{lots}", world["lots"]["id"])
    response = api.post("/v1/rules", json=_rule(world, **json.loads(text)))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field
    assert api.get(f"/v1/rules?program_id={world['program']['id']}").json()["data"] == []


def test_every_valid_action_type_is_accepted(api: Api, world: dict[str, Any]) -> None:
    points, lots = world["points"]["id"], world["lots"]["id"]
    actions = [
        {
            "type": "CREDIT",
            "asset_id": lots,
            "amount": "round(event.amount * 0.03, 2)",
            "expires_at": "8760h",
            "matures_at": "2030-01-01T00:00:00Z",
            "bucket": "HELD",
            "reference_id": "event.auth_id",
        },
        {"type": "DEBIT", "asset_id": points, "amount": "event.amount", "allow_negative": True},
        {"type": "HOLD", "asset_id": lots, "reference_id": "r"},
        {"type": "RELEASE", "asset_id": lots},
        {"type": "FORFEIT", "asset_id": points, "bucket": "HELD"},
        {"type": "VOID_HOLD", "asset_id": lots, "reference_id": "r"},
        {"type": "TAG", "tag": "milestone", "target": {"type": "PROGRAM"}},
        {"type": "UNTAG", "tag": "new"},
        {"type": "COUNTER", "key": "orders", "value": "1", "reset_after": "720h"},
        {"type": "SET_ATTRIBUTE", "key": "tier_hint", "value": "gold"},
        {"type": "SCHEDULE_EVENT", "event_name": "reminder", "delay": "24h", "payload": {"n": 1}},
        {
            "type": "BROADCAST",
            "event_name": "promo",
            "target": {"type": "PARTICIPANT", "external_id": "event.referrer_id"},
        },
    ]
    for half in (actions[:6], actions[6:]):  # a rule has at most 10 actions
        response = api.post(
            "/v1/rules",
            json=_rule(
                world,
                actions=half,
                budgets=[{"asset_id": points, "limit": "10000.00", "schedule_type": "INTERVAL", "interval": "720h"}],
            ),
        )
        assert response.status_code == 201, response.text
        rule = response.json()
        assert [a["type"] for a in rule["actions"]] == [a["type"] for a in half]
        (budget,) = rule["budgets"]
        assert budget["limit"] == "10000" and budget["consumed"] == "0" and budget["next_reset_at"]


def test_update_versions_and_archive(api: Api, world: dict[str, Any]) -> None:
    rule = api.post("/v1/rules", json=_rule(world)).json()
    path = f"/v1/rules/{rule['id']}"
    assert api.patch(path, json={}).status_code == 400
    renamed = api.patch(path, json={"name": "Renamed", "condition": "event.amount > 5.0"}).json()
    assert (
        renamed["name"] == "Renamed"
        and renamed["condition"] == "event.amount > 5.0"
        and renamed["actions"] == rule["actions"]
    )
    assert api.patch(path, json={"status": "SUSPENDED"}).json()["status"] == "SUSPENDED"
    assert api.patch(path, json={"status": "ACTIVE"}).json()["status"] == "ACTIVE"
    archived = api.patch(path, json={"status": "ARCHIVED"}).json()
    assert archived["status"] == "ARCHIVED" and archived["deleted_at"]
    refused = api.patch(path, json={"name": "x"})
    assert refused.status_code == 409 and refused.json()["code"] == "rule_archived"
    # archiving frees the order
    assert api.post("/v1/rules", json=_rule(world, order=rule["order"])).status_code == 201
    assert [r["id"] for r in api.get(f"/v1/rules?program_id={world['program']['id']}").json()["data"]] != [rule["id"]]
    assert rule["id"] in [
        r["id"] for r in api.get(f"/v1/rules?program_id={world['program']['id']}&include_archived=true").json()["data"]
    ]
    history = api.get(f"{path}/history").json()["data"]
    assert [h["change_type"] for h in history] == ["archived", "activated", "suspended", "updated", "created"]
    assert history[3]["changes"] == {"name": "Renamed", "condition": "event.amount > 5.0"}
    assert history[3]["snapshot"]["name"] == "Renamed" and history[4]["snapshot"]["name"] == rule["name"]
    assert history[0]["changed_by_api_key_id"]
    assert [h["change_type"] for h in api.get(f"{path}/history?change_type=suspended").json()["data"]] == ["suspended"]


def test_order_moves_and_conflicts_on_update(api: Api, world: dict[str, Any]) -> None:
    first = api.post("/v1/rules", json=_rule(world)).json()
    second = api.post("/v1/rules", json=_rule(world, name="two")).json()
    assert api.patch(f"/v1/rules/{second['id']}", json={"order": first["order"]}).json()["code"] == "order_conflict"
    moved = api.patch(f"/v1/rules/{second['id']}", json={"order": 1}).json()
    assert moved["order"] == 1
    assert [r["name"] for r in api.get(f"/v1/rules?program_id={world['program']['id']}").json()["data"]] == [
        "two",
        first["name"],
    ]
    assert api.post("/v1/rules", json=_rule(world, order=20)).status_code == 201  # the old order is free again


def test_rules_are_scoped_to_the_organization(api: Api, other_api: Api, world: dict[str, Any]) -> None:
    rule = api.post("/v1/rules", json=_rule(world)).json()
    assert other_api.get(f"/v1/rules/{rule['id']}").status_code == 404
    assert other_api.patch(f"/v1/rules/{rule['id']}", json={"name": "x"}).status_code == 404
    assert other_api.get("/v1/rules").json()["data"] == []
    assert other_api.post("/v1/rules", json=_rule(world)).status_code == 404  # their program is not ours
    assert api.get(f"/v1/rules/{uuid.uuid4()}").status_code == 404
