"""A rule can never stall its program (P6): costly CEL is refused with the reason, and a rule's
actions are bounded so that its work fits one transaction and its item fits DynamoDB's 400 KB."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

COSTLY = "[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10].map(c, a + b + c)))"
COSTLY_CONDITION = f"{COSTLY}.size() > 0"


def _world(api: Api) -> tuple[str, str]:
    program = api.create_program()
    return program["id"], api.create_asset(program["id"], symbol="PTS")["id"]


def _rule(program_id: str, asset_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "program_id": program_id,
        "name": "bounded",
        "condition": "true",
        "actions": [{"type": "CREDIT", "asset_id": asset_id, "amount": "1"}],
        **fields,
    }


def _refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = dict(response.json())
    assert body["code"] == "validation_error" and body["details"]["field"] == field, body
    return body


def test_costly_cel_is_refused_at_validate_create_and_update(api: Api) -> None:
    program_id, asset_id = _world(api)
    report = api.post("/v1/rules/validate", json={"condition": COSTLY_CONDITION}).json()
    assert report["valid"] is False and "iterate" in report["message"]

    body = _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, condition=COSTLY_CONDITION)), "condition")
    assert body["details"]["reason"] == "cel_cost" and "too costly" in body["message"]
    nested = "event.a.exists(x, event.b.exists(y, x in event.c))"
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, condition=nested)), "condition")
    amount = [{"type": "CREDIT", "asset_id": asset_id, "amount": f"{COSTLY}.size()"}]
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=amount)), "actions.0.amount")
    literal_or_cel = [{"type": "SET_ATTRIBUTE", "key": "k", "value": f"string({COSTLY}.size())"}]
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=literal_or_cel)), "actions.0.value")

    created = api.post("/v1/rules", json=_rule(program_id, asset_id))
    assert created.status_code == 201, created.text
    patch = api.patch(f"/v1/rules/{created.json()['id']}", json={"condition": COSTLY_CONDITION})
    _refused(patch, "condition")


def test_simulate_reports_a_comprehension_past_the_limit_and_bounds_its_event(api: Api) -> None:
    program_id, asset_id = _world(api)
    created = api.post("/v1/rules", json=_rule(program_id, asset_id, condition="event.items.exists(i, i == 7)"))
    assert created.status_code == 201, created.text
    path = f"/v1/rules/{created.json()['id']}/simulate"
    evaluation = api.post(path, json={"event": {"items": [0] * 5000}}).json()["evaluation"]
    assert evaluation["status"] == "condition_failed" and "comprehension elements" in evaluation["reason"]
    assert api.post(path, json={"event": {"items": [7]}}).json()["evaluation"]["matched"] is True
    too_big = api.post(path, json={"event": {"s": "x" * 40_000}})
    assert too_big.status_code == 400 and too_big.json()["code"] == "validation_error"


def test_actions_are_bounded_in_number_and_size(api: Api) -> None:
    program_id, asset_id = _world(api)
    credit = {"type": "CREDIT", "asset_id": asset_id, "amount": "1"}
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=[credit] * 11)), "actions")
    assert api.post("/v1/rules", json=_rule(program_id, asset_id, actions=[credit] * 10)).status_code == 201

    def schedule(payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": "SCHEDULE_EVENT", "event_name": "later", "delay": "1h", "payload": payload}

    # Ten payloads of 45 KB made the rule item exceed 400 KB: a 500 before.
    huge = [schedule({"blob": "x" * 45_000})] * 10
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=huge)), "actions.0.payload")
    # Each under its own bound, together over the rule's.
    large = [schedule({"blob": "x" * 15_000})] * 5
    body = _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=large)), "actions")
    assert body["details"]["reason"] == "too_large"
    unstorable = [schedule({"n": 1e300})]
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=unstorable)), "actions.0.payload")
    for field, value in [("description", "d" * 501), ("reference_id", "r" * 1025), ("expires_at", "1" * 65)]:
        action = {**credit, field: value}
        _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=[action])), f"actions.0.{field}")
    tag = {"type": "TAG", "tag": "t", "target": {"type": "PARTICIPANT", "external_id": "e" * 1025}}
    _refused(api.post("/v1/rules", json=_rule(program_id, asset_id, actions=[tag])), "actions.0.target.external_id")
