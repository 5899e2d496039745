"""The events API through HTTP (03 §1): ingest, batch, get, list, retry, impact, a participant's events."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, participant_id, processed, rule, send
from tests.conftest import Api

TIMESTAMP = "2025-03-02T18:04:00Z"
INGEST_FIELDS = {"id", "program_id", "participant_id", "external_id", "idempotency_key", "event_timestamp", "status"}
ABSENT = object()


def ingest_body(program: str, **fields: Any) -> dict[str, Any]:
    """The §7.1 example in ``program``, with fields replaced (or removed with ``ABSENT``)."""
    body: dict[str, Any] = {
        "program_id": program,
        "external_id": "cust_881",
        "idempotency_key": "order-9001-paid",
        "event_timestamp": TIMESTAMP,
        "event_data": {"type": "purchase", "amount": 120.40, "mcc": "5812"},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ABSENT}


def post_raw(api: Api, path: str, text: str) -> Any:
    return api.post(path, data=text.encode(), headers={"Content-Type": "application/json"})


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def listed(api: Api, query: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/events?{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


def assert_validation_error(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["message"]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed attempts come back at once, so a drain runs all five of them."""
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def failing_event(api: Api, stack: LocalStack, program_id: str, member: str) -> dict[str, Any]:
    """An event whose DEBIT of 50 exceeds the member's balance: FAILED after its attempts."""
    event = send(api, program_id, {"type": "redeem"}, external_id=None, participant_id=member)
    failed = processed(api, stack, event["id"])
    assert failed["status"] == "FAILED", failed
    return failed


def debit_rule(api: Api, program_id: str, asset_id: str) -> dict[str, Any]:
    return rule(api, program_id, "event.type == 'redeem'", [{"type": "DEBIT", "asset_id": asset_id, "amount": "50"}])


# ------------------------------------------------------------------ POST /v1/events


def test_ingest_answers_202_with_the_ingest_body_and_stores_a_pending_event(api: Api) -> None:
    program = api.create_program()
    response = api.post("/v1/events", json=ingest_body(program["id"]))
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == INGEST_FIELDS
    assert uuid.UUID(body["id"])
    assert body["program_id"] == program["id"]
    assert body["participant_id"] is None
    assert body["external_id"] == "cust_881"
    assert body["idempotency_key"] == "order-9001-paid"
    assert instant(body["event_timestamp"]) == instant(TIMESTAMP)
    assert body["status"] == "PENDING"

    stored = api.get(f"/v1/events/{body['id']}")
    assert stored.status_code == 200, stored.text
    event = stored.json()
    assert event["status"] == "PENDING" and event["event_type"] == "EXTERNAL"
    assert event["event_data"] == {"type": "purchase", "amount": 120.4, "mcc": "5812"}
    assert event["processed_at"] is None and event["error_message"] is None
    assert event["rule_evaluations"] == []
    assert event["recipient_id"] is None
    assert instant(event["created_at"]) == instant(event["received_at"])


def test_ingest_by_participant_id_echoes_it(api: Api) -> None:
    program = api.create_program()
    member = participant_id(api, "cust_known")
    response = api.post("/v1/events", json=ingest_body(program["id"], external_id=ABSENT, participant_id=member))
    assert response.status_code == 202, response.text
    assert response.json()["participant_id"] == member
    assert response.json()["external_id"] is None


def test_an_idempotency_key_of_255_characters_is_accepted(api: Api) -> None:
    program = api.create_program()
    response = api.post("/v1/events", json=ingest_body(program["id"], idempotency_key="k" * 255))
    assert response.status_code == 202, response.text
    assert response.json()["idempotency_key"] == "k" * 255


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"program_id": ABSENT}, id="program_id missing"),
        pytest.param({"program_id": "not-a-uuid"}, id="program_id not a uuid"),
        pytest.param({"idempotency_key": ABSENT}, id="idempotency_key missing"),
        pytest.param({"event_timestamp": ABSENT}, id="event_timestamp missing"),
        pytest.param({"event_data": ABSENT}, id="event_data missing"),
        pytest.param({"external_id": ABSENT}, id="neither external_id nor participant_id"),
        pytest.param({"participant_id": "7b1d2c3e-0000-4000-8000-000000000009"}, id="both identities"),
        pytest.param({"external_id": None}, id="external_id null and no participant_id"),
        pytest.param({"idempotency_key": ""}, id="idempotency_key empty"),
        pytest.param({"idempotency_key": "k" * 256}, id="idempotency_key 256 chars"),
        pytest.param({"event_timestamp": "2025-03-02"}, id="date only"),
        pytest.param({"event_timestamp": "yesterday"}, id="yesterday"),
        pytest.param({"event_timestamp": "2025-03-02T18:04:00"}, id="no offset"),
        pytest.param({"event_timestamp": "20250302T180400Z"}, id="ISO basic format"),
        pytest.param({"event_timestamp": "2025-W09-7T18:04:00Z"}, id="ISO week date"),
        pytest.param({"event_timestamp": "2025-03-02T18:04Z"}, id="no seconds"),
        pytest.param({"event_timestamp": 1740938640}, id="epoch number"),
        pytest.param({"event_data": [1, 2]}, id="event_data a list"),
        pytest.param({"event_data": "purchase"}, id="event_data a string"),
        pytest.param({"event_data": None}, id="event_data null"),
        pytest.param({"event_data": 5}, id="event_data a number"),
    ],
)
def test_ingest_refuses_a_malformed_event_with_validation_error(api: Api, fields: dict[str, Any]) -> None:
    program = api.create_program()
    response = api.post("/v1/events", json=ingest_body(program["id"], **fields))
    assert_validation_error(response)
    assert listed(api, f"program_id={program['id']}") == []


@pytest.mark.parametrize(
    "text",
    ['{"program_id": ', "not json at all", "[]", '"a string"', "null", ""],
    ids=["truncated", "garbage", "array", "string", "null", "empty"],
)
def test_ingest_refuses_a_body_that_is_not_a_json_object(api: Api, text: str) -> None:
    assert_validation_error(post_raw(api, "/v1/events", text))


