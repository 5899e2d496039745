"""POST /v1/rules/{id}/simulate through HTTP (03 §3.7): a dry run that persists nothing."""

from __future__ import annotations

import uuid
from typing import Any

from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, processed, rule, send
from tests.conftest import Api


def _simulate(api: Api, rule_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/v1/rules/{rule_id}/simulate", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _results(simulation: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["result"] for r in simulation["evaluation"]["results"]]


def test_simulate_returns_the_spec_example_shape(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    credit = {"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 10"}
    earn = rule(api, program["id"], "event.amount > 50.0", [credit], name="Base earn", order=100)

    simulation = _simulate(api, earn["id"], {"event": {"amount": 75}})
    assert simulation == {
        "rule": {
            "id": earn["id"],
            "name": "Base earn",
            "condition": "event.amount > 50.0",
            "order": 100,
            "stop_after_match": False,
        },
        "evaluation": {
            "matched": True,
            "status": "evaluated",
            "results": [
                {
                    "action": credit,
                    "result": {
                        "amount": "750",
                        "asset_symbol": "POINTS",
                        "description": "Credit 750 POINTS to participant",
                    },
                }
            ],
        },
    }


def test_simulate_condition_false_has_no_results(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    earn = rule(
        api,
        program["id"],
        "event.amount > 50.0",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "10"}],
        stop_after_match=True,
    )
    simulation = _simulate(api, earn["id"], {"event": {"amount": 10}})
    assert simulation["rule"]["stop_after_match"] is True
    assert simulation["evaluation"] == {"matched": False, "status": "evaluated"}
    # A field the event lacks is a plain non-match, not a condition failure (03 §2.3).
    assert _simulate(api, earn["id"], {"event": {}})["evaluation"] == {"matched": False, "status": "evaluated"}


def test_simulate_condition_error_is_condition_failed_with_a_reason(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    coded = rule(
        api, program["id"], "int(event.code) > 1", [{"type": "CREDIT", "asset_id": points["id"], "amount": "10"}]
    )
    failed = _simulate(api, coded["id"], {"event": {"code": "abc"}})["evaluation"]
    assert failed["matched"] is False
    assert failed["status"] == "condition_failed"
    assert isinstance(failed["reason"], str) and failed["reason"]
    assert "results" not in failed
    # The same rule evaluates fine on a usable payload, and then has no reason.
    fine = _simulate(api, coded["id"], {"event": {"code": "7"}})["evaluation"]
    assert (fine["matched"], fine["status"], "reason" in fine) == (True, "evaluated", False)
    assert _results(_simulate(api, coded["id"], {"event": {"code": "7"}}))[0]["amount"] == "10"


def test_simulate_asset_actions_resolve_amounts(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    cash = api.create_asset(program["id"], symbol="CASH", scale=2)
    actions = [
        {"type": "CREDIT", "asset_id": cash["id"], "amount": "event.amount * 0.05"},
        {"type": "DEBIT", "asset_id": points["id"], "amount": "100"},
        {"type": "HOLD", "asset_id": points["id"], "amount": "event.amount"},
        {"type": "RELEASE", "asset_id": points["id"], "amount": "20"},
        {"type": "FORFEIT", "asset_id": points["id"], "amount": "5", "bucket": "AVAILABLE"},
    ]
    mixed = rule(api, program["id"], "true", actions)
    simulation = _simulate(api, mixed["id"], {"event": {"amount": 50}})
    assert [r["action"] for r in simulation["evaluation"]["results"]] == actions
    assert _results(simulation) == [
        {"amount": "2.50", "asset_symbol": "CASH", "description": "Credit 2.50 CASH to participant"},
        {"amount": "100", "asset_symbol": "POINTS", "description": "Debit 100 POINTS from participant"},
        {"amount": "50", "asset_symbol": "POINTS", "description": "Hold 50 POINTS of participant"},
        {"amount": "20", "asset_symbol": "POINTS", "description": "Release 20 POINTS to participant"},
        {"amount": "5", "asset_symbol": "POINTS", "description": "Forfeit 5 POINTS of participant"},
    ]


def test_simulate_amount_too_precise_for_the_asset_is_an_error_in_that_result(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    actions = [
        {"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 1.5"},
        {"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 2"},
        {"type": "CREDIT", "asset_id": points["id"], "amount": "event.bonus"},
    ]
    earn = rule(api, program["id"], "true", actions)
    response = api.post(f"/v1/rules/{earn['id']}/simulate", json={"event": {"amount": 49.99}})
    assert response.status_code == 200, response.text
    evaluation = response.json()["evaluation"]
    assert (evaluation["matched"], evaluation["status"]) == (True, "evaluated")
    too_precise, also_too_precise, missing = [r["result"] for r in evaluation["results"]]
    assert too_precise["asset_symbol"] == "POINTS"
    assert "scale" in too_precise["error"]
    assert "amount" not in too_precise
    assert "scale" in also_too_precise["error"]  # 99.98 does not fit a scale-0 asset either
    assert missing["error"] and "amount" not in missing  # a field the event lacks
    # A whole amount resolves next to them.
    fine = _results(_simulate(api, earn["id"], {"event": {"amount": 10, "bonus": 3}}))
    assert [r.get("amount") for r in fine] == ["15", "20", "3"]


def test_simulate_counter_projection_uses_the_given_counters(api: Api) -> None:
    program = api.create_program()
    actions = [
        {"type": "COUNTER", "key": "purchase_count", "value": "1"},
        {"type": "COUNTER", "key": "lifetime_spend", "value": "event.amount"},
        {"type": "COUNTER", "key": "first_seen", "value": "1"},
    ]
    counting = rule(api, program["id"], "true", actions)
    state = {"counters": {"purchase_count": 7, "lifetime_spend": 340.00}}
    simulation = _simulate(api, counting["id"], {"event": {"amount": 49.99}, "participant_state": state})
    results = _results(simulation)
    assert [(r["current_value"], r["value"], r["projected_value"]) for r in results] == [
        ("7", "1", "8"),
        ("340", "49.99", "389.99"),
        ("0", "1", "1"),  # a counter the participant does not have starts at 0
    ]
    assert all(r["description"] for r in results)
    # Without participant_state, every counter starts at 0.
    bare = _results(_simulate(api, counting["id"], {"event": {"amount": 5}}))
    assert [(r["current_value"], r["projected_value"]) for r in bare] == [("0", "1"), ("0", "5"), ("0", "1")]


def test_simulate_tag_untag_and_attribute_projections(api: Api) -> None:
    program = api.create_program()
    actions = [
        {"type": "TAG", "tag": "VIP"},
        {"type": "TAG", "tag": "regular"},
        {"type": "UNTAG", "tag": "new"},
        {"type": "UNTAG", "tag": "never_had"},
        {"type": "SET_ATTRIBUTE", "key": "tier_name", "value": "event.tier"},
        {"type": "SET_ATTRIBUTE", "key": "city", "value": "event.city"},
        {"type": "SET_ATTRIBUTE", "key": "nickname", "value": "'bob'"},
    ]
    stateful = rule(api, program["id"], "true", actions)
    state = {"tags": ["New", "regular"], "attributes": {"tier_name": "silver", "city": "Paris"}}
    body = {"event": {"tier": "gold", "city": "Paris"}, "participant_state": state}
    vip, regular, new, never, tier, city, nickname = _results(_simulate(api, stateful["id"], body))
    assert (vip["current_tags"], vip["would_add"]) == (["new", "regular"], True)
    assert (regular["current_tags"], regular["would_add"]) == (["new", "regular"], False)
    assert "would_remove" not in vip
    assert (new["current_tags"], new["would_remove"]) == (["new", "regular"], True)
    assert never["would_remove"] is False
    assert "would_add" not in new
    assert (tier["current_value"], tier["would_change"]) == ("silver", True)
    assert (city["current_value"], city["would_change"]) == ("Paris", False)
    assert (nickname["current_value"], nickname["would_change"]) == (None, True)
    assert all(r["description"] for r in (vip, regular, new, never, tier, city, nickname))


def test_simulate_literal_attribute_value_is_stored_verbatim(api: Api) -> None:
    program = api.create_program()
    literal = rule(api, program["id"], "true", [{"type": "SET_ATTRIBUTE", "key": "level", "value": "gold"}])
    body = {"event": {}, "participant_state": {"attributes": {"level": "gold"}}}
    [result] = _results(_simulate(api, literal["id"], body))
    assert "error" not in result, result
    assert (result["current_value"], result["would_change"]) == ("gold", False)


def test_simulate_follow_ups_have_a_description_only(api: Api) -> None:
    program = api.create_program()
    actions = [
        {"type": "SCHEDULE_EVENT", "event_name": "follow_up", "delay": "24h", "payload": {"step": 2}},
        {"type": "BROADCAST", "event_name": "flash_sale"},
    ]
    fan_out = rule(api, program["id"], "true", actions)
    schedule, broadcast = _results(_simulate(api, fan_out["id"], {"event": {}, "participant_state": {"tags": ["x"]}}))
    assert list(schedule) == ["description"] and "follow_up" in schedule["description"]
    assert list(broadcast) == ["description"] and "flash_sale" in broadcast["description"]


def test_simulate_has_no_projections_for_actions_with_a_target(api: Api) -> None:
    program = api.create_program()
    referrer = {"type": "PARTICIPANT", "external_id": "event.referrer_id"}
    actions = [
        {"type": "TAG", "tag": "referrer", "target": referrer},
        {"type": "UNTAG", "tag": "new", "target": referrer},
        {"type": "COUNTER", "key": "referrals", "value": "1", "target": referrer},
        {"type": "SET_ATTRIBUTE", "key": "referred", "value": "'yes'", "target": {"type": "PROGRAM"}},
        {"type": "COUNTER", "key": "referrals", "value": "1"},
    ]
    referral = rule(api, program["id"], "true", actions)
    state = {"tags": ["new"], "counters": {"referrals": 2}, "attributes": {"referred": "no"}}
    body = {"event": {"referrer_id": "cust_9"}, "participant_state": state}
    tag, untag, counter, attribute, own_counter = _results(_simulate(api, referral["id"], body))
    assert list(tag) == ["description"]
    assert list(untag) == ["description"]
    assert sorted(counter) == ["description", "value"] and counter["value"] == "1"
    assert list(attribute) == ["description"]
    # The same counter on the event participant is projected.
    assert (own_counter["current_value"], own_counter["projected_value"]) == ("2", "3")


def test_simulate_persists_nothing(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    actions = [
        {"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 10"},
        {"type": "TAG", "tag": "simulated"},
        {"type": "COUNTER", "key": "orders", "value": "1"},
        {"type": "SET_ATTRIBUTE", "key": "seen", "value": "'yes'"},
        {"type": "SCHEDULE_EVENT", "event_name": "follow_up", "delay": "1s"},
        {"type": "BROADCAST", "event_name": "flash_sale"},
    ]
    earn = rule(api, program["id"], "true", actions)
    body = {"event": {"amount": 75, "external_id": "cust_1"}, "participant_state": {"counters": {"orders": 1}}}
    for _ in range(2):
        assert _simulate(api, earn["id"], body)["evaluation"]["matched"] is True
    stack.drain()

    assert api.get("/v1/events").json()["data"] == []
    assert api.get(f"/v1/events?program_id={program['id']}").json()["data"] == []
    assert api.get("/v1/participants").json()["data"] == []
    assert api.get(f"/v1/journal-entries?rule_id={earn['id']}").json()["data"] == []

    # The same payload as a real event does show up in those listings.
    real = processed(api, stack, send(api, program["id"], {"amount": 75}, external_id="cust_1")["id"])
    assert real["id"] in [e["id"] for e in api.get("/v1/events").json()["data"]]
    [member] = api.get("/v1/participants").json()["data"]
    assert member["external_id"] == "cust_1"
    assert balance(api, member["id"], points["id"])["available"] == "750"


def test_simulate_ignores_status_and_activity_window(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    credit = [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}]
    suspended = rule(api, program["id"], "event.ok", credit, status="SUSPENDED")
    assert suspended["status"] == "SUSPENDED"
    expired = rule(
        api, program["id"], "event.ok", credit, active_from="2020-01-01T00:00:00Z", active_to="2020-02-01T00:00:00Z"
    )
    future = rule(api, program["id"], "event.ok", credit, active_from="2999-01-01T00:00:00Z")
    capped = rule(api, program["id"], "event.ok", credit, budgets=[{"asset_id": points["id"], "limit": "1"}])
    for candidate in (suspended, expired, future, capped):
        evaluation = _simulate(api, candidate["id"], {"event": {"ok": True}})["evaluation"]
        assert (evaluation["matched"], evaluation["status"]) == (True, "evaluated"), candidate
        assert [r["result"]["amount"] for r in evaluation["results"]] == ["5"]
        assert _simulate(api, candidate["id"], {"event": {"ok": False}})["evaluation"]["matched"] is False


def test_simulate_unknown_and_foreign_rules_are_404(api: Api, other_api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    earn = rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    unknown = api.post(f"/v1/rules/{uuid.uuid4()}/simulate", json={"event": {}})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "not_found"
    foreign = other_api.post(f"/v1/rules/{earn['id']}/simulate", json={"event": {}})
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["code"] == "not_found"
    assert api.post(f"/v1/rules/{earn['id']}/simulate", json={"event": {}}).status_code == 200


def test_simulate_requires_an_event_object(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="POINTS", scale=0)
    earn = rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    for body in ({}, {"participant_state": {"tags": ["a"]}}, {"event": "purchase"}, {"event": [1, 2]}):
        response = api.post(f"/v1/rules/{earn['id']}/simulate", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "validation_error", response.text
    bad_state = api.post(
        f"/v1/rules/{earn['id']}/simulate", json={"event": {}, "participant_state": {"counters": {"n": "many"}}}
    )
    assert bad_state.status_code == 400, bad_state.text
