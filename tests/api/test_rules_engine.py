"""The rules engine through HTTP (03 §1.5-1.7, §2, §3.5-3.6, §4): which rules run, in what order,
against what state, and what one event commits — all of it or nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, participant_id, processed, rule, send
from tests.conftest import Api

RETRY_BASE = "SCRIP_EVENT_RETRY_BASE_SECONDS"


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRY_BASE, "0")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_member(api: Api, **state: Any) -> tuple[str, str]:
    """A participant (external id, id) with the given tags, counters and attributes."""
    external = f"m-{uuid.uuid4().hex[:10]}"
    created = api.post("/v1/participants", json={"external_id": external})
    assert created.status_code == 201, created.text
    member = str(created.json()["id"])
    base = f"/v1/participants/{member}/state"
    if state.get("tags"):
        assert api.put(f"{base}/tags", json={"tags": state["tags"]}).status_code == 200
    for key, value in (state.get("counters") or {}).items():
        assert api.put(f"{base}/counters/{key}", json={"value": value}).status_code in (200, 201)
    if state.get("attributes"):
        assert api.patch(f"{base}/attributes", json={"attributes": state["attributes"]}).status_code == 200
    return external, member


def _detail(api: Api, member: str) -> dict[str, Any]:
    response = api.get(f"/v1/participants/{member}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _by_rule(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["rule_id"]: e for e in event["rule_evaluations"]}


def _entries(api: Api, event_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/journal-entries?event_id={event_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _history_ids(api: Api, rule_id: str) -> list[str]:
    response = api.get(f"/v1/rules/{rule_id}/history")
    assert response.status_code == 200, response.text
    return [h["id"] for h in response.json()["data"]]  # newest first


def _tag(name: str) -> list[dict[str, Any]]:
    return [{"type": "TAG", "tag": name}]


# ------------------------------------------------------------------ order


def test_rules_run_in_ascending_order_whatever_the_creation_order(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    # Created first but ordered last: the DEBIT can only succeed after the CREDIT has run.
    spend = rule(
        api,
        program["id"],
        "true",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "30"}],
        name="spend",
        order=30,
    )
    earn = rule(
        api,
        program["id"],
        "true",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "50"}],
        name="earn",
        order=10,
    )
    tag = rule(api, program["id"], "true", _tag("seen"), name="tag", order=20)

    event = processed(api, stack, send(api, program["id"], {"type": "purchase"}, external_id="ord-1")["id"])

    assert event["status"] == "COMPLETED", event
    assert [e["rule_id"] for e in event["rule_evaluations"]] == [earn["id"], tag["id"], spend["id"]]
    assert [e["rule_name"] for e in event["rule_evaluations"]] == ["earn", "tag", "spend"]
    assert {e["status"] for e in event["rule_evaluations"]} == {"SUCCESS"}
    for evaluation, created in zip(event["rule_evaluations"], [earn, tag, spend], strict=True):
        assert evaluation["rule_history_id"] == _history_ids(api, created["id"])[0]
        assert evaluation["reason"] is None and evaluation["stopped_by_rule_id"] is None
    member = participant_id(api, "ord-1")
    assert balance(api, member, points["id"])["available"] == "20"
    assert sorted(e["rule_id"] for e in _entries(api, event["id"])) == sorted([earn["id"], spend["id"]])


def test_moving_a_rule_changes_the_evaluation_order(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    spend = rule(
        api, program["id"], "true", [{"type": "DEBIT", "asset_id": points["id"], "amount": "5"}], name="spend", order=10
    )
    earn = rule(
        api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}], name="earn", order=20
    )
    assert api.patch(f"/v1/rules/{earn['id']}", json={"order": 5}).status_code == 200

    event = processed(api, stack, send(api, program["id"], {}, external_id="ord-2")["id"])

    assert event["status"] == "COMPLETED", event
    assert [e["rule_id"] for e in event["rule_evaluations"]] == [earn["id"], spend["id"]]
    assert event["rule_evaluations"][0]["rule_history_id"] == _history_ids(api, earn["id"])[0]
    assert balance(api, participant_id(api, "ord-2"), points["id"])["available"] == "0"


# ------------------------------------------------------- stop_after_match


def test_dining_rule_stops_the_base_rule(api: Api, stack: LocalStack) -> None:
    """03 §7.3: the dining rule (order 100, stop_after_match) hides the base rule (order 1000)."""
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", inventory_mode="LOT")
    dining = rule(
        api,
        program["id"],
        "event.type == 'purchase' && event.mcc in ['5812','5813']",
        [
            {
                "type": "CREDIT",
                "asset_id": points["id"],
                "amount": "round(event.amount * 4.0, 0)",
                "expires_at": "8760h",
                "description": "Dining bonus",
            },
            {"type": "COUNTER", "key": "dining_visits", "value": "1"},
        ],
        name="Dining 4x",
        order=100,
        stop_after_match=True,
        budgets=[
            {"asset_id": points["id"], "limit": "500000", "schedule_type": "CRON", "cron_expression": "0 0 1 * *"}
        ],
    )
    base = rule(
        api,
        program["id"],
        "event.type == 'purchase'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "round(event.amount, 0)"}],
        name="Base earn",
        order=1000,
    )

    event = processed(api, stack, send(api, program["id"], {"type": "purchase", "amount": 25, "mcc": "5812"})["id"])

    assert event["status"] == "COMPLETED", event
    first, second = event["rule_evaluations"]
    assert (first["rule_id"], first["status"], first["reason"]) == (dining["id"], "SUCCESS", None)
    assert second["rule_id"] == base["id"] and second["rule_name"] == "Base earn"
    assert (second["status"], second["reason"], second["stopped_by_rule_id"]) == (
        "SKIPPED",
        "STOPPED_BY_PRIOR_RULE",
        dining["id"],
    )
    assert second["rule_history_id"] == _history_ids(api, base["id"])[0]
    member = participant_id(api, "cust_1")
    assert balance(api, member, points["id"])["available"] == "100"
    assert _detail(api, member)["counters"] == {"dining_visits": "1"}
    assert [e["rule_id"] for e in _entries(api, event["id"])] == [dining["id"]]
    assert api.get(f"/v1/rules/{dining['id']}").json()["budgets"][0]["consumed"] == "100"

    # The stopped evaluation is returned without include_skipped (only SKIPPED_ERROR/TIMEOUT are hidden).
    plain = api.get(f"/v1/events/{event['id']}").json()
    assert [e["status"] for e in plain["rule_evaluations"]] == ["SUCCESS", "SKIPPED"]

    grocery = processed(api, stack, send(api, program["id"], {"type": "purchase", "amount": 25, "mcc": "5411"})["id"])
    assert grocery["status"] == "COMPLETED", grocery
    assert [(e["rule_id"], e["status"], e["reason"]) for e in grocery["rule_evaluations"]] == [
        (dining["id"], "NOT_MATCHED", "CONDITION_FALSE"),
        (base["id"], "SUCCESS", None),
    ]
    assert grocery["rule_evaluations"][1]["stopped_by_rule_id"] is None
    assert balance(api, member, points["id"])["available"] == "125"
    assert _detail(api, member)["counters"] == {"dining_visits": "1"}


def test_stop_after_match_spares_earlier_rules_and_only_stops_when_it_matches(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    early = rule(api, program["id"], "true", _tag("early"), name="early", order=5)
    stopper = rule(api, program["id"], "event.stop == true", _tag("stopper"), order=10, stop_after_match=True)
    late = rule(api, program["id"], "true", _tag("late"), name="late", order=20)
    later = rule(api, program["id"], "true", _tag("later"), name="later", order=30)

    stopped = processed(api, stack, send(api, program["id"], {"stop": True}, external_id="stop-a")["id"])
    flowing = processed(api, stack, send(api, program["id"], {"stop": False}, external_id="stop-b")["id"])

    assert [(e["status"], e["stopped_by_rule_id"]) for e in stopped["rule_evaluations"]] == [
        ("SUCCESS", None),
        ("SUCCESS", None),
        ("SKIPPED", stopper["id"]),
        ("SKIPPED", stopper["id"]),
    ]
    assert [e["rule_id"] for e in stopped["rule_evaluations"]] == [early["id"], stopper["id"], late["id"], later["id"]]
    assert sorted(_detail(api, participant_id(api, "stop-a"))["tags"]) == ["early", "stopper"]
    assert [e["status"] for e in flowing["rule_evaluations"]] == ["SUCCESS", "NOT_MATCHED", "SUCCESS", "SUCCESS"]
    assert sorted(_detail(api, participant_id(api, "stop-b"))["tags"]) == ["early", "late", "later"]


# ---------------------------------------------------------- activity window


def test_activity_window_is_checked_against_the_wall_clock(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = api.create_program()
    now = datetime.now(UTC)
    future = rule(api, program["id"], "true", _tag("future"), name="future", active_from=_iso(now + timedelta(days=2)))
    past = rule(api, program["id"], "true", _tag("past"), name="past", active_to=_iso(now - timedelta(days=2)))
    current = rule(
        api,
        program["id"],
        "true",
        _tag("current"),
        name="current",
        active_from=_iso(now - timedelta(days=1)),
        active_to=_iso(now + timedelta(days=1)),
    )

    # The event claims to happen inside the future rule's window: that does not count.
    inside_future = _iso(now + timedelta(days=3))
    event = processed(api, stack, send(api, program["id"], {}, external_id="win", timestamp=inside_future)["id"])

    assert event["status"] == "COMPLETED", event
    verdicts = {e["rule_id"]: (e["status"], e["reason"]) for e in event["rule_evaluations"]}
    assert verdicts == {
        future["id"]: ("SKIPPED", "OUTSIDE_TIME_WINDOW"),
        past["id"]: ("SKIPPED", "OUTSIDE_TIME_WINDOW"),
        current["id"]: ("SUCCESS", None),
    }
    # Always returned, include_skipped or not.
    plain = api.get(f"/v1/events/{event['id']}").json()
    assert len(plain["rule_evaluations"]) == 3
    member = participant_id(api, "win")
    assert _detail(api, member)["tags"] == ["current"]

    # A historical event inside the past rule's window does not fire it either.
    old = processed(
        api, stack, send(api, program["id"], {}, external_id="win", timestamp=_iso(now - timedelta(days=5)))["id"]
    )
    assert _by_rule(old)[past["id"]]["reason"] == "OUTSIDE_TIME_WINDOW"

    # Move the wall clock into the future rule's window: now it runs, for an event stamped in 2025.
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(int(timedelta(days=2, hours=1).total_seconds())))
    moved = processed(
        api, stack, send(api, program["id"], {}, external_id="win", timestamp="2025-01-01T00:00:00Z")["id"]
    )
    verdicts = {e["rule_id"]: (e["status"], e["reason"]) for e in moved["rule_evaluations"]}
    assert verdicts == {
        future["id"]: ("SUCCESS", None),
        past["id"]: ("SKIPPED", "OUTSIDE_TIME_WINDOW"),
        current["id"]: ("SKIPPED", "OUTSIDE_TIME_WINDOW"),
    }
    assert sorted(_detail(api, member)["tags"]) == ["current", "future"]


def test_clearing_a_window_lets_the_rule_run(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    later = _iso(datetime.now(UTC) + timedelta(days=1))
    promo = rule(api, program["id"], "true", _tag("promo"), active_from=later)
    first = processed(api, stack, send(api, program["id"], {}, external_id="clr")["id"])
    assert _by_rule(first)[promo["id"]]["reason"] == "OUTSIDE_TIME_WINDOW"
    assert api.patch(f"/v1/rules/{promo['id']}", json={"active_from": None}).status_code == 200
    second = processed(api, stack, send(api, program["id"], {}, external_id="clr")["id"])
    assert _by_rule(second)[promo["id"]]["status"] == "SUCCESS"
    assert _by_rule(second)[promo["id"]]["rule_history_id"] == _history_ids(api, promo["id"])[0]


# ------------------------------------------------------------ candidates


def test_suspended_and_archived_rules_are_not_evaluated(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    credit = [{"type": "CREDIT", "asset_id": points["id"], "amount": "1"}]
    active = rule(api, program["id"], "true", credit, name="active")
    created_suspended = rule(api, program["id"], "true", credit, name="born suspended", status="SUSPENDED")
    suspended = rule(api, program["id"], "true", credit, name="suspended later")
    archived = rule(api, program["id"], "true", credit, name="archived")
    assert api.patch(f"/v1/rules/{suspended['id']}", json={"status": "SUSPENDED"}).status_code == 200
    assert api.patch(f"/v1/rules/{archived['id']}", json={"status": "ARCHIVED"}).status_code == 200

    event = processed(api, stack, send(api, program["id"], {}, external_id="cand")["id"])

    assert event["status"] == "COMPLETED", event
    assert [e["rule_id"] for e in event["rule_evaluations"]] == [active["id"]]
    member = participant_id(api, "cand")
    assert balance(api, member, points["id"])["available"] == "1"

    assert api.patch(f"/v1/rules/{suspended['id']}", json={"status": "ACTIVE"}).status_code == 200
    again = processed(api, stack, send(api, program["id"], {}, external_id="cand")["id"])
    assert [e["rule_id"] for e in again["rule_evaluations"]] == [active["id"], suspended["id"]]
    assert again["rule_evaluations"][1]["rule_history_id"] == _history_ids(api, suspended["id"])[0]
    assert created_suspended["id"] not in _by_rule(again)
    assert balance(api, member, points["id"])["available"] == "3"


def test_rules_of_another_program_never_see_the_event(api: Api, stack: LocalStack) -> None:
    mine = api.create_program(name="Mine")
    theirs = api.create_program(name="Theirs")
    my_points = api.create_asset(mine["id"], symbol="MINE")
    their_points = api.create_asset(theirs["id"], symbol="THEIRS")
    my_rule = rule(api, mine["id"], "true", [{"type": "CREDIT", "asset_id": my_points["id"], "amount": "2"}])
    their_rule = rule(api, theirs["id"], "true", [{"type": "CREDIT", "asset_id": their_points["id"], "amount": "7"}])

    event = processed(api, stack, send(api, mine["id"], {"type": "purchase"}, external_id="prog")["id"])

    assert event["status"] == "COMPLETED", event
    assert [e["rule_id"] for e in event["rule_evaluations"]] == [my_rule["id"]]
    member = participant_id(api, "prog")
    assert balance(api, member, my_points["id"])["available"] == "2"
    assert balance(api, member, their_points["id"])["available"] == "0"
    assert _detail(api, member)["program_ids"] == [mine["id"]]
    listed = api.get(f"/v1/events?rule_id={their_rule['id']}").json()["data"]
    assert listed == []


# ------------------------------------------------------------ conditions


def test_missing_field_is_a_plain_non_match(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    flat = rule(
        api, program["id"], "event.amount > 10.0", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}]
    )
    nested = rule(api, program["id"], 'event.customer.tier == "gold"', _tag("gold"))
    present = rule(api, program["id"], 'event.type == "visit"', _tag("visited"))
    guarded = rule(api, program["id"], "has(event.amount) && event.amount > 10.0", _tag("guarded"))
    fallback = rule(api, program["id"], "!has(event.amount) || event.amount > 10.0", _tag("no_amount"))

    event = processed(api, stack, send(api, program["id"], {"type": "visit"}, external_id="miss")["id"])

    assert event["status"] == "COMPLETED", event
    assert event["error_message"] is None
    assert [(e["rule_id"], e["status"], e["reason"]) for e in event["rule_evaluations"]] == [
        (flat["id"], "NOT_MATCHED", "CONDITION_FALSE"),
        (nested["id"], "NOT_MATCHED", "CONDITION_FALSE"),
        (present["id"], "SUCCESS", None),
        (guarded["id"], "NOT_MATCHED", "CONDITION_FALSE"),
        (fallback["id"], "SUCCESS", None),
    ]
    # Non-matches are part of the record even without include_skipped.
    assert len(api.get(f"/v1/events/{event['id']}").json()["rule_evaluations"]) == 5
    member = participant_id(api, "miss")
    assert sorted(_detail(api, member)["tags"]) == ["no_amount", "visited"]
    assert balance(api, member, points["id"])["available"] == "0"


@pytest.mark.parametrize(
    "condition",
    [
        "event.name > 5.0",  # no such overload: string vs double
        "event.amount",  # not a bool
        "1 / 0 > 0",  # division by zero
        "int(event.code) > 1",  # not a number
        "event.items[0] == 1",  # index out of range
    ],
)
def test_runtime_error_is_skipped_error_and_hidden_by_default(api: Api, stack: LocalStack, condition: str) -> None:
    program = api.create_program()
    broken = rule(api, program["id"], condition, _tag("broken"), name="broken", order=10)
    after = rule(api, program["id"], "true", _tag("after"), name="after", order=20)

    accepted = send(api, program["id"], {"name": "bob", "amount": 30, "code": "abc", "items": []}, external_id="err")
    event = processed(api, stack, accepted["id"])

    assert event["status"] == "COMPLETED", event
    assert event["error_message"] is None
    skipped, ran = event["rule_evaluations"]
    assert (skipped["rule_id"], skipped["status"]) == (broken["id"], "SKIPPED_ERROR")
    assert skipped["error_message"].startswith("condition evaluation failed")
    assert skipped["rule_history_id"] == _history_ids(api, broken["id"])[0]
    assert (ran["rule_id"], ran["status"]) == (after["id"], "SUCCESS")
    for query in ("", "?include_skipped=false"):
        hidden = api.get(f"/v1/events/{event['id']}{query}").json()
        assert [e["rule_id"] for e in hidden["rule_evaluations"]] == [after["id"]]
    assert _detail(api, participant_id(api, "err"))["tags"] == ["after"]


def test_cel_now_is_the_event_timestamp(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    recent = rule(api, program["id"], 'now > timestamp("2025-01-01T00:00:00Z")', _tag("recent"))
    late = send(api, program["id"], {}, external_id="now-a", timestamp="2025-03-02T18:04:00Z")
    early = send(api, program["id"], {}, external_id="now-b", timestamp="2024-06-01T12:00:00Z")
    assert _by_rule(processed(api, stack, late["id"]))[recent["id"]]["status"] == "SUCCESS"
    verdict = _by_rule(api.get(f"/v1/events/{early['id']}").json())[recent["id"]]
    assert (verdict["status"], verdict["reason"]) == ("NOT_MATCHED", "CONDITION_FALSE")
    assert _detail(api, participant_id(api, "now-a"))["tags"] == ["recent"]
    assert _detail(api, participant_id(api, "now-b"))["tags"] == []
    # Not the wall clock either: an event stamped after 2030 fails a "before 2030" condition.
    future = rule(api, program["id"], 'now < timestamp("2030-01-01T00:00:00Z")', _tag("before_2030"))
    ahead = processed(
        api, stack, send(api, program["id"], {}, external_id="now-c", timestamp="2031-05-05T00:00:00Z")["id"]
    )
    assert _by_rule(ahead)[future["id"]]["status"] == "NOT_MATCHED"
    assert _by_rule(ahead)[recent["id"]]["status"] == "SUCCESS"


# ----------------------------------------------------------- state snapshot


def test_conditions_see_the_pre_event_state(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    count = rule(
        api,
        program["id"],
        "true",
        [{"type": "COUNTER", "key": "visits", "value": "1"}, {"type": "TAG", "tag": "visited"}],
        name="count",
        order=10,
    )
    repeat = rule(
        api,
        program["id"],
        'get(participant.counters, "visits", 0.0) >= 1.0 || "visited" in participant.tags',
        _tag("repeat"),
        name="repeat",
        order=20,
    )

    first = processed(api, stack, send(api, program["id"], {}, external_id="snap")["id"])
    assert [(e["rule_id"], e["status"]) for e in first["rule_evaluations"]] == [
        (count["id"], "SUCCESS"),
        (repeat["id"], "NOT_MATCHED"),
    ]
    member = participant_id(api, "snap")
    detail = _detail(api, member)
    assert detail["counters"] == {"visits": "1"} and detail["tags"] == ["visited"]

    second = processed(api, stack, send(api, program["id"], {}, external_id="snap")["id"])
    assert [e["status"] for e in second["rule_evaluations"]] == ["SUCCESS", "SUCCESS"]
    detail = _detail(api, member)
    assert detail["counters"] == {"visits": "2"} and sorted(detail["tags"]) == ["repeat", "visited"]


def test_counter_increments_of_one_event_accumulate(api: Api, stack: LocalStack) -> None:
    """03 §5.4.8's example, plus a second rule adding to the same key in the same event."""
    program = api.create_program()
    external, member = _new_member(api, counters={"purchase_count": "7", "lifetime_spend": "340.00"})
    rule(
        api,
        program["id"],
        'event.type == "purchase"',
        [
            {"type": "COUNTER", "key": "purchase_count", "value": "1"},
            {"type": "COUNTER", "key": "lifetime_spend", "value": "event.amount"},
        ],
        order=10,
    )
    rule(
        api,
        program["id"],
        'event.type == "purchase"',
        [{"type": "COUNTER", "key": "purchase_count", "value": "1"}, {"type": "COUNTER", "key": "bonus", "value": "2"}],
        order=20,
    )

    event = processed(
        api, stack, send(api, program["id"], {"type": "purchase", "amount": 49.99}, external_id=external)["id"]
    )

    assert event["status"] == "COMPLETED", event
    assert _detail(api, member)["counters"] == {"purchase_count": "9", "lifetime_spend": "389.99", "bonus": "2"}