def nested(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        data = {"a": data}
    return data


@pytest.mark.parametrize(
    "number",
    ["NaN", "Infinity", "-Infinity", "1e400", "1.7976931348623157e308", "1e-200", str(10**50), "1" * 39],
)
def test_ingest_refuses_a_number_the_store_cannot_hold(api: Api, number: str) -> None:
    program = api.create_program()
    text = json.dumps(ingest_body(program["id"], event_data={"x": "NUMBER"})).replace('"NUMBER"', number)
    response = post_raw(api, "/v1/events", text)
    assert_validation_error(response)
    assert "event_data" in response.json()["message"]
    assert listed(api, f"program_id={program['id']}") == []


def test_ingest_keeps_large_and_small_numbers_that_fit_exactly(api: Api) -> None:
    program = api.create_program()
    data = {"big": int("9" * 38), "small": 1e-120, "zero": 0, "negative": -12.5, "flag": True, "none": None}
    accepted = api.post("/v1/events", json=ingest_body(program["id"], event_data=data))
    assert accepted.status_code == 202, accepted.text
    assert api.get(f"/v1/events/{accepted.json()['id']}").json()["event_data"] == data


def test_ingest_bounds_how_deep_event_data_nests(api: Api) -> None:
    program = api.create_program()
    deep_enough = api.post("/v1/events", json=ingest_body(program["id"], idempotency_key="30", event_data=nested(30)))
    assert deep_enough.status_code == 202, deep_enough.text
    assert api.get(f"/v1/events/{deep_enough.json()['id']}").json()["event_data"] == nested(30)
    too_deep = api.post("/v1/events", json=ingest_body(program["id"], idempotency_key="31", event_data=nested(31)))
    assert_validation_error(too_deep)
    # A body nested far deeper than any parser's stack is still the client's error, not a 500.
    body = json.dumps(ingest_body(program["id"], idempotency_key="deep", event_data={"x": "DEEP"}))
    body = body.replace('"DEEP"', "[" * 5000 + "]" * 5000)
    assert_validation_error(post_raw(api, "/v1/events", body))
    assert_validation_error(post_raw(api, "/v1/events/batch", '{"events": [' + body + "]}"))
    assert ids(listed(api, f"program_id={program['id']}")) == [deep_enough.json()["id"]]


def test_ingest_requires_an_api_key(api: Api) -> None:
    program = api.create_program()
    response = api.post("/v1/events", json=ingest_body(program["id"]), auth=False)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    by_header = api.post("/v1/events", json=ingest_body(program["id"]), auth=False, headers={"X-API-Key": api.key})
    assert by_header.status_code == 202, by_header.text


def test_a_replay_after_processing_does_not_process_again(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "10"}])
    first = api.post("/v1/events", json=ingest_body(program["id"]))
    assert processed(api, stack, first.json()["id"])["status"] == "COMPLETED"
    replay = api.post("/v1/events", json=ingest_body(program["id"]))
    assert replay.status_code == 202, replay.text
    assert replay.json()["id"] == first.json()["id"]
    # The replay answers the stored event as it is now.
    member = participant_id(api, "cust_881")
    assert replay.json()["status"] == "COMPLETED" and replay.json()["participant_id"] == member
    stack.drain()
    assert balance(api, member, points["id"])["available"] == "10"
    assert len(api.get(f"/v1/journal-entries?event_id={first.json()['id']}").json()["data"]) == 1


# ------------------------------------------------------------------ idempotency


def test_a_replay_with_the_same_payload_answers_202_with_the_same_event(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    first = post_raw(
        api,
        "/v1/events",
        '{"program_id": "PID", "external_id": "cust_881", "idempotency_key": "order-9001-paid", '
        '"event_timestamp": "2025-03-02T18:04:00Z", '
        '"event_data": {"type": "purchase", "amount": 120.40, "mcc": "5812", "n": 3}}'.replace("PID", pid),
    )
    assert first.status_code == 202, first.text
    replays = [
        # a trailing zero dropped
        '{"program_id": "PID", "external_id": "cust_881", "idempotency_key": "order-9001-paid", '
        '"event_timestamp": "2025-03-02T18:04:00Z", '
        '"event_data": {"type": "purchase", "amount": 120.4, "mcc": "5812", "n": 3}}',
        # keys reordered, at both levels, and other whitespace; 120.400 and 3 written 3.0
        '{"event_data":{"n":3.0,"mcc":"5812","amount":120.400,"type":"purchase"},'
        '"event_timestamp":"2025-03-02T18:04:00Z","idempotency_key":"order-9001-paid",'
        '"external_id":"cust_881","program_id":"PID"}',
        # the same instant in another offset
        '{"program_id": "PID", "external_id": "cust_881", "idempotency_key": "order-9001-paid", '
        '"event_timestamp": "2025-03-02T19:04:00+01:00", '
        '"event_data": {"type": "purchase", "amount": 120.4, "mcc": "5812", "n": 3}}',
    ]
    for text in replays:
        again = post_raw(api, "/v1/events", text.replace("PID", pid))
        assert again.status_code == 202, again.text
        assert again.json() == first.json()
    assert ids(listed(api, f"program_id={pid}")) == [first.json()["id"]]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"event_data": {"type": "purchase", "amount": 99, "mcc": "5812"}}, id="amount"),
        pytest.param({"event_data": {"type": "purchase", "amount": 120.40}}, id="a field fewer"),
        pytest.param({"event_data": {"type": "purchase", "amount": "120.40", "mcc": "5812"}}, id="number as text"),
        pytest.param({"external_id": "cust_882"}, id="external_id"),
        pytest.param({"event_timestamp": "2025-03-02T18:04:01Z"}, id="event_timestamp"),
    ],
)
def test_a_reused_key_with_another_payload_is_409_idempotency_conflict(api: Api, fields: dict[str, Any]) -> None:
    program = api.create_program()
    first = api.post("/v1/events", json=ingest_body(program["id"]))
    assert first.status_code == 202, first.text
    conflict = api.post("/v1/events", json=ingest_body(program["id"], **fields))
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["code"] == "idempotency_conflict"
    assert conflict.json()["message"]
    stored = api.get(f"/v1/events/{first.json()['id']}").json()
    assert stored["external_id"] == "cust_881" and stored["event_data"]["amount"] == 120.4
    assert ids(listed(api, f"program_id={program['id']}")) == [first.json()["id"]]


def test_the_same_key_in_another_program_is_another_event(api: Api) -> None:
    one, two = api.create_program(), api.create_program(name="Tea Club")
    first = api.post("/v1/events", json=ingest_body(one["id"]))
    second = api.post("/v1/events", json=ingest_body(two["id"], event_data={"type": "other"}))
    assert first.status_code == 202 and second.status_code == 202, second.text
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["program_id"] == two["id"]
    assert ids(listed(api, f"program_id={two['id']}")) == [second.json()["id"]]
    assert api.get(f"/v1/events/{second.json()['id']}").json()["event_data"] == {"type": "other"}


# ------------------------------------------------------------------ POST /v1/events/batch


def test_batch_example_of_the_spec_accepts_one_and_refuses_one(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    response = api.post(
        "/v1/events/batch",
        json={
            "events": [
                {
                    "program_id": pid,
                    "external_id": "a",
                    "idempotency_key": "k1",
                    "event_timestamp": "2025-03-02T18:04:00Z",
                    "event_data": {"type": "login"},
                },
                {
                    "program_id": pid,
                    "idempotency_key": "k2",
                    "event_timestamp": "2025-03-02T18:05:00Z",
                    "event_data": {"type": "login"},
                },
            ]
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["total"], body["success_count"], body["error_count"]) == (2, 1, 1)
    accepted, refused = body["results"]
    assert accepted["index"] == 0 and accepted["status"] == "accepted"
    assert set(accepted["event"]) == INGEST_FIELDS
    assert accepted["event"]["status"] == "PENDING" and accepted["event"]["idempotency_key"] == "k1"
    assert accepted["event"]["external_id"] == "a" and accepted["event"]["participant_id"] is None
    assert refused["index"] == 1 and refused["status"] == "error"
    assert refused.get("event") is None
    assert "external_id" in refused["error"]
    assert ids(listed(api, f"program_id={pid}")) == [accepted["event"]["id"]]


def test_batch_results_keep_input_order_and_name_the_field_of_a_shape_error(api: Api) -> None:
    program = api.create_program()
    items = [ingest_body(program["id"], idempotency_key=f"b-{i}") for i in range(4)]
    items[1]["event_timestamp"] = "yesterday"
    items[2]["event_data"] = [1]
    response = api.post("/v1/events/batch", json={"events": items})
    assert response.status_code == 202, response.text
    body = response.json()
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert [r["status"] for r in body["results"]] == ["accepted", "error", "error", "accepted"]
    assert "event_timestamp" in body["results"][1]["error"]
    assert "event_data" in body["results"][2]["error"]
    assert [body["results"][i]["event"]["idempotency_key"] for i in (0, 3)] == ["b-0", "b-3"]
    assert (body["success_count"], body["error_count"]) == (2, 2)


def test_a_batch_item_that_is_not_an_object_or_not_storable_is_only_that_items_error(api: Api) -> None:
    program = api.create_program()
    good = ingest_body(program["id"], idempotency_key="good")
    too_small = ingest_body(program["id"], idempotency_key="tiny", event_data={"x": 1e-200})
    response = api.post("/v1/events/batch", json={"events": ["x", good, None, too_small, 7]})
    assert response.status_code == 202, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["error", "accepted", "error", "error", "error"]
    assert "event_data" in body["results"][3]["error"]
    assert (body["total"], body["success_count"], body["error_count"]) == (5, 1, 4)
    assert ids(listed(api, f"program_id={program['id']}")) == [body["results"][1]["event"]["id"]]


def test_a_conflict_inside_a_batch_is_an_item_error_not_a_409(api: Api) -> None:
    program = api.create_program()
    original = api.post("/v1/events", json=ingest_body(program["id"]))
    assert original.status_code == 202
    response = api.post(
        "/v1/events/batch",
        json={
            "events": [
                ingest_body(program["id"], event_data={"type": "purchase", "amount": 99}),
                ingest_body(program["id"], idempotency_key="fresh"),
                ingest_body(program["id"]),
            ]
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["error", "accepted", "accepted"]
    assert "idempotency_conflict" in body["results"][0]["error"]
    assert body["results"][2]["event"] == original.json()
    assert body["results"][1]["event"]["id"] != original.json()["id"]
    assert (body["total"], body["success_count"], body["error_count"]) == (3, 2, 1)


def test_a_key_repeated_inside_a_batch_is_a_replay_of_its_first_occurrence(api: Api) -> None:
    program = api.create_program()
    first = ingest_body(program["id"], idempotency_key="dup")
    same = json.loads(json.dumps(first))
    same["event_data"] = {"mcc": "5812", "amount": 120.4, "type": "purchase"}
    different = ingest_body(program["id"], idempotency_key="dup", external_id="someone_else")
    response = api.post("/v1/events/batch", json={"events": [first, same, different]})
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "error"]
    assert results[0]["event"]["id"] == results[1]["event"]["id"]
    assert results[1]["event"]["external_id"] == "cust_881"
    assert "idempotency_conflict" in results[2]["error"]
    assert len(listed(api, f"program_id={program['id']}")) == 1


def test_a_batch_of_100_is_accepted(api: Api) -> None:
    program = api.create_program()
    items = [ingest_body(program["id"], idempotency_key=f"many-{i}") for i in range(100)]
    response = api.post("/v1/events/batch", json={"events": items})
    assert response.status_code == 202, response.text
    assert (response.json()["total"], response.json()["success_count"]) == (100, 100)
    assert len({r["event"]["id"] for r in response.json()["results"]}) == 100


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"events": []}, id="0 items"),
        pytest.param("101", id="101 items"),
        pytest.param({}, id="events missing"),
        pytest.param({"events": None}, id="events null"),
        pytest.param({"events": {"program_id": "x"}}, id="events an object"),
    ],
)
def test_batch_refuses_a_malformed_request_as_a_whole(api: Api, payload: Any) -> None:
    program = api.create_program()
    if payload == "101":
        payload = {"events": [ingest_body(program["id"], idempotency_key=f"k-{i}") for i in range(101)]}
    assert_validation_error(api.post("/v1/events/batch", json=payload))
    assert listed(api, f"program_id={program['id']}") == []