# --------------------------------------------------------------- atomicity


def test_a_failing_action_rolls_back_every_rule_of_the_event(api: Api, stack: LocalStack, fast_retries: None) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    external, member = _new_member(api, tags=["existing"], counters={"orders": "3"})
    generous = rule(
        api,
        program["id"],
        "true",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "100"},
            {"type": "TAG", "tag": "credited"},
            {"type": "UNTAG", "tag": "existing"},
            {"type": "COUNTER", "key": "orders", "value": "1"},
            {"type": "SET_ATTRIBUTE", "key": "last", "value": "purchase"},
        ],
        name="generous",
        order=10,
    )
    greedy = rule(
        api,
        program["id"],
        "true",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "1000"}],
        name="greedy",
        order=20,
    )
    history_before = api.get(f"/v1/participants/{member}/activity/state-history").json()["data"]
    detail_before = _detail(api, member)

    event = processed(api, stack, send(api, program["id"], {"type": "purchase"}, external_id=external)["id"])

    assert event["status"] == "FAILED", event
    assert event["retry_count"] == 5
    assert event["error_message"].startswith("action DEBIT failed: "), event["error_message"]
    assert event["processed_at"] is not None
    assert balance(api, member, points["id"])["available"] == "0"
    detail_after = _detail(api, member)
    for field in ("tags", "counters", "attributes"):
        assert detail_after[field] == detail_before[field], field
    assert detail_after["tags"] == ["existing"] and detail_after["counters"] == {"orders": "3"}
    assert _entries(api, event["id"]) == []
    assert api.get(f"/v1/journal-entries?rule_id={generous['id']}").json()["data"] == []
    assert api.get(f"/v1/participants/{member}/activity/state-history").json()["data"] == history_before
    assert api.get(f"/v1/rules/{greedy['id']}").status_code == 200

    # Fund the participant by hand; a retry then commits both rules together.
    funded = api.post(
        f"/v1/participants/{member}/balances/adjust",
        json={
            "program_id": program["id"],
            "asset_id": points["id"],
            "type": "CREDIT",
            "amount": "950",
            "description": "top-up",
        },
    )
    assert funded.status_code in (200, 201), funded.text
    assert api.post(f"/v1/events/{event['id']}/retry").status_code == 200
    retried = processed(api, stack, event["id"])
    assert retried["status"] == "COMPLETED", retried
    assert balance(api, member, points["id"])["available"] == "50"
    detail = _detail(api, member)
    assert detail["tags"] == ["credited"] and detail["counters"] == {"orders": "4"}
    assert detail["attributes"] == {"last": "purchase"}
    assert sorted(e["rule_id"] for e in _entries(api, event["id"])) == sorted([generous["id"], greedy["id"]])