def test_batch_refuses_a_body_that_is_not_json(api: Api) -> None:
    assert_validation_error(post_raw(api, "/v1/events/batch", '{"events": ['))


# ------------------------------------------------------------------ GET /v1/events/{id}


def test_get_is_404_for_an_unknown_event_and_for_another_organizations(api: Api, other_api: Api) -> None:
    missing = api.get(f"/v1/events/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"

    program = api.create_program()
    mine = send(api, program["id"], {"type": "purchase"})
    for path in (f"/v1/events/{mine['id']}", f"/v1/events/{mine['id']}/impact"):
        response = other_api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert other_api.post(f"/v1/events/{mine['id']}/retry").status_code == 404
    assert listed(other_api, "") == []
    assert listed(other_api, f"program_id={program['id']}") == []
    assert api.get(f"/v1/events/{mine['id']}").status_code == 200


def test_get_refuses_an_id_that_is_not_a_uuid_or_a_bad_include_skipped(api: Api) -> None:
    assert_validation_error(api.get("/v1/events/not-a-uuid"))
    program = api.create_program()
    accepted = send(api, program["id"], {})
    assert_validation_error(api.get(f"/v1/events/{accepted['id']}?include_skipped=maybe"))


def test_get_shows_rule_evaluations_and_hides_skipped_errors_unless_asked(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    pid = program["id"]
    tag = [{"type": "TAG", "tag": "seen"}]
    matched = rule(api, pid, "event.type == 'purchase'", tag, name="matches")
    unmatched = rule(api, pid, "event.type == 'refund'", tag, name="does not match")
    broken = rule(api, pid, "int(event.code) > 1", tag, name="errors")
    not_bool = rule(api, pid, "event.amount", tag, name="not a bool")
    accepted = send(api, pid, {"type": "purchase", "code": "abc", "amount": 5})

    event = processed(api, stack, accepted["id"])
    assert event["status"] == "COMPLETED", event
    by_rule = {e["rule_id"]: e for e in event["rule_evaluations"]}
    assert list(by_rule) == [matched["id"], unmatched["id"], broken["id"], not_bool["id"]]
    assert by_rule[matched["id"]]["status"] == "SUCCESS"
    assert by_rule[matched["id"]]["rule_name"] == "matches"
    assert by_rule[matched["id"]]["actions"][0]["type"] == "TAG"
    assert by_rule[unmatched["id"]]["status"] == "NOT_MATCHED"
    assert by_rule[unmatched["id"]]["reason"] == "CONDITION_FALSE"
    for skipped in (broken, not_bool):
        assert by_rule[skipped["id"]]["status"] == "SKIPPED_ERROR"
        assert by_rule[skipped["id"]]["error_message"].startswith("condition evaluation failed")
        assert by_rule[skipped["id"]]["actions"] == []
    for evaluation in event["rule_evaluations"]:
        assert evaluation["rule_history_id"] and uuid.UUID(evaluation["id"])

    default = api.get(f"/v1/events/{accepted['id']}")
    assert default.status_code == 200
    assert [e["rule_id"] for e in default.json()["rule_evaluations"]] == [matched["id"], unmatched["id"]]
    explicit = api.get(f"/v1/events/{accepted['id']}?include_skipped=false").json()
    assert [e["rule_id"] for e in explicit["rule_evaluations"]] == [matched["id"], unmatched["id"]]
    # Only the matching rule's action ran: the skipped ones changed nothing.
    member = event["participant_id"]
    assert api.get(f"/v1/participants/{member}/state/tags").json()["data"] == [{"tag": "seen"}]


def test_a_missing_field_in_a_condition_is_a_plain_non_match(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    absent = rule(api, program["id"], "event.nope == 1", [{"type": "TAG", "tag": "x"}])
    event = processed(api, stack, send(api, program["id"], {"type": "purchase"})["id"])
    assert event["status"] == "COMPLETED"
    assert [(e["rule_id"], e["status"]) for e in event["rule_evaluations"]] == [(absent["id"], "NOT_MATCHED")]


def test_an_event_for_an_unknown_program_is_accepted_then_fails_at_once(api: Api, stack: LocalStack) -> None:
    unknown = str(uuid.uuid4())
    accepted = api.post("/v1/events", json=ingest_body(unknown))
    assert accepted.status_code == 202, accepted.text
    event = processed(api, stack, accepted.json()["id"])
    # The spec lets such an id stay unreadable; this implementation keeps it, FAILED without retries.
    assert event["status"] == "FAILED" and event["program_id"] == unknown
    assert "program_id" in event["error_message"]
    assert event["retry_count"] == 1 and event["processed_at"]
    assert event["participant_id"] is None
    assert api.get("/v1/participants?external_id=cust_881").json()["data"] == []


# ------------------------------------------------------------------ GET /v1/events


def test_list_filters_by_program_status_type_participant_and_external_id(api: Api, stack: LocalStack) -> None:
    one, two = api.create_program(), api.create_program(name="Tea Club")
    a1 = send(api, one["id"], {"type": "x"}, external_id="cust_a")
    b1 = send(api, one["id"], {"type": "x"}, external_id="cust_b")
    a2 = send(api, two["id"], {"type": "x"}, external_id="cust_a")
    stack.drain()
    pending = send(api, one["id"], {"type": "x"}, external_id="cust_b")
    alice, bob = participant_id(api, "cust_a"), participant_id(api, "cust_b")

    assert set(ids(listed(api, f"program_id={one['id']}"))) == {a1["id"], b1["id"], pending["id"]}
    assert ids(listed(api, f"program_id={two['id']}")) == [a2["id"]]
    assert set(ids(listed(api, "status=COMPLETED"))) == {a1["id"], b1["id"], a2["id"]}
    assert ids(listed(api, "status=PENDING")) == [pending["id"]]
    assert listed(api, "status=FAILED") == []
    assert len(listed(api, "event_type=EXTERNAL")) == 4
    assert listed(api, "event_type=SYSTEM") == []
    assert set(ids(listed(api, f"participant_id={alice}"))) == {a1["id"], a2["id"]}
    # The pending event of cust_b has no participant yet: it only joins once processed.
    assert ids(listed(api, f"participant_id={bob}")) == [b1["id"]]
    assert set(ids(listed(api, "external_id=cust_b"))) == {b1["id"], pending["id"]}
    assert ids(listed(api, f"external_id=cust_a&program_id={two['id']}")) == [a2["id"]]
    assert ids(listed(api, f"status=PENDING&program_id={two['id']}")) == []
    assert listed(api, "external_id=nobody") == []
    for row in listed(api, ""):
        assert "rule_evaluations" not in row
        assert row["event_type"] == "EXTERNAL"


def test_list_rule_id_keeps_the_events_in_which_the_rule_matched(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    pid = program["id"]
    tag = [{"type": "TAG", "tag": "t"}]
    rule_a = rule(api, pid, "event.type in ['a', 'ab']", tag, name="A")
    rule_b = rule(api, pid, "event.type in ['b', 'ab']", tag, name="B")
    only_a = send(api, pid, {"type": "a"})
    only_b = send(api, pid, {"type": "b"})
    both = send(api, pid, {"type": "ab"})
    neither = send(api, pid, {"type": "z"})
    stack.drain()
    assert set(ids(listed(api, f"rule_id={rule_a['id']}"))) == {only_a["id"], both["id"]}
    assert set(ids(listed(api, f"rule_id={rule_b['id']}"))) == {only_b["id"], both["id"]}
    assert listed(api, f"rule_id={uuid.uuid4()}") == []
    assert len(listed(api, f"program_id={pid}")) == 4
    assert neither["id"] not in ids(listed(api, f"rule_id={rule_a['id']}") + listed(api, f"rule_id={rule_b['id']}"))


def test_list_windows_on_created_at_and_on_event_timestamp(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    feb = send(api, pid, {"n": 1}, timestamp="2025-02-01T00:00:00Z")
    jan = send(api, pid, {"n": 2}, timestamp="2025-01-01T00:00:00Z")
    mar = send(api, pid, {"n": 3}, timestamp="2025-03-01T00:00:00Z")
    created = {e["id"]: api.get(f"/v1/events/{e['id']}").json()["created_at"] for e in (feb, jan, mar)}
    assert created[feb["id"]] < created[jan["id"]] < created[mar["id"]]

    def window(**params: str) -> set[str]:
        response = api.get("/v1/events", params={"program_id": pid, **params})
        assert response.status_code == 200, response.text
        return set(ids(response.json()["data"]))

    # from/to bound created_at, inclusively.
    assert window(**{"from": created[jan["id"]]}) == {jan["id"], mar["id"]}
    assert window(to=created[jan["id"]]) == {feb["id"], jan["id"]}
    assert window(**{"from": created[jan["id"]], "to": created[jan["id"]]}) == {jan["id"]}
    # event_from/event_to bound event_timestamp, inclusively.
    assert window(event_from="2025-02-01T00:00:00Z") == {feb["id"], mar["id"]}
    assert window(event_to="2025-02-01T00:00:00Z") == {feb["id"], jan["id"]}
    assert window(event_from="2025-01-15T00:00:00Z", event_to="2025-02-15T00:00:00Z") == {feb["id"]}
    assert window(event_from="2025-03-01T01:00:00+01:00") == {mar["id"]}
    # Both pairs together are an AND: created after feb, occurred before mid-February.
    assert window(**{"from": created[jan["id"]]}, event_to="2025-02-15T00:00:00Z") == {jan["id"]}
    assert window(event_from="2026-01-01T00:00:00Z") == set()
    assert_validation_error(api.get("/v1/events", params={"from": "yesterday"}))
    assert_validation_error(api.get("/v1/events", params={"event_to": "not a time"}))


def test_list_sorts_by_created_at_or_event_timestamp_in_either_direction(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    feb = send(api, pid, {}, timestamp="2025-02-01T00:00:00Z")
    jan = send(api, pid, {}, timestamp="2025-01-01T00:00:00Z")
    mar = send(api, pid, {}, timestamp="2025-03-01T00:00:00Z")
    base = f"program_id={pid}"
    assert ids(listed(api, base)) == [mar["id"], jan["id"], feb["id"]]
    assert ids(listed(api, f"{base}&sort_by=created_at&sort_dir=asc")) == [feb["id"], jan["id"], mar["id"]]
    assert ids(listed(api, f"{base}&sort_by=event_timestamp&sort_dir=asc")) == [jan["id"], feb["id"], mar["id"]]
    assert ids(listed(api, f"{base}&sort_by=event_timestamp&sort_dir=desc")) == [mar["id"], feb["id"], jan["id"]]
    assert ids(listed(api, f"{base}&sort_by=event_timestamp")) == [mar["id"], feb["id"], jan["id"]]
    assert_validation_error(api.get(f"/v1/events?{base}&sort_by=amount"))
    assert_validation_error(api.get(f"/v1/events?{base}&sort_dir=up"))


def test_list_sorts_by_status(api: Api, stack: LocalStack, fast_retries: None) -> None:
    program = api.create_program()
    pid = program["id"]
    points = api.create_asset(pid, symbol="PTS", scale=0)
    debit_rule(api, pid, points["id"])
    member = participant_id(api, "cust_status")
    done = send(api, pid, {"type": "noop"})
    failed = failing_event(api, stack, pid, member)
    waiting = send(api, pid, {"type": "noop"})
    base = f"program_id={pid}&sort_by=status"
    ascending = listed(api, f"{base}&sort_dir=asc")
    assert [(e["id"], e["status"]) for e in ascending] == [
        (done["id"], "COMPLETED"),
        (failed["id"], "FAILED"),
        (waiting["id"], "PENDING"),
    ]
    assert ids(listed(api, f"{base}&sort_dir=desc")) == [waiting["id"], failed["id"], done["id"]]


def test_list_by_status_pages_across_the_statuses(api: Api, stack: LocalStack, fast_retries: None) -> None:
    """COMPLETED pages come from the creation index, FAILED and PENDING from the status index:
    a cursor crosses from one to the next without a gap, a repeat or an empty last page."""
    program = api.create_program()
    pid = program["id"]
    points = api.create_asset(pid, symbol="PTS", scale=0)
    debit_rule(api, pid, points["id"])
    member = participant_id(api, "cust_status_pages")
    done = [send(api, pid, {"type": "noop", "n": i}) for i in range(3)]
    failed = [failing_event(api, stack, pid, member) for _ in range(2)]
    waiting = [send(api, pid, {"type": "noop", "n": 10 + i}) for i in range(2)]
    ascending = [e["id"] for e in done] + [e["id"] for e in failed] + [e["id"] for e in waiting]
    for direction, expected in (("asc", ascending), ("desc", _reversed_within_status(ascending, done, failed))):
        for limit in (1, 2, 3, 7):
            walked: list[str] = []
            cursor = None
            while True:
                query = f"program_id={pid}&sort_by=status&sort_dir={direction}&limit={limit}"
                response = api.get(f"/v1/events?{query}" + (f"&cursor={cursor}" if cursor else ""))
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["data"], (direction, limit, walked)
                walked += ids(body["data"])
                if not body["pagination"]["has_more"]:
                    break
                cursor = body["pagination"]["next_cursor"]
            assert walked == expected, (direction, limit)
    only_failed = listed(api, f"program_id={pid}&sort_by=status&status=FAILED&sort_dir=asc")
    assert ids(only_failed) == [e["id"] for e in failed]
    assert ids(listed(api, f"program_id={pid}&status=PENDING&sort_dir=asc")) == [e["id"] for e in waiting]
    assert ids(listed(api, f"program_id={pid}&status=COMPLETED&sort_dir=asc")) == [e["id"] for e in done]


def _reversed_within_status(ascending: list[str], done: list[Any], failed: list[Any]) -> list[str]:
    """The descending status order: PENDING, FAILED, COMPLETED, each newest first."""
    completed, rest = ascending[: len(done)], ascending[len(done) :]
    failing, pending = rest[: len(failed)], rest[len(failed) :]
    return pending[::-1] + failing[::-1] + completed[::-1]


def test_list_pages_with_a_cursor_without_duplicates_or_gaps(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    sent = [send(api, pid, {"n": i}, timestamp=f"2025-01-{10 + (i * 7) % 11:02d}T00:00:00Z")["id"] for i in range(7)]
    for order in ("", "&sort_by=event_timestamp&sort_dir=asc", "&sort_by=created_at&sort_dir=asc"):
        everything = ids(listed(api, f"program_id={pid}{order}"))
        assert sorted(everything) == sorted(sent)
        pages: list[list[str]] = []
        cursor = None
        while True:
            query = f"program_id={pid}&limit=3{order}" + (f"&cursor={cursor}" if cursor else "")
            response = api.get(f"/v1/events?{query}")
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(ids(body["data"]))
            if not body["pagination"]["has_more"]:
                assert body["pagination"].get("next_cursor") is None
                break
            cursor = body["pagination"]["next_cursor"]
            assert cursor
            assert len(pages) < 5
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [i for page in pages for i in page] == everything


def test_list_limit_bounds(api: Api) -> None:
    program = api.create_program()
    for _ in range(3):
        send(api, program["id"], {})
    assert_validation_error(api.get("/v1/events?limit=0"))
    assert_validation_error(api.get("/v1/events?limit=201"))
    assert_validation_error(api.get("/v1/events?limit=-1"))
    assert_validation_error(api.get("/v1/events?limit=many"))
    assert len(listed(api, "limit=1")) == 1
    assert len(listed(api, "limit=200")) == 3
    one = api.get("/v1/events?limit=1").json()
    assert one["pagination"]["has_more"] is True and one["pagination"]["next_cursor"]


def test_list_refuses_a_cursor_from_another_filter_set(api: Api) -> None:
    program = api.create_program()
    pid = program["id"]
    for _ in range(3):
        send(api, pid, {})
    cursor = api.get(f"/v1/events?program_id={pid}&limit=1").json()["pagination"]["next_cursor"]
    assert cursor
    assert api.get(f"/v1/events?program_id={pid}&limit=1&cursor={cursor}").status_code == 200
    for query in (
        f"program_id={pid}&status=PENDING",
        f"program_id={pid}&sort_dir=asc",
        f"program_id={pid}&sort_by=event_timestamp",
        "",
    ):
        response = api.get(f"/v1/events?{query}&limit=1&cursor={cursor}")
        assert_validation_error(response)
    assert_validation_error(api.get("/v1/events?limit=1&cursor=garbage!"))
    member = participant_id(api, "cust_cursor")
    assert_validation_error(api.get(f"/v1/participants/{member}/activity/events?limit=1&cursor={cursor}"))


def test_list_refuses_malformed_filters(api: Api) -> None:
    program = api.create_program()
    send(api, program["id"], {})
    for query in ("status=DONE", "event_type=INTERNAL", "program_id=nope", "participant_id=nope", "rule_id=nope"):
        assert_validation_error(api.get(f"/v1/events?{query}"))
    for status in ("RECEIVED", "PROCESSING"):
        assert listed(api, f"status={status}") == []
    assert len(listed(api, "status=PENDING")) == 1


def test_list_event_type_system_holds_the_scheduled_follow_ups(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = api.create_program()
    rule(
        api,
        program["id"],
        "event.type == 'signup'",
        [{"type": "SCHEDULE_EVENT", "event_name": "welcome", "delay": "1s"}],
    )
    source = send(api, program["id"], {"type": "signup"})
    stack.drain()
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", "120")
    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    (follow_up,) = listed(api, "event_type=SYSTEM")
    assert follow_up["event_type"] == "SYSTEM" and follow_up["event_data"]["type"] == "welcome"
    assert follow_up["id"] != source["id"]
    assert ids(listed(api, "event_type=EXTERNAL")) == [source["id"]]
    assert len(listed(api, f"program_id={program['id']}")) == 2


# ------------------------------------------------------------------ POST /v1/events/{id}/retry


def test_retry_is_409_unless_the_event_failed(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    accepted = send(api, program["id"], {"type": "x"})
    pending = api.post(f"/v1/events/{accepted['id']}/retry")
    assert pending.status_code == 409, pending.text
    assert pending.json()["code"] == "conflict"
    assert processed(api, stack, accepted["id"])["status"] == "COMPLETED"
    completed = api.post(f"/v1/events/{accepted['id']}/retry")
    assert completed.status_code == 409 and completed.json()["code"] == "conflict"
    assert api.get(f"/v1/events/{accepted['id']}").json()["status"] == "COMPLETED"
    unknown = api.post(f"/v1/events/{uuid.uuid4()}/retry")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_retry_requeues_a_failed_event_which_then_completes(api: Api, stack: LocalStack, fast_retries: None) -> None:
    program = api.create_program()
    pid = program["id"]
    points = api.create_asset(pid, symbol="PTS", scale=0)
    spend = debit_rule(api, pid, points["id"])
    member = participant_id(api, "cust_retry")

    failed = failing_event(api, stack, pid, member)
    assert failed["error_message"] and "DEBIT" in failed["error_message"]
    assert failed["retry_count"] == 5 and failed["processed_at"]
    assert api.get(f"/v1/journal-entries?event_id={failed['id']}").json()["data"] == []
    assert ids(listed(api, "status=FAILED")) == [failed["id"]]

    credit = api.post(
        f"/v1/participants/{member}/balances/adjust",
        json={"program_id": pid, "asset_id": points["id"], "type": "CREDIT", "amount": "80", "description": "top"},
    )
    assert credit.status_code == 200, credit.text

    retried = api.post(f"/v1/events/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json() == {
        "event_id": failed["id"],
        "message": "Event queued for retry",
        "previous_error": failed["error_message"],
        "previous_status": "FAILED",
        "status": "PENDING",
    }
    queued = api.get(f"/v1/events/{failed['id']}").json()
    assert queued["status"] == "PENDING" and queued["retry_count"] == 0 and queued["processed_at"] is None
    again = api.post(f"/v1/events/{failed['id']}/retry")
    assert again.status_code == 409 and again.json()["code"] == "conflict"

    done = processed(api, stack, failed["id"])
    assert done["status"] == "COMPLETED", done
    assert done["error_message"] is None
    assert [(e["rule_id"], e["status"]) for e in done["rule_evaluations"]] == [(spend["id"], "SUCCESS")]
    assert balance(api, member, points["id"])["available"] == "30"
    entries = api.get(f"/v1/journal-entries?event_id={failed['id']}").json()["data"]
    assert [e["action_type"] for e in entries] == ["DEBIT"]
    assert listed(api, "status=FAILED") == []
    assert ids(listed(api, "status=COMPLETED")) == [failed["id"]]
    assert api.post(f"/v1/events/{failed['id']}/retry").status_code == 409


# ------------------------------------------------------------------ GET /v1/events/{id}/impact


def test_impact_lists_entries_net_balances_and_state_changes(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    pid = program["id"]
    points = api.create_asset(pid, symbol="PTS", scale=0)
    cash = api.create_asset(pid, symbol="USD", scale=2, name="Cash")
    earn = rule(
        api,
        pid,
        "event.type == 'purchase'",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "100"},
            {"type": "CREDIT", "asset_id": cash["id"], "amount": "event.amount"},
            {"type": "COUNTER", "key": "orders", "value": "1"},
            {"type": "TAG", "tag": "buyer"},
        ],
        name="earn",
    )
    spend = rule(api, pid, "event.type == 'purchase'", [{"type": "DEBIT", "asset_id": points["id"], "amount": "100"}])
    accepted = send(api, pid, {"type": "purchase", "amount": 12.5})
    processed(api, stack, accepted["id"])
    member = participant_id(api, "cust_1")

    response = api.get(f"/v1/events/{accepted['id']}/impact")
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["id"] == accepted["id"] and impact["status"] == "COMPLETED"
    assert [e["rule_id"] for e in impact["rule_evaluations"]] == [earn["id"], spend["id"]]

    entries = impact["journal_entries"]
    assert sorted((e["action_type"], e["rule_id"]) for e in entries) == sorted(
        [("CREDIT", earn["id"]), ("CREDIT", earn["id"]), ("DEBIT", spend["id"])]
    )
    for entry in entries:
        assert entry["event_id"] == accepted["id"] and entry["program_id"] == pid
        assert entry["program_name"] == "Coffee Club" and len(entry["entry_hash"]) == 64
        assert len(entry["postings"]) == 2
        assert sum(float(p["amount"]) for p in entry["postings"]) == 0
    cash_postings = sorted(
        (p["entity_type"], p["participant_id"], p["bucket"], p["amount"])
        for e in entries
        for p in e["postings"]
        if p["asset_symbol"] == "USD"
    )
    assert cash_postings == [("PARTICIPANT", member, "AVAILABLE", "12.50"), ("SYSTEM", None, "AVAILABLE", "-12.50")]

    # Points were credited and debited in full: net zero, so no PTS row at all.
    assert sorted(
        (b["entity_type"], b["entity_id"], b["asset_symbol"], b["bucket"], b["amount"])
        for b in impact["balance_impact"]
    ) == [
        ("PARTICIPANT", member, "USD", "AVAILABLE", "12.50"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "USD", "AVAILABLE", "-12.50"),
    ]

    changes = {(c["state_type"], c["key"]): c for c in impact["state_changes"]}
    assert set(changes) == {("counter", "orders"), ("tag", "buyer")}
    for change in changes.values():
        assert change["rule_id"] == earn["id"]
        assert change["entity_type"] == "PARTICIPANT" and change["entity_id"] == member
    assert changes[("counter", "orders")]["new_value"] == "1"
    assert changes[("tag", "buyer")]["new_value"] == "buyer"


def test_impact_of_a_pending_event_has_empty_arrays(api: Api) -> None:
    program = api.create_program()
    rule(api, program["id"], "true", [{"type": "TAG", "tag": "t"}])
    accepted = send(api, program["id"], {"type": "x"})
    response = api.get(f"/v1/events/{accepted['id']}/impact")
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["id"] == accepted["id"] and impact["status"] == "PENDING"
    for name in ("rule_evaluations", "journal_entries", "state_changes", "balance_impact"):
        assert impact[name] == [], name
    missing = api.get(f"/v1/events/{uuid.uuid4()}/impact")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


# ------------------------------------------------------------------ GET /v1/participants/{id}/activity/events


def test_a_participants_events_newest_first_with_a_status_filter(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    pid = program["id"]
    alice, bob = participant_id(api, "cust_alice"), participant_id(api, "cust_bob")
    first = send(api, pid, {"n": 1}, external_id="cust_alice")
    send(api, pid, {"n": 2}, external_id="cust_bob")
    second = send(api, pid, {"n": 3}, external_id=None, participant_id=alice)
    stack.drain()
    third = send(api, pid, {"n": 4}, external_id=None, participant_id=alice)
    by_external_id = send(api, pid, {"n": 5}, external_id="cust_alice")

    def activity(query: str = "") -> list[dict[str, Any]]:
        response = api.get(f"/v1/participants/{alice}/activity/events?{query}")
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    # The last event names only external_id: it joins alice's list when processed.
    assert ids(activity()) == [third["id"], second["id"], first["id"]]
    assert ids(activity("status=PENDING")) == [third["id"]]
    assert ids(activity("status=COMPLETED")) == [second["id"], first["id"]]
    assert activity("status=FAILED") == []
    assert ids(activity(f"program_id={pid}&limit=2")) == [third["id"], second["id"]]
    stack.drain()
    assert ids(activity()) == [by_external_id["id"], third["id"], second["id"], first["id"]]
    assert activity("status=PENDING") == []
    assert len(api.get(f"/v1/participants/{bob}/activity/events").json()["data"]) == 1

    missing = api.get(f"/v1/participants/{uuid.uuid4()}/activity/events")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert_validation_error(api.get(f"/v1/participants/{alice}/activity/events?limit=201"))
    assert_validation_error(api.get(f"/v1/participants/{alice}/activity/events?status=DONE"))


def test_a_participants_events_filter_by_program_and_time_windows(api: Api) -> None:
    one, two = api.create_program(), api.create_program(name="Tea Club")
    alice = participant_id(api, "cust_windows")

    def sent(program_id: str, timestamp: str) -> str:
        return send(api, program_id, {}, external_id=None, participant_id=alice, timestamp=timestamp)["id"]

    jan = sent(one["id"], "2025-01-01T00:00:00Z")
    feb = sent(two["id"], "2025-02-01T00:00:00Z")
    mar = sent(one["id"], "2025-03-01T00:00:00Z")
    created = api.get(f"/v1/events/{feb}").json()["created_at"]

    def activity(**params: str) -> list[str]:
        response = api.get(f"/v1/participants/{alice}/activity/events", params=params)
        assert response.status_code == 200, response.text
        return ids(response.json()["data"])

    assert activity(program_id=one["id"]) == [mar, jan]
    assert activity(program_id=two["id"]) == [feb]
    assert activity(event_from="2025-01-15T00:00:00Z") == [mar, feb]
    assert activity(event_to="2025-02-01T00:00:00Z") == [feb, jan]
    assert activity(**{"from": created}) == [mar, feb]
    assert activity(to=created) == [feb, jan]
    assert activity(program_id=one["id"], event_to="2025-02-01T00:00:00Z") == [jan]


def test_a_participants_events_page_and_stay_in_the_organization(api: Api, other_api: Api) -> None:
    program = api.create_program()
    alice = participant_id(api, "cust_pager")
    sent = [send(api, program["id"], {"n": i}, external_id=None, participant_id=alice)["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(f"/v1/participants/{alice}/activity/events?{query}").json()
        seen += ids(body["data"])
        cursor = body["pagination"]["next_cursor"]
        if not body["pagination"]["has_more"]:
            break
    assert seen == list(reversed(sent))
    assert other_api.get(f"/v1/participants/{alice}/activity/events").status_code == 404


def _by_key(api: Api, program_id: str, key: str, **query: Any) -> Any:
    return api.get("/v1/events/by-key", params={"program_id": program_id, "idempotency_key": key, **query})


def test_by_key_answers_the_event_of_a_programs_key(api: Api, stack: LocalStack) -> None:
    program, other_program = api.create_program(), api.create_program()
    rule(api, program["id"], "event.type == 'purchase'", [{"type": "TAG", "tag": "seen"}], name="matches")
    broken = rule(api, program["id"], "int(event.code) > 1", [{"type": "TAG", "tag": "x"}], name="errors")
    key = "order 9001/paid?&#%"  # any characters: the key travels url-encoded
    accepted = send(api, program["id"], {"type": "purchase", "code": "abc"}, key=key)
    elsewhere = send(api, other_program["id"], {"type": "purchase"}, key=key)
    processed(api, stack, accepted["id"])

    # the literal route wins over /v1/events/{id}, and renders exactly what the id route renders
    for query in ({}, {"include_skipped": "true"}):
        found = _by_key(api, program["id"], key, **query)
        assert found.status_code == 200, found.text
        assert found.json() == api.get(f"/v1/events/{accepted['id']}", params=query).json()
    hidden = _by_key(api, program["id"], key).json()["rule_evaluations"]
    shown = _by_key(api, program["id"], key, include_skipped="true").json()["rule_evaluations"]
    assert broken["id"] not in [e["rule_id"] for e in hidden]
    assert broken["id"] in [e["rule_id"] for e in shown]
    # keys are scoped to their program
    assert _by_key(api, other_program["id"], key).json()["id"] == elsewhere["id"] != accepted["id"]


def test_by_key_is_404_for_an_unused_key_or_another_organizations_event(api: Api, other_api: Api) -> None:
    program = api.create_program()
    send(api, program["id"], {}, key="mine")
    for response in (
        _by_key(api, program["id"], "never-sent"),
        _by_key(api, program["id"], "MINE"),  # compared exactly
        _by_key(api, str(uuid.uuid4()), "mine"),
        _by_key(other_api, program["id"], "mine"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "idempotency_key=k",
        "program_id=not-a-uuid&idempotency_key=k",
        # Fixed ids: pytest-xdist's workers must collect the same parameters.
        "program_id=4f1c2a9e-0b7d-4c3e-9a51-6d2f8e0b1a37",
        "program_id=4f1c2a9e-0b7d-4c3e-9a51-6d2f8e0b1a37&idempotency_key=",
        f"program_id=4f1c2a9e-0b7d-4c3e-9a51-6d2f8e0b1a37&idempotency_key={'k' * 256}",
        "program_id=4f1c2a9e-0b7d-4c3e-9a51-6d2f8e0b1a37&idempotency_key=k&include_skipped=maybe",
    ],
)
def test_by_key_refuses_bad_parameters(api: Api, query: str) -> None:
    assert_validation_error(api.get(f"/v1/events/by-key?{query}"))