def test_blocked_action_fails_the_event_but_allowed_actions_complete(
    api: Api, stack: LocalStack, fast_retries: None
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    external, member = _new_member(api)
    rule(api, program["id"], 'event.type == "purchase"', [{"type": "CREDIT", "asset_id": points["id"], "amount": "10"}])
    rule(api, program["id"], 'event.type == "visit"', [{"type": "COUNTER", "key": "visits", "value": "1"}])
    rule(
        api,
        program["id"],
        'event.type == "login"',
        [{"type": "TAG", "tag": "logged_in"}, {"type": "SET_ATTRIBUTE", "key": "seen", "value": "yes"}],
    )
    response = api.patch(f"/v1/participants/{member}/status", json={"status": "SUSPENDED"})
    assert response.status_code == 200, response.text

    purchase = send(api, program["id"], {"type": "purchase"}, external_id=external)
    visit = send(api, program["id"], {"type": "visit"}, external_id=external)
    login = send(api, program["id"], {"type": "login"}, external_id=external)
    stack.drain()

    failed = api.get(f"/v1/events/{purchase['id']}").json()
    assert failed["status"] == "FAILED" and failed["retry_count"] == 5
    assert failed["error_message"].startswith("action CREDIT failed"), failed["error_message"]
    counted = api.get(f"/v1/events/{visit['id']}").json()
    assert counted["status"] == "FAILED" and counted["error_message"].startswith("action COUNTER failed")
    logged = api.get(f"/v1/events/{login['id']}").json()
    assert logged["status"] == "COMPLETED", logged
    detail = _detail(api, member)
    assert detail["tags"] == ["logged_in"] and detail["attributes"] == {"seen": "yes"} and detail["counters"] == {}
    assert detail["status"] == "SUSPENDED"
    assert balance(api, member, points["id"])["available"] == "0"

    # Reactivated, the failed purchase goes through on a manual retry.
    assert api.patch(f"/v1/participants/{member}/status", json={"status": "ACTIVE"}).status_code == 200
    assert api.post(f"/v1/events/{purchase['id']}/retry").status_code == 200
    assert processed(api, stack, purchase["id"])["status"] == "COMPLETED"
    assert balance(api, member, points["id"])["available"] == "10"


# ----------------------------------------------------------------- retries


def test_failed_attempt_waits_for_its_backoff(api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETRY_BASE, raising=False)
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    rule(api, program["id"], "true", [{"type": "DEBIT", "asset_id": points["id"], "amount": "1"}])

    accepted = send(api, program["id"], {}, external_id="slow")
    event = processed(api, stack, accepted["id"])

    assert event["status"] == "PENDING", event
    assert event["retry_count"] == 1
    assert event["error_message"].startswith("action DEBIT failed: ")
    assert event["processed_at"] is None
    assert api.post(f"/v1/events/{accepted['id']}/retry").status_code == 409  # only FAILED can be retried

    assert processed(api, stack, accepted["id"])["retry_count"] == 1  # the 2 s delay has not elapsed
    time.sleep(2.5)
    later = processed(api, stack, accepted["id"])
    assert (later["status"], later["retry_count"]) == ("PENDING", 2)


def test_scale_error_fails_after_five_attempts_then_a_fixed_rule_completes_on_retry(
    api: Api, stack: LocalStack, fast_retries: None
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    earn = rule(
        api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 0.15"}]
    )
    first_version = _history_ids(api, earn["id"])[0]

    accepted = send(api, program["id"], {"amount": 10}, external_id="scale")
    event = processed(api, stack, accepted["id"])

    assert event["status"] == "FAILED", event
    assert event["error_message"] == "action CREDIT failed: amount exceeds asset scale"
    assert event["retry_count"] == 5
    member = participant_id(api, "scale")
    assert event["participant_id"] in (None, member)
    assert balance(api, member, points["id"])["available"] == "0"

    fixed = api.patch(
        f"/v1/rules/{earn['id']}",
        json={"actions": [{"type": "CREDIT", "asset_id": points["id"], "amount": "round(event.amount * 0.15, 0)"}]},
    )
    assert fixed.status_code == 200, fixed.text
    new_version = _history_ids(api, earn["id"])[0]
    assert new_version != first_version

    retry = api.post(f"/v1/events/{accepted['id']}/retry")
    assert retry.status_code == 200, retry.text
    assert retry.json() == {
        "event_id": accepted["id"],
        "message": "Event queued for retry",
        "previous_error": "action CREDIT failed: amount exceeds asset scale",
        "previous_status": "FAILED",
        "status": "PENDING",
    }
    assert api.get(f"/v1/events/{accepted['id']}").json()["status"] == "PENDING"

    done = processed(api, stack, accepted["id"])
    assert done["status"] == "COMPLETED", done
    assert done["retry_count"] == 1
    assert done["error_message"] is None
    assert [(e["rule_id"], e["status"], e["rule_history_id"]) for e in done["rule_evaluations"]] == [
        (earn["id"], "SUCCESS", new_version)
    ]
    assert balance(api, member, points["id"])["available"] == "2"  # 1.5 rounded half away from zero
    assert api.post(f"/v1/events/{accepted['id']}/retry").status_code == 409


# ----------------------------------------------------- participant resolution


def test_reject_policy_fails_unknown_participant_without_creating_it(
    api: Api, stack: LocalStack, fast_retries: None
) -> None:
    program = api.create_program(on_unknown_participant="REJECT")
    rule(api, program["id"], "true", _tag("seen"))

    accepted = send(api, program["id"], {}, external_id="stranger")
    event = processed(api, stack, accepted["id"])

    assert event["status"] == "FAILED", event
    assert event["retry_count"] == 1  # permanent: no retries burnt
    assert event["error_message"]
    assert event["participant_id"] is None
    assert api.get("/v1/participants?external_id=stranger").json()["data"] == []

    # Creating the participant and retrying is the documented way out; REJECT never blocks enrollment.
    created = api.post("/v1/participants", json={"external_id": "stranger"})
    assert created.status_code == 201
    assert api.post(f"/v1/events/{accepted['id']}/retry").status_code == 200
    done = processed(api, stack, accepted["id"])
    assert done["status"] == "COMPLETED", done
    assert done["participant_id"] == created.json()["id"]
    detail = _detail(api, created.json()["id"])
    assert detail["tags"] == ["seen"] and program["id"] in detail["program_ids"]


def test_create_policy_creates_and_enrolls_the_participant(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    assert api.get("/v1/participants?external_id=newbie").json()["data"] == []

    event = processed(api, stack, send(api, program["id"], {}, external_id="newbie")["id"])

    assert event["status"] == "COMPLETED", event
    found = api.get("/v1/participants?external_id=newbie").json()["data"]
    assert len(found) == 1
    assert found[0]["status"] == "ACTIVE"
    assert event["participant_id"] == found[0]["id"]
    assert event["external_id"] == "newbie"
    assert _detail(api, found[0]["id"])["program_ids"] == [program["id"]]
    enrolled = api.get(f"/v1/participants?program_id={program['id']}").json()["data"]
    assert [p["id"] for p in enrolled] == [found[0]["id"]]

    # A second event reuses the participant.
    again = processed(api, stack, send(api, program["id"], {}, external_id="newbie")["id"])
    assert again["participant_id"] == found[0]["id"]
    assert len(api.get("/v1/participants?external_id=newbie").json()["data"]) == 1


def test_existing_participant_is_enrolled_even_under_reject(api: Api, stack: LocalStack) -> None:
    program = api.create_program(on_unknown_participant="REJECT")
    external, member = _new_member(api)
    assert _detail(api, member)["program_ids"] == []
    event = processed(api, stack, send(api, program["id"], {}, external_id=external)["id"])
    assert event["status"] == "COMPLETED", event
    assert _detail(api, member)["program_ids"] == [program["id"]]


def test_participant_id_path_resolves_and_unknown_uuid_fails(api: Api, stack: LocalStack, fast_retries: None) -> None:
    program = api.create_program()
    rule(api, program["id"], "true", _tag("by_id"))
    _, member = _new_member(api)

    known = processed(api, stack, send(api, program["id"], {}, external_id=None, participant_id=member)["id"])
    assert known["status"] == "COMPLETED", known
    assert known["participant_id"] == member
    assert _detail(api, member)["tags"] == ["by_id"]

    ghost = str(uuid.uuid4())
    unknown = processed(api, stack, send(api, program["id"], {}, external_id=None, participant_id=ghost)["id"])
    assert unknown["status"] == "FAILED", unknown
    assert unknown["retry_count"] == 1
    assert unknown["error_message"]
    assert api.get(f"/v1/participants/{ghost}").status_code == 404


def test_unknown_program_fails_the_event_without_a_server_error(
    api: Api, stack: LocalStack, fast_retries: None
) -> None:
    accepted = send(api, str(uuid.uuid4()), {"type": "purchase"}, external_id="lost")
    assert accepted["status"] == "PENDING"
    stack.drain()
    response = api.get(f"/v1/events/{accepted['id']}?include_skipped=true")
    assert response.status_code in (200, 404), response.text
    if response.status_code == 200:
        event = response.json()
        assert event["status"] == "FAILED", event
        assert event["retry_count"] == 1
        assert event["error_message"]
        assert event["rule_evaluations"] == []
    else:
        assert response.json()["code"] == "not_found"
    assert api.get("/v1/participants?external_id=lost").json()["data"] == []


def test_recipient_receives_the_value_and_the_sender_the_tag(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS")
    rule(
        api,
        program["id"],
        'event.type == "gift"',
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "event.value"},
            {"type": "TAG", "tag": "gifter"},
            {"type": "COUNTER", "key": "gifts_sent", "value": "1"},
        ],
    )

    accepted = send(
        api, program["id"], {"type": "gift", "value": 40}, external_id="sender", recipient_external_id="friend"
    )
    event = processed(api, stack, accepted["id"])

    assert event["status"] == "COMPLETED", event
    sender, friend = participant_id(api, "sender"), participant_id(api, "friend")
    assert sender != friend
    assert event["participant_id"] == sender and event["recipient_id"] == friend
    assert balance(api, friend, points["id"])["available"] == "40"
    assert balance(api, sender, points["id"])["available"] == "0"
    sender_detail, friend_detail = _detail(api, sender), _detail(api, friend)
    assert sender_detail["tags"] == ["gifter"] and sender_detail["counters"] == {"gifts_sent": "1"}
    assert friend_detail["tags"] == [] and friend_detail["counters"] == {}
    assert program["id"] in friend_detail["program_ids"]
    postings = [p for e in _entries(api, event["id"]) for p in e["postings"] if p["entity_type"] == "PARTICIPANT"]
    assert [(p["participant_id"], p["amount"]) for p in postings] == [(friend, "40")]


# --------------------------------------------------------- CEL examples (§4.7)

CONDITION_CASES: list[tuple[str, list[tuple[dict[str, Any], dict[str, Any], bool]]]] = [
    (
        'event.type == "purchase" && event.amount > 50.0',
        [
            ({}, {"type": "purchase", "amount": 50.01}, True),
            ({}, {"type": "purchase", "amount": 50}, False),
            ({}, {"type": "refund", "amount": 80}, False),
        ],
    ),
    (
        'event.type == "purchase" && event.mcc in ["5812", "5813", "5814"]',
        [
            ({}, {"type": "purchase", "mcc": "5813"}, True),
            ({}, {"type": "purchase", "mcc": "5411"}, False),
            ({}, {"type": "refund", "mcc": "5812"}, False),
        ],
    ),
    (
        'has(event.coupon_code) && event.coupon_code == "SUMMER25"',
        [
            ({}, {"coupon_code": "SUMMER25"}, True),
            ({}, {"coupon_code": "WINTER10"}, False),
            ({}, {"type": "purchase"}, False),
        ],
    ),
    (
        'event.type == "signup" && !("welcome_bonus" in participant.tags)',
        [
            ({"tags": ["other"]}, {"type": "signup"}, True),
            ({}, {"type": "signup"}, True),
            ({"tags": ["welcome_bonus"]}, {"type": "signup"}, False),
        ],
    ),
    (
        'sets.intersects(participant.tags, ["vip", "silver"])',
        [
            ({"tags": ["silver", "x"]}, {}, True),
            ({"tags": ["vip"]}, {}, True),
            ({"tags": ["gold"]}, {}, False),
            ({}, {}, False),
        ],
    ),
    (
        'get(participant.counters, "purchase_count", 0.0) >= 10.0',
        [
            ({"counters": {"purchase_count": "10"}}, {}, True),
            ({"counters": {"purchase_count": "12.5"}}, {}, True),
            ({"counters": {"purchase_count": "9.5"}}, {}, False),
            ({"counters": {"other": "50"}}, {}, False),
        ],
    ),
    (
        'get(participant.attributes, "region", "") == "US"',
        [
            ({"attributes": {"region": "US"}}, {}, True),
            ({"attributes": {"region": "EU"}}, {}, False),
            ({}, {}, False),
        ],
    ),
    (
        "event.amount >= 20.0",  # an integer JSON number against a double literal
        [({}, {"amount": 30}, True), ({}, {"amount": 19}, False)],
    ),
    (
        "event.amount == 75",  # a double against an integer literal
        [({}, {"amount": 75.0}, True), ({}, {"amount": 75.5}, False)],
    ),
]


@pytest.mark.parametrize(("condition", "samples"), CONDITION_CASES, ids=[case[0][:40] for case in CONDITION_CASES])
def test_spec_example_conditions(
    api: Api, stack: LocalStack, condition: str, samples: list[tuple[dict[str, Any], dict[str, Any], bool]]
) -> None:
    program = api.create_program()
    checked = rule(api, program["id"], condition, _tag("hit"))
    sent = []
    for state, data, _ in samples:
        external, member = _new_member(api, **state)
        sent.append((send(api, program["id"], data, external_id=external)["id"], member))
    stack.drain()
    for (event_id, member), (state, data, expected) in zip(sent, samples, strict=True):
        event = api.get(f"/v1/events/{event_id}?include_skipped=true").json()
        assert event["status"] == "COMPLETED", event
        verdict = _by_rule(event)[checked["id"]]
        assert verdict["status"] == ("SUCCESS" if expected else "NOT_MATCHED"), (state, data, verdict)
        assert ("hit" in _detail(api, member)["tags"]) is expected, (state, data)


@pytest.mark.parametrize(
    ("expression", "scale", "data", "expected"),
    [
        ("double(event.amount) * 0.10", 3, {"amount": "49.99"}, "4.999"),
        ("double(event.amount) * 0.10", 2, {"amount": "120"}, "12.00"),
        ("round(event.amount * 0.05, 2)", 2, {"amount": 123.45}, "6.17"),
        ("round(event.amount * 0.05, 2)", 2, {"amount": 49.99}, "2.50"),
        ('event.tier == "gold" ? 100.0 : 50.0', 0, {"tier": "gold"}, "100"),
        ('event.tier == "gold" ? 100.0 : 50.0', 0, {"tier": "silver"}, "50"),
        ("event.amount * 10", 0, {"amount": 7.5}, "75"),
    ],
)
def test_spec_example_amounts(
    api: Api, stack: LocalStack, expression: str, scale: int, data: dict[str, Any], expected: str
) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], symbol="AMT", scale=scale)
    earn = rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": asset["id"], "amount": expression}])

    event = processed(api, stack, send(api, program["id"], data, external_id="amt")["id"])

    assert event["status"] == "COMPLETED", event
    assert balance(api, participant_id(api, "amt"), asset["id"])["available"] == expected
    [entry] = _entries(api, event["id"])
    assert entry["rule_id"] == earn["id"]
    assert sorted(p["amount"] for p in entry["postings"]) == sorted([expected, f"-{expected}"])


def test_amount_from_a_string_without_a_cast_fails_the_event(api: Api, stack: LocalStack, fast_retries: None) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], symbol="AMT", scale=2)
    rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": asset["id"], "amount": "event.amount * 0.10"}])
    event = processed(api, stack, send(api, program["id"], {"amount": "49.99"}, external_id="str")["id"])
    assert event["status"] == "FAILED", event
    assert event["error_message"].startswith("action CREDIT failed")
    assert balance(api, participant_id(api, "str"), asset["id"])["available"] in ("0", "0.00")
