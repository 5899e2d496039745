"""Rule actions through HTTP (03 §5, 04 §6): each action type's effect on balances, lots and
state, their targets, the participant status gates, and the all-or-nothing event transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, participant_id, processed, rule, send
from tests.conftest import Api


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed attempts are retried at once, so a failing event reaches FAILED in one drain."""
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


# ----------------------------------------------------------------- helpers


def _setup(api: Api, **asset_fields: Any) -> tuple[str, dict[str, Any]]:
    program = api.create_program()
    fields = {"symbol": "PTS", "scale": 0, **asset_fields}
    return program["id"], api.create_asset(program["id"], **fields)


def _run(api: Api, stack: LocalStack, program_id: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return processed(api, stack, send(api, program_id, data, **fields)["id"])


def _member(api: Api, program_id: str, external_id: str | None = None) -> str:
    body = {"external_id": external_id or f"m-{uuid.uuid4().hex[:10]}", "program_id": program_id}
    response = api.post("/v1/participants", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _adjust(api: Api, program_id: str, asset_id: str, who: str, amount: str, type: str = "CREDIT") -> None:
    body = {"program_id": program_id, "asset_id": asset_id, "type": type, "amount": amount, "description": "setup"}
    response = api.post(f"/v1/participants/{who}/balances/adjust", json=body)
    assert response.status_code == 200, response.text


def _lots(api: Api, who: str, asset_id: str, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/v1/participants/{who}/balances/lots?asset_id={asset_id}{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _entries(api: Api, event_id: str) -> list[dict[str, Any]]:
    """The journal entries of one event, each read in full (with postings)."""
    response = api.get(f"/v1/journal-entries?event_id={event_id}&limit=200")
    assert response.status_code == 200, response.text
    return [api.get(f"/v1/journal-entries/{row['id']}").json() for row in response.json()["data"]]


def _postings(entry: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (
            p["entity_type"],
            p["participant_id"] or p["group_id"] or p["system_account"] or p["program_id"],
            p["bucket"],
            p["amount"],
        )
        for p in entry["postings"]
    )


def _actions(event: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    (evaluation,) = [e for e in event["rule_evaluations"] if e["rule_id"] == rule_id]
    return list(evaluation["actions"])


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tags(api: Api, base: str) -> list[str]:
    response = api.get(f"{base}/state/tags")
    assert response.status_code == 200, response.text
    return [t["tag"] for t in response.json()["data"]]


def _attributes(api: Api, who: str) -> dict[str, str]:
    response = api.get(f"/v1/participants/{who}/state/attributes")
    assert response.status_code == 200, response.text
    return {a["key"]: a["value"] for a in response.json()["data"]}


def _history(api: Api, who: str, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/v1/participants/{who}/activity/state-history{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _system_events(api: Api, who: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/events?event_type=SYSTEM&participant_id={who}&limit=200")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _failed(event: dict[str, Any], *fragments: str) -> None:
    assert event["status"] == "FAILED", event
    for fragment in fragments:
        assert fragment.lower() in (event["error_message"] or "").lower(), event["error_message"]


# ------------------------------------------------------------------ CREDIT


def test_credit_of_a_simple_asset_lands_in_available_with_one_entry(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    earn = rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount * 2"}],
    )
    event = _run(api, stack, program_id, {"type": "purchase", "amount": 21}, external_id="simple-1")
    assert event["status"] == "COMPLETED", event
    who = participant_id(api, "simple-1")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "42",
        "held": "0",
        "deferred": "0",
    }
    (action,) = _actions(event, earn["id"])
    assert action["type"] == "CREDIT" and action["resolved"]["amount"] == "42"
    (entry,) = _entries(api, event["id"])
    assert entry["action_type"] == "CREDIT"
    assert (entry["event_id"], entry["rule_id"], entry["created_by_api_key_id"]) == (event["id"], earn["id"], None)
    assert _postings(entry) == [
        ("PARTICIPANT", who, "AVAILABLE", "42"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-42"),
    ]


def test_credit_lot_expiry_as_a_duration_and_as_a_timestamp(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "10", "expires_at": "720h"},
            {"type": "CREDIT", "asset_id": points["id"], "amount": "5", "expires_at": "2099-01-01T00:00:00Z"},
            {"type": "CREDIT", "asset_id": points["id"], "amount": "1"},
        ],
    )
    event = _run(api, stack, program_id, {"type": "purchase"}, external_id="lots-1")
    assert event["status"] == "COMPLETED", event
    who = participant_id(api, "lots-1")
    lots = {lot["amount"]: lot for lot in _lots(api, who, points["id"])}
    assert sorted(lots) == ["1", "10", "5"]
    relative = lots["10"]
    assert relative["status"] == "AVAILABLE" and relative["matures_at"] is None
    lifetime = _moment(relative["expires_at"]) - _moment(relative["created_at"])
    assert abs(lifetime - timedelta(hours=720)) < timedelta(seconds=5), lifetime
    assert _moment(lots["5"]["expires_at"]) == _moment("2099-01-01T00:00:00Z")
    assert lots["1"]["expires_at"] is None
    assert balance(api, who, points["id"])["available"] == "16"

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(hours=721).total_seconds()))
    stack.fire_schedule("LotJobsFunction")
    lots = {lot["amount"]: lot for lot in _lots(api, who, points["id"])}
    assert (lots["10"]["status"], lots["10"]["remaining"]) == ("EXPIRED", "0")
    assert (lots["5"]["status"], lots["1"]["status"]) == ("AVAILABLE", "AVAILABLE")
    assert balance(api, who, points["id"])["available"] == "6"

    # a fixed expiry already past cannot make a lot: the event fails
    rule(
        api,
        program_id,
        "event.type == 'stale'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "3", "expires_at": "2020-01-01T00:00:00Z"}],
    )
    _failed(_run(api, stack, program_id, {"type": "stale"}, external_id="lots-1"), "expires_at")
    assert balance(api, who, points["id"])["available"] == "6"


def test_credit_maturing_later_is_deferred_until_the_lot_job_matures_it(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    rule(
        api,
        program_id,
        "event.type == 'vest'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "500", "matures_at": "24h", "expires_at": "8760h"}],
    )
    rule(
        api,
        program_id,
        "event.type == 'past'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "7", "matures_at": "2020-01-01T00:00:00Z"}],
    )
    assert _run(api, stack, program_id, {"type": "vest"}, external_id="vest-1")["status"] == "COMPLETED"
    who = participant_id(api, "vest-1")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "0",
        "held": "0",
        "deferred": "500",
    }
    (lot,) = _lots(api, who, points["id"])
    assert lot["status"] == "DEFERRED" and lot["remaining"] == "500"
    assert abs(_moment(lot["matures_at"]) - _moment(lot["created_at"]) - timedelta(hours=24)) < timedelta(seconds=5)

    # a maturity already in the past: spendable at once
    assert _run(api, stack, program_id, {"type": "past"}, external_id="vest-1")["status"] == "COMPLETED"
    assert balance(api, who, points["id"])["available"] == "7"

    stack.fire_schedule("LotJobsFunction")  # not due yet
    assert balance(api, who, points["id"])["deferred"] == "500"
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(hours=24, minutes=1).total_seconds()))
    stack.fire_schedule("LotJobsFunction")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "507",
        "held": "0",
        "deferred": "0",
    }
    matured = [lot for lot in _lots(api, who, points["id"]) if lot["amount"] == "500"]
    assert [(lot["status"], lot["remaining"]) for lot in matured] == [("AVAILABLE", "500")]
    maturity = api.get(f"/v1/journal-entries?participant_id={who}&action_type=MATURITY").json()["data"]
    assert len(maturity) == 1


# --------------------------------------------------- provisional credit and settle


def _auth_settle_rules(api: Api, program_id: str, asset_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    auth = rule(
        api,
        program_id,
        "event.type == 'auth'",
        [
            {
                "type": "CREDIT",
                "asset_id": asset_id,
                "amount": "event.amount",
                "bucket": "HELD",
                "reference_id": "event.auth_id",
            }
        ],
        name="auth",
    )
    settle = rule(
        api,
        program_id,
        "event.type == 'settle'",
        [{"type": "CREDIT", "asset_id": asset_id, "amount": "event.amount", "reference_id": "event.auth_id"}],
        name="settle",
    )
    return auth, settle


def test_provisional_held_credit_then_settle_voids_it_and_credits_the_settled_amount(
    api: Api, stack: LocalStack
) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    auth, settle = _auth_settle_rules(api, program_id, points["id"])
    first = _run(api, stack, program_id, {"type": "auth", "amount": 60, "auth_id": "A-55"}, external_id="card-1")
    assert first["status"] == "COMPLETED", first
    assert _actions(first, auth["id"])[0]["resolved"]["reference_id"] == "A-55"
    assert (
        _run(api, stack, program_id, {"type": "auth", "amount": 30, "auth_id": "A-56"}, external_id="card-1")["status"]
        == "COMPLETED"
    )
    who = participant_id(api, "card-1")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "0",
        "held": "90",
        "deferred": "0",
    }
    held = _lots(api, who, points["id"], "&reference_id=A-55")
    assert [(lot["status"], lot["amount"], lot["reference_id"]) for lot in held] == [("HELD", "60", "A-55")]
    (entry,) = _entries(api, first["id"])
    assert entry["rule_id"] == auth["id"]
    assert entry["reference_id"] == "A-55"
    assert _postings(entry) == [("PARTICIPANT", who, "HELD", "60"), ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-60")]

    settled = _run(api, stack, program_id, {"type": "settle", "amount": 50, "auth_id": "A-55"}, external_id="card-1")
    assert settled["status"] == "COMPLETED", settled
    (action,) = _actions(settled, settle["id"])
    assert action["resolved"]["settle"] == {"held_amount": "60", "delta": "-10"}
    assert action["resolved"]["amount"] == "50"
    # only A-55's provisional lot is closed; A-56's stays held
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "50",
        "held": "30",
        "deferred": "0",
    }
    lots = _lots(api, who, points["id"])
    assert [(lot["amount"], lot["remaining"], lot["status"]) for lot in lots if lot["reference_id"] == "A-55"] == [
        ("60", "0", "CONSUMED")
    ]
    assert [(lot["amount"], lot["status"]) for lot in lots if lot["reference_id"] == "A-56"] == [("30", "HELD")]
    assert [(lot["amount"], lot["status"]) for lot in lots if lot["status"] == "AVAILABLE"] == [("50", "AVAILABLE")]
    entries = _entries(api, settled["id"])
    assert {e["rule_id"] for e in entries} == {settle["id"]} and {e["event_id"] for e in entries} == {settled["id"]}
    # every entry of the settle is found by its reference (04 §2.6, §6.4)
    assert {e["reference_id"] for e in entries} == {"A-55"}
    by_reference = api.get("/v1/journal-entries?reference_id=A-55").json()["data"]
    assert {e["id"] for e in by_reference} == {entry["id"], *(e["id"] for e in entries)}
    # net of the settle: HELD -60, AVAILABLE +50, issuance gets 10 back
    net: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        for kind, owner, bucket, amount in _postings(entry):
            key = (owner, bucket) if kind == "PARTICIPANT" else (owner, "")
            net[key] = net.get(key, Decimal(0)) + Decimal(amount)
    assert {k: v for k, v in net.items() if v} == {
        (who, "HELD"): Decimal(-60),
        (who, "AVAILABLE"): Decimal(50),
        ("SYSTEM_ISSUANCE", ""): Decimal(10),
    }

    # a settle without provisional lots behaves as a plain credit
    plain = _run(api, stack, program_id, {"type": "settle", "amount": 8, "auth_id": "A-99"}, external_id="card-1")
    assert plain["status"] == "COMPLETED", plain
    assert _actions(plain, settle["id"])[0]["resolved"]["settle"] == {"held_amount": "0", "delta": "8"}
    assert [e["reference_id"] for e in _entries(api, plain["id"])] == ["A-99"]
    assert balance(api, who, points["id"])["available"] == "58"


def test_settle_above_the_provisional_amount_draws_the_difference(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    _, settle = _auth_settle_rules(api, program_id, points["id"])
    _run(api, stack, program_id, {"type": "auth", "amount": 40, "auth_id": "B-1"}, external_id="card-2")
    settled = _run(api, stack, program_id, {"type": "settle", "amount": 45, "auth_id": "B-1"}, external_id="card-2")
    assert settled["status"] == "COMPLETED", settled
    assert _actions(settled, settle["id"])[0]["resolved"]["settle"] == {"held_amount": "40", "delta": "5"}
    who = participant_id(api, "card-2")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "45",
        "held": "0",
        "deferred": "0",
    }


# ------------------------------------------------------------ PREFUNDED assets


def test_prefunded_credit_fails_on_an_empty_wallet_and_draws_from_a_funded_one(api: Api, stack: LocalStack) -> None:
    program_id, cash = _setup(api, symbol="CASH", scale=2, issuance_policy="PREFUNDED")
    earn = rule(
        api, program_id, "event.type == 'purchase'", [{"type": "CREDIT", "asset_id": cash["id"], "amount": "10"}]
    )
    event = _run(api, stack, program_id, {"type": "purchase"}, external_id="wallet-1")
    _failed(event, "CREDIT", "wallet")
    assert _entries(api, event["id"]) == []
    who = participant_id(api, "wallet-1")
    assert balance(api, who, cash["id"])["available"] in ("0", "0.00")

    funded = api.post(f"/v1/programs/{program_id}/assets/{cash['id']}/fund", json={"amount": "25"})
    assert funded.status_code == 200, funded.text
    assert api.post(f"/v1/events/{event['id']}/retry").status_code == 200
    event = processed(api, stack, event["id"])
    assert event["status"] == "COMPLETED", event
    assert balance(api, who, cash["id"])["available"] == "10.00"
    wallet = api.get(f"/v1/programs/{program_id}/balance?asset_id={cash['id']}").json()["data"]
    assert [row["available"] for row in wallet] == ["15.00"]
    (entry,) = _entries(api, event["id"])
    assert entry["rule_id"] == earn["id"]
    assert _postings(entry) == [
        ("PARTICIPANT", who, "AVAILABLE", "10.00"),
        ("PROGRAM", program_id, "AVAILABLE", "-10.00"),
    ]


# ------------------------------------------------------------------- DEBIT


def test_debit_fails_when_short_and_overdraws_with_allow_negative(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    refund = rule(
        api,
        program_id,
        "event.type == 'refund'",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "event.amount"}],
    )
    clawback = rule(
        api,
        program_id,
        "event.type == 'clawback'",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "event.amount", "allow_negative": True}],
    )
    who = _member(api, program_id, "debit-1")
    _adjust(api, program_id, points["id"], who, "30")

    ok = _run(api, stack, program_id, {"type": "refund", "amount": 12}, external_id="debit-1")
    assert ok["status"] == "COMPLETED", ok
    assert balance(api, who, points["id"])["available"] == "18"
    (entry,) = _entries(api, ok["id"])
    assert entry["action_type"] == "DEBIT" and entry["rule_id"] == refund["id"]
    assert _postings(entry) == [
        ("PARTICIPANT", who, "AVAILABLE", "-12"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "12"),
    ]

    short = _run(api, stack, program_id, {"type": "refund", "amount": 50}, external_id="debit-1")
    _failed(short, "DEBIT", "insufficient")
    assert short["retry_count"] == 5
    assert balance(api, who, points["id"])["available"] == "18"
    assert _entries(api, short["id"]) == []

    overdraw = _run(api, stack, program_id, {"type": "clawback", "amount": 50}, external_id="debit-1")
    assert overdraw["status"] == "COMPLETED", overdraw
    assert _actions(overdraw, clawback["id"])[0]["resolved"]["amount"] == "50"
    assert balance(api, who, points["id"])["available"] == "-32"


def test_a_failing_action_rolls_back_every_action_of_the_event(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "true",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "10"},
            {"type": "TAG", "tag": "seen"},
            {"type": "COUNTER", "key": "visits", "value": "1"},
        ],
        name="first",
        order=10,
    )
    rule(
        api,
        program_id,
        "true",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "1000"}],
        name="second",
        order=20,
    )
    event = _run(api, stack, program_id, {"type": "anything"}, external_id="atomic-1")
    _failed(event, "DEBIT", "insufficient")
    who = participant_id(api, "atomic-1")
    assert balance(api, who, points["id"])["available"] == "0"
    assert _tags(api, f"/v1/participants/{who}") == []
    assert api.get(f"/v1/participants/{who}/state/counters/visits").status_code == 404
    assert _entries(api, event["id"]) == []


# ---------------------------------------------------------- HOLD and RELEASE


def test_hold_and_release_with_and_without_amount_and_reference(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    asset = points["id"]
    hold = rule(
        api,
        program_id,
        "event.type == 'hold'",
        [{"type": "HOLD", "asset_id": asset, "amount": "event.amount", "reference_id": "event.ref"}],
    )
    hold_all = rule(api, program_id, "event.type == 'hold_all'", [{"type": "HOLD", "asset_id": asset}])
    release_ref = rule(
        api,
        program_id,
        "event.type == 'release_ref'",
        [{"type": "RELEASE", "asset_id": asset, "reference_id": "event.ref"}],
    )
    release_some = rule(
        api,
        program_id,
        "event.type == 'release_some'",
        [{"type": "RELEASE", "asset_id": asset, "amount": "event.amount"}],
    )
    release_all = rule(api, program_id, "event.type == 'release_all'", [{"type": "RELEASE", "asset_id": asset}])
    rule(
        api,
        program_id,
        "event.type == 'earn'",
        [{"type": "CREDIT", "asset_id": asset, "amount": "100", "expires_at": "720h"}],
    )
    who = _member(api, program_id, "hold-1")

    def step(data: dict[str, Any]) -> dict[str, Any]:
        event = _run(api, stack, program_id, data, external_id="hold-1")
        assert event["status"] == "COMPLETED", event
        return event

    def buckets() -> tuple[str, str]:
        row = balance(api, who, asset)
        return row["available"], row["held"]

    step({"type": "earn"})
    (earned,) = _lots(api, who, asset)
    held = step({"type": "hold", "amount": 30, "ref": "R-1"})
    resolved = _actions(held, hold["id"])[0]["resolved"]
    assert (resolved["amount"], resolved["reference_id"], resolved["target_id"]) == ("30", "R-1", who)
    (held_lot,) = _lots(api, who, asset, "&status=HELD")
    # the held part keeps the lot's vintage and expiry (04 §5.3)
    assert (held_lot["remaining"], held_lot["reference_id"]) == ("30", "R-1")
    assert (held_lot["expires_at"], held_lot["created_at"]) == (earned["expires_at"], earned["created_at"])
    (entry,) = _entries(api, held["id"])
    assert entry["action_type"] == "HOLD" and entry["reference_id"] == "R-1" and entry["rule_id"] == hold["id"]
    assert _postings(entry) == [("PARTICIPANT", who, "AVAILABLE", "-30"), ("PARTICIPANT", who, "HELD", "30")]
    step({"type": "hold", "amount": 20, "ref": "R-2"})
    assert buckets() == ("50", "50")
    assert sorted((lot["reference_id"], lot["remaining"]) for lot in _lots(api, who, asset, "&status=HELD")) == [
        ("R-1", "30"),
        ("R-2", "20"),
    ]

    released = step({"type": "release_ref", "ref": "R-1"})  # no amount: everything held under R-1
    assert _actions(released, release_ref["id"])[0]["resolved"]["amount"] == "30"
    assert buckets() == ("80", "20")
    assert [lot["reference_id"] for lot in _lots(api, who, asset, "&status=HELD")] == ["R-2"]

    step({"type": "release_some", "amount": 5})  # an amount without reference: FIFO over held lots
    assert buckets() == ("85", "15")
    up_to = step({"type": "release_some", "amount": 1000})  # release is "up to" (04 §5.4)
    assert _actions(up_to, release_some["id"])[0]["resolved"]["amount"] == "15"
    assert buckets() == ("100", "0")

    everything = step({"type": "hold_all"})
    assert _actions(everything, hold_all["id"])[0]["resolved"]["amount"] == "100"
    assert buckets() == ("0", "100")

    _failed(
        _run(api, stack, program_id, {"type": "hold", "amount": 1, "ref": "R-3"}, external_id="hold-1"),
        "HOLD",
        "insufficient",
    )
    _failed(
        _run(api, stack, program_id, {"type": "hold_all"}, external_id="hold-1"), "HOLD", "insufficient"
    )  # nothing left to hold
    assert buckets() == ("0", "100")

    all_back = step({"type": "release_all"})
    assert _actions(all_back, release_all["id"])[0]["resolved"]["amount"] == "100"
    assert buckets() == ("100", "0")
    assert _lots(api, who, asset, "&status=HELD") == []


def test_hold_and_release_of_a_simple_asset(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(api, program_id, "event.type == 'hold'", [{"type": "HOLD", "asset_id": points["id"], "amount": "40"}])
    rule(api, program_id, "event.type == 'release'", [{"type": "RELEASE", "asset_id": points["id"]}])
    who = _member(api, program_id, "hold-2")
    _adjust(api, program_id, points["id"], who, "100")
    assert _run(api, stack, program_id, {"type": "hold"}, external_id="hold-2")["status"] == "COMPLETED"
    assert balance(api, who, points["id"])["held"] == "40"
    assert balance(api, who, points["id"])["available"] == "60"
    assert _run(api, stack, program_id, {"type": "release"}, external_id="hold-2")["status"] == "COMPLETED"
    assert (balance(api, who, points["id"])["available"], balance(api, who, points["id"])["held"]) == ("100", "0")


# ----------------------------------------------------------------- FORFEIT


def test_forfeit_from_available_and_from_held_goes_to_breakage(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    from_available = rule(
        api,
        program_id,
        "event.type == 'forfeit'",
        [{"type": "FORFEIT", "asset_id": points["id"], "amount": "event.amount", "bucket": "AVAILABLE"}],
    )
    from_held = rule(
        api,
        program_id,
        "event.type == 'forfeit_held'",
        [{"type": "FORFEIT", "asset_id": points["id"], "bucket": "HELD"}],
    )
    who = _member(api, program_id, "forfeit-1")
    _adjust(api, program_id, points["id"], who, "100")
    hold = api.post(
        f"/v1/participants/{who}/balances/hold",
        json={"program_id": program_id, "asset_id": points["id"], "amount": "40", "description": "review"},
    )
    assert hold.status_code == 200, hold.text

    event = _run(api, stack, program_id, {"type": "forfeit", "amount": 10}, external_id="forfeit-1")
    assert event["status"] == "COMPLETED", event
    (entry,) = _entries(api, event["id"])
    assert entry["action_type"] == "FORFEIT" and entry["rule_id"] == from_available["id"]
    assert _postings(entry) == [
        ("PARTICIPANT", who, "AVAILABLE", "-10"),
        ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "10"),
    ]
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "50",
        "held": "40",
        "deferred": "0",
    }

    held = _run(api, stack, program_id, {"type": "forfeit_held"}, external_id="forfeit-1")
    assert held["status"] == "COMPLETED", held
    (entry,) = _entries(api, held["id"])
    assert entry["rule_id"] == from_held["id"]
    assert ("PARTICIPANT", who, "HELD", "-40") in _postings(entry)
    assert any(p[1] == "SYSTEM_BREAKAGE" and p[3] == "40" for p in _postings(entry))
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "50",
        "held": "0",
        "deferred": "0",
    }

    _failed(
        _run(api, stack, program_id, {"type": "forfeit", "amount": 51}, external_id="forfeit-1"),
        "FORFEIT",
        "insufficient",
    )
    assert balance(api, who, points["id"])["available"] == "50"


# --------------------------------------------------------------- VOID_HOLD


def test_void_hold_cancels_only_the_provisional_credit_and_returns_it_to_issuance(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    asset = points["id"]
    auth, _ = _auth_settle_rules(api, program_id, asset)
    void = rule(
        api,
        program_id,
        "event.type == 'void'",
        [{"type": "VOID_HOLD", "asset_id": asset, "reference_id": "event.auth_id"}],
    )
    who = _member(api, program_id, "void-1")
    _adjust(api, program_id, asset, who, "100")
    hold = api.post(
        f"/v1/participants/{who}/balances/hold",
        json={
            "program_id": program_id,
            "asset_id": asset,
            "amount": "30",
            "reference_id": "V-1",
            "description": "auth",
        },
    )
    assert hold.status_code == 200, hold.text
    assert (
        _run(api, stack, program_id, {"type": "auth", "amount": 60, "auth_id": "V-1"}, external_id="void-1")["status"]
        == "COMPLETED"
    )
    assert balance(api, who, asset) == {"asset_id": asset, "available": "70", "held": "90", "deferred": "0"}

    voided = _run(api, stack, program_id, {"type": "void", "auth_id": "V-1"}, external_id="void-1")
    assert voided["status"] == "COMPLETED", voided
    assert _actions(voided, void["id"])[0]["resolved"]["amount"] == "60"
    (entry,) = _entries(api, voided["id"])
    assert entry["rule_id"] == void["id"] and entry["reference_id"] == "V-1"
    assert entry["action_type"] == "VOID_HOLD"
    assert ("PARTICIPANT", who, "HELD", "-60") in _postings(entry)
    assert any(p[1] == "SYSTEM_ISSUANCE" and p[3] == "60" for p in _postings(entry))
    # the value moved to HELD by a HOLD is untouched
    assert balance(api, who, asset) == {"asset_id": asset, "available": "70", "held": "30", "deferred": "0"}
    assert [(lot["remaining"], lot["status"]) for lot in _lots(api, who, asset, "&reference_id=V-1&status=HELD")] == [
        ("30", "HELD")
    ]
    assert auth["id"] != void["id"]

    # nothing provisional left under that reference: the action fails the event
    _failed(_run(api, stack, program_id, {"type": "void", "auth_id": "V-1"}, external_id="void-1"), "VOID_HOLD", "V-1")
    assert balance(api, who, asset)["held"] == "30"


def test_void_hold_of_a_prefunded_asset_returns_the_value_to_the_wallet(api: Api, stack: LocalStack) -> None:
    program_id, cash = _setup(api, symbol="CASH", scale=2, inventory_mode="LOT", issuance_policy="PREFUNDED")
    auth, _ = _auth_settle_rules(api, program_id, cash["id"])
    rule(
        api,
        program_id,
        "event.type == 'void'",
        [{"type": "VOID_HOLD", "asset_id": cash["id"], "reference_id": "event.auth_id"}],
    )
    assert api.post(f"/v1/programs/{program_id}/assets/{cash['id']}/fund", json={"amount": "100"}).status_code == 200

    def wallet() -> str:
        rows = api.get(f"/v1/programs/{program_id}/balance?asset_id={cash['id']}").json()["data"]
        return str(rows[0]["available"])

    first = _run(api, stack, program_id, {"type": "auth", "amount": 60.5, "auth_id": "P-1"}, external_id="void-2")
    assert first["status"] == "COMPLETED", first
    (entry,) = _entries(api, first["id"])
    assert ("PROGRAM", program_id, "AVAILABLE", "-60.50") in _postings(entry)
    assert wallet() == "39.50"
    who = participant_id(api, "void-2")
    assert balance(api, who, cash["id"])["held"] == "60.50"

    assert (
        _run(api, stack, program_id, {"type": "void", "auth_id": "P-1"}, external_id="void-2")["status"] == "COMPLETED"
    )
    assert wallet() == "100.00"
    assert balance(api, who, cash["id"]) == {
        "asset_id": cash["id"],
        "available": "0.00",
        "held": "0.00",
        "deferred": "0.00",
    }
    assert auth["id"]


# ------------------------------------------------------------- TAG / UNTAG


def test_tag_and_untag_lower_case_no_ops_and_program_target(api: Api, stack: LocalStack) -> None:
    program_id, _ = _setup(api)
    tagging = rule(
        api,
        program_id,
        "event.type == 'visit'",
        [
            {"type": "TAG", "tag": "VIP"},
            {"type": "UNTAG", "tag": "Promo"},
            {"type": "TAG", "tag": "Launched", "target": {"type": "PROGRAM"}},
            {"type": "COUNTER", "key": "visits", "value": "1", "target": {"type": "PROGRAM"}},
            {"type": "SET_ATTRIBUTE", "key": "last_visitor", "value": "event.who", "target": {"type": "PROGRAM"}},
        ],
    )
    first = _run(api, stack, program_id, {"type": "visit", "who": "tag-1"}, external_id="tag-1")
    assert first["status"] == "COMPLETED", first
    who = participant_id(api, "tag-1")
    assert _tags(api, f"/v1/participants/{who}") == ["vip"]
    assert _tags(api, f"/v1/programs/{program_id}") == ["launched"]
    assert [a["resolved"]["tag"] for a in _actions(first, tagging["id"])[:3]] == ["vip", "promo", "launched"]
    program_state = f"/v1/programs/{program_id}/state"
    assert api.get(f"{program_state}/counters/visits").json()["value"] == "1"
    assert api.get(f"{program_state}/attributes").json()["data"] == [{"key": "last_visitor", "value": "tag-1"}]
    assert api.get(f"/v1/participants/{who}/state/counters/visits").status_code == 404
    history = _history(api, who, "?state_type=tag")
    assert [(h["key"], h["operation"], h["event_id"], h["rule_id"]) for h in history] == [
        ("vip", "add", first["id"], tagging["id"])
    ]

    # again: the tag is present and promo absent, so nothing changes
    assert _run(api, stack, program_id, {"type": "visit", "who": "x"}, external_id="tag-1")["status"] == "COMPLETED"
    assert len(_history(api, who, "?state_type=tag")) == 1

    assert api.put(f"/v1/participants/{who}/state/tags/promo").status_code == 201
    third = _run(api, stack, program_id, {"type": "visit", "who": "tag-1"}, external_id="tag-1")
    assert third["status"] == "COMPLETED", third
    assert _tags(api, f"/v1/participants/{who}") == ["vip"]
    removed = _history(api, who, "?state_type=tag&key=promo")
    assert [(h["operation"], h["event_id"]) for h in removed] == [("remove", third["id"]), ("add", None)]


def test_welcome_bonus_pattern_credits_once(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "!('welcome_bonus' in participant.tags)",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "100"}, {"type": "TAG", "tag": "Welcome_Bonus"}],
    )
    for _ in range(2):
        assert _run(api, stack, program_id, {"type": "login"}, external_id="welcome-1")["status"] == "COMPLETED"
    assert balance(api, participant_id(api, "welcome-1"), points["id"])["available"] == "100"


# ----------------------------------------------------------------- COUNTER


def test_counter_increments_by_literal_and_cel_and_decrements(api: Api, stack: LocalStack) -> None:
    program_id, _ = _setup(api)
    counting = rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [
            {"type": "COUNTER", "key": "purchase_count", "value": "1"},
            {"type": "COUNTER", "key": "lifetime_spend", "value": "event.amount"},
            {"type": "COUNTER", "key": "visits", "value": "1"},
            {"type": "COUNTER", "key": "visits", "value": "1"},
        ],
    )
    rule(
        api,
        program_id,
        "event.type == 'refund'",
        [{"type": "COUNTER", "key": "lifetime_spend", "value": "-event.amount"}],
    )
    who = _member(api, program_id, "count-1")
    api.put(f"/v1/participants/{who}/state/counters/purchase_count", json={"value": "7"})
    api.put(f"/v1/participants/{who}/state/counters/lifetime_spend", json={"value": "340.00"})

    event = _run(api, stack, program_id, {"type": "purchase", "amount": 49.99}, external_id="count-1")
    assert event["status"] == "COMPLETED", event
    counters = {c["key"]: c["value"] for c in api.get(f"/v1/participants/{who}/state/counters").json()["data"]}
    assert counters == {"purchase_count": "8", "lifetime_spend": "389.99", "visits": "2"}
    assert [a["resolved"]["value"] for a in _actions(event, counting["id"])][:2] == ["1", "49.99"]

    refund = _run(api, stack, program_id, {"type": "refund", "amount": 9.99}, external_id="count-1")
    assert refund["status"] == "COMPLETED", refund
    assert api.get(f"/v1/participants/{who}/state/counters/lifetime_spend").json()["value"] == "380"

    _failed(_run(api, stack, program_id, {"type": "refund", "amount": "lots"}, external_id="count-1"), "COUNTER")
    _failed(_run(api, stack, program_id, {"type": "refund"}, external_id="count-1"), "COUNTER", "amount")
    assert api.get(f"/v1/participants/{who}/state/counters/lifetime_spend").json()["value"] == "380"


def test_counter_reset_after_configures_the_auto_reset(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, _ = _setup(api)
    rule(
        api,
        program_id,
        "event.type == 'visit'",
        [{"type": "COUNTER", "key": "weekly", "value": "1", "reset_after": "168h"}],
    )
    for _ in range(2):
        assert _run(api, stack, program_id, {"type": "visit"}, external_id="count-2")["status"] == "COMPLETED"
    who = participant_id(api, "count-2")
    weekly = api.get(f"/v1/participants/{who}/state/counters/weekly").json()
    assert (weekly["value"], weekly["reset_after"]) == ("2", "168h") and weekly["last_reset_at"]

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(hours=169).total_seconds()))
    assert api.get(f"/v1/participants/{who}/state/counters/weekly").json()["value"] == "0"
    assert _run(api, stack, program_id, {"type": "visit"}, external_id="count-2")["status"] == "COMPLETED"
    assert api.get(f"/v1/participants/{who}/state/counters/weekly").json()["value"] == "1"

    # an action without reset_after keeps the window; reset_after "" removes it (03 §5.4.8)
    rule(api, program_id, "event.type == 'plain'", [{"type": "COUNTER", "key": "weekly", "value": "1"}])
    assert _run(api, stack, program_id, {"type": "plain"}, external_id="count-2")["status"] == "COMPLETED"
    assert api.get(f"/v1/participants/{who}/state/counters/weekly").json()["reset_after"] == "168h"
    rule(
        api,
        program_id,
        "event.type == 'forever'",
        [{"type": "COUNTER", "key": "weekly", "value": "1", "reset_after": ""}],
    )
    assert _run(api, stack, program_id, {"type": "forever"}, external_id="count-2")["status"] == "COMPLETED"
    forever = api.get(f"/v1/participants/{who}/state/counters/weekly").json()
    assert forever == {"key": "weekly", "value": "3", "reset_after": None, "last_reset_at": None}
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(hours=2 * 169).total_seconds()))
    assert api.get(f"/v1/participants/{who}/state/counters/weekly").json()["value"] == "3"


# ----------------------------------------------------------- SET_ATTRIBUTE


def test_set_attribute_literal_and_cel_values(api: Api, stack: LocalStack) -> None:
    program_id, _ = _setup(api)
    setting = rule(
        api,
        program_id,
        "event.type == 'profile'",
        [
            {"type": "SET_ATTRIBUTE", "key": "tier_name", "value": "gold"},
            {"type": "SET_ATTRIBUTE", "key": "region", "value": "event.region"},
        ],
    )
    rule(api, program_id, "event.type == 'broken'", [{"type": "SET_ATTRIBUTE", "key": "city", "value": "event.city"}])
    event = _run(api, stack, program_id, {"type": "profile", "region": "emea"}, external_id="attr-1")
    assert event["status"] == "COMPLETED", event
    who = participant_id(api, "attr-1")
    attributes = api.get(f"/v1/participants/{who}/state/attributes").json()["data"]
    assert attributes == [{"key": "region", "value": "emea"}, {"key": "tier_name", "value": "gold"}]
    assert [a["resolved"]["value"] for a in _actions(event, setting["id"])] == ["gold", "emea"]

    # a new value replaces the old one
    assert (
        _run(api, stack, program_id, {"type": "profile", "region": "apac"}, external_id="attr-1")["status"]
        == "COMPLETED"
    )
    assert _attributes(api, who) == {"region": "apac", "tier_name": "gold"}

    missing = _run(api, stack, program_id, {"type": "broken"}, external_id="attr-1")
    _failed(missing, "city")
    assert "city" not in _attributes(api, who)


# SET_TIER: tests/api/test_tier_rules.py


# ---------------------------------------------------------- SCHEDULE_EVENT


def test_schedule_event_fires_a_system_event_after_the_delay(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, points = _setup(api)
    scheduling = rule(
        api,
        program_id,
        "event.type == 'signup'",
        [
            {
                "type": "SCHEDULE_EVENT",
                "event_name": "day_later",
                "delay": "1h",
                "payload": {"bonus": 5, "type": "overridden"},
            }
        ],
    )
    follow_up = rule(
        api,
        program_id,
        "event.type == 'day_later'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.bonus"}],
    )
    source = _run(api, stack, program_id, {"type": "signup"}, external_id="sched-1")
    assert source["status"] == "COMPLETED", source
    assert _actions(source, scheduling["id"])[0]["resolved"]["event_name"] == "day_later"
    who = participant_id(api, "sched-1")

    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    assert _system_events(api, who) == []
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(30 * 60))
    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    assert _system_events(api, who) == []

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3600 + 60))
    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    (made,) = _system_events(api, who)
    assert made["event_data"] == {"type": "day_later", "bonus": 5}
    assert made["program_id"] == program_id and made["participant_id"] == who
    # its logical time is the fire time: an hour after the source was processed
    delay = _moment(made["event_timestamp"]) - _moment(source["processed_at"])
    assert timedelta(minutes=59) < delay < timedelta(minutes=61), delay
    detail = processed(api, stack, made["id"])
    assert detail["status"] == "COMPLETED", detail
    assert [e["rule_id"] for e in detail["rule_evaluations"] if e["status"] == "SUCCESS"] == [follow_up["id"]]
    assert balance(api, who, points["id"])["available"] == "5"

    stack.fire_schedule("AutomationSchedulerFunction")  # fired once only
    stack.drain()
    assert len(_system_events(api, who)) == 1


def test_a_failed_source_schedules_nothing_and_a_retried_one_schedules_once(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "event.type == 'order'",
        [
            {"type": "SCHEDULE_EVENT", "event_name": "review_request", "delay": "1h"},
            {"type": "DEBIT", "asset_id": points["id"], "amount": "10"},
        ],
    )
    who = _member(api, program_id, "sched-2")
    source = _run(api, stack, program_id, {"type": "order"}, key="order-1", external_id="sched-2")
    _failed(source, "DEBIT", "insufficient")
    assert source["retry_count"] == 5  # five attempts, none of which scheduled anything

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3600 + 60))
    stack.fire_schedule("AutomationSchedulerFunction")
    stack.drain()
    assert _system_events(api, who) == []

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", "0")
    _adjust(api, program_id, points["id"], who, "10")
    assert api.post(f"/v1/events/{source['id']}/retry").status_code == 200
    assert processed(api, stack, source["id"])["status"] == "COMPLETED"
    # resending the source is a replay: not processed again
    replay = send(api, program_id, {"type": "order"}, key="order-1", external_id="sched-2")
    assert replay["id"] == source["id"]
    assert processed(api, stack, source["id"])["status"] == "COMPLETED"
    assert api.post(f"/v1/events/{source['id']}/retry").status_code == 409

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3600 + 60))
    for _ in range(2):
        stack.fire_schedule("AutomationSchedulerFunction")
        stack.drain()
    made = _system_events(api, who)
    assert [e["event_data"] for e in made] == [{"type": "review_request"}]
    assert balance(api, who, points["id"])["available"] == "0"


# --------------------------------------------------------------- BROADCAST


def test_broadcast_makes_one_system_event_per_enrolled_participant(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    other = api.create_program(name="Elsewhere")
    rule(
        api,
        program_id,
        "event.type == 'announce'",
        [{"type": "BROADCAST", "event_name": "promo", "payload": {"points": 7}}],
        name="announce",
    )
    promo = rule(
        api,
        program_id,
        "event.type == 'promo'",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "event.points"},
            {"type": "BROADCAST", "event_name": "promo", "payload": {"points": 7}},
        ],
        name="promo",
    )
    members = [_member(api, program_id, f"bc-{i}") for i in range(3)]
    outsider = _member(api, other["id"], "bc-outsider")

    source = _run(api, stack, program_id, {"type": "announce"}, external_id="bc-0")
    assert source["status"] == "COMPLETED", source
    stack.drain()
    made = api.get(f"/v1/events?event_type=SYSTEM&program_id={program_id}&limit=200").json()["data"]
    assert sorted(e["participant_id"] for e in made) == sorted(members)
    for event in made:
        assert event["event_data"] == {"type": "promo", "points": 7}
        detail = processed(api, stack, event["id"])
        assert detail["status"] == "COMPLETED", detail
        actions = _actions(detail, promo["id"])
        assert actions[1]["type"] == "BROADCAST" and "event_name" not in actions[1]["resolved"]
    for member in members:
        assert balance(api, member, points["id"])["available"] == "7"
    assert balance(api, outsider, points["id"])["available"] == "0"
    stack.drain()
    # the broadcast events did not broadcast again
    assert len(api.get("/v1/events?event_type=SYSTEM&limit=200").json()["data"]) == 3


# ----------------------------------------------------------------- targets


def test_referral_credit_goes_to_the_participant_named_by_external_id(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    referral = rule(
        api,
        program_id,
        "event.type == 'signup' && has(event.referrer_id)",
        [
            {
                "type": "CREDIT",
                "asset_id": points["id"],
                "amount": "500",
                "target": {"type": "PARTICIPANT", "external_id": "event.referrer_id"},
            }
        ],
    )
    referrer = _member(api, program_id, "ref-alice")
    event = _run(api, stack, program_id, {"type": "signup", "referrer_id": "ref-alice"}, external_id="ref-bob")
    assert event["status"] == "COMPLETED", event
    assert balance(api, referrer, points["id"])["available"] == "500"
    assert balance(api, participant_id(api, "ref-bob"), points["id"])["available"] == "0"
    assert _actions(event, referral["id"])[0]["resolved"]["target_id"] == referrer

    unknown = _run(api, stack, program_id, {"type": "signup", "referrer_id": "ref-nobody"}, external_id="ref-carol")
    _failed(unknown, "ref-nobody")
    assert api.get("/v1/participants?external_id=ref-nobody").json()["data"] == []

    # the status gate applies to the target, not to the event's participant (03 §5.2)
    assert api.patch(f"/v1/participants/{referrer}/status", json={"status": "SUSPENDED"}).status_code == 200
    _failed(
        _run(api, stack, program_id, {"type": "signup", "referrer_id": "ref-alice"}, external_id="ref-dan"), "SUSPENDED"
    )
    assert balance(api, referrer, points["id"])["available"] == "500"


def test_target_by_participant_id_and_unknown_participant_id(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "event.type == 'gift'",
        [
            {
                "type": "CREDIT",
                "asset_id": points["id"],
                "amount": "25",
                "target": {"type": "PARTICIPANT", "participant_id": "event.friend_id"},
            }
        ],
    )
    friend = _member(api, program_id, "friend-1")
    event = _run(api, stack, program_id, {"type": "gift", "friend_id": friend}, external_id="giver-1")
    assert event["status"] == "COMPLETED", event
    assert balance(api, friend, points["id"])["available"] == "25"
    assert balance(api, participant_id(api, "giver-1"), points["id"])["available"] == "0"
    stranger = str(uuid.uuid4())
    _failed(_run(api, stack, program_id, {"type": "gift", "friend_id": stranger}, external_id="giver-1"), stranger)
    _failed(_run(api, stack, program_id, {"type": "gift"}, external_id="giver-1"), "friend_id")


def test_asset_actions_default_to_the_recipient_and_state_actions_to_the_participant(
    api: Api, stack: LocalStack
) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "event.type == 'gift'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "15"}, {"type": "TAG", "tag": "giver"}],
    )
    event = _run(api, stack, program_id, {"type": "gift"}, external_id="rcp-giver", recipient_external_id="rcp-taker")
    assert event["status"] == "COMPLETED", event
    giver, taker = participant_id(api, "rcp-giver"), participant_id(api, "rcp-taker")
    assert event["recipient_id"] == taker
    assert balance(api, taker, points["id"])["available"] == "15"
    assert balance(api, giver, points["id"])["available"] == "0"
    assert _tags(api, f"/v1/participants/{giver}") == ["giver"]
    assert _tags(api, f"/v1/participants/{taker}") == []


def test_group_target_credits_the_group_and_program_target_fails_a_credit(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    member = _member(api, program_id, "grp-1")
    created = api.post("/v1/groups", json={"name": "Team", "members": [{"participant_id": member, "role": "ADMIN"}]})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    team = rule(
        api,
        program_id,
        "event.type == 'team'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "25", "target": {"type": "GROUP", "id": group_id}}],
    )
    rule(
        api,
        program_id,
        "event.type == 'program'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "5", "target": {"type": "PROGRAM"}}],
    )
    event = _run(api, stack, program_id, {"type": "team"}, external_id="grp-1")
    assert event["status"] == "COMPLETED", event
    rows = api.get(f"/v1/groups/{group_id}/balances").json()["data"]
    assert [(r["asset_id"], r["balance"]) for r in rows] == [(points["id"], "25")]
    assert balance(api, member, points["id"])["available"] == "0"
    (entry,) = _entries(api, event["id"])
    assert entry["rule_id"] == team["id"]
    assert ("GROUP", group_id, "AVAILABLE", "25") in _postings(entry)

    _failed(_run(api, stack, program_id, {"type": "program"}, external_id="grp-1"), "program")

    rule(
        api,
        program_id,
        "event.type == 'team_tag'",
        [{"type": "TAG", "tag": "Champions", "target": {"type": "GROUP", "id": group_id}}],
    )
    assert _run(api, stack, program_id, {"type": "team_tag"}, external_id="grp-1")["status"] == "COMPLETED"
    assert _tags(api, f"/v1/groups/{group_id}") == ["champions"]
    assert _tags(api, f"/v1/participants/{member}") == []

    missing = str(uuid.uuid4())
    rule(
        api,
        program_id,
        "event.type == 'lost'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "5", "target": {"type": "GROUP", "id": missing}}],
    )
    _failed(_run(api, stack, program_id, {"type": "lost"}, external_id="grp-1"), missing)
    assert [r["balance"] for r in api.get(f"/v1/groups/{group_id}/balances").json()["data"]] == ["25"]


# ----------------------------------------------------- participant status


FINANCIAL = {
    "CREDIT": {"type": "CREDIT", "amount": "5"},
    "DEBIT": {"type": "DEBIT", "amount": "5"},
    "HOLD": {"type": "HOLD", "amount": "5"},
    "RELEASE": {"type": "RELEASE"},
    "FORFEIT": {"type": "FORFEIT", "amount": "5", "bucket": "AVAILABLE"},
    "COUNTER": {"type": "COUNTER", "key": "visits", "value": "1"},
}


@pytest.mark.parametrize("kind", sorted(FINANCIAL))
def test_financial_actions_fail_for_a_suspended_participant(api: Api, stack: LocalStack, kind: str) -> None:
    program_id, points = _setup(api)
    action = dict(FINANCIAL[kind])
    if kind != "COUNTER":
        action["asset_id"] = points["id"]
    rule(api, program_id, "true", [action])
    who = _member(api, program_id, "susp-1")
    _adjust(api, program_id, points["id"], who, "50")
    hold = api.post(
        f"/v1/participants/{who}/balances/hold",
        json={"program_id": program_id, "asset_id": points["id"], "amount": "10", "description": "setup"},
    )
    assert hold.status_code == 200, hold.text
    assert api.patch(f"/v1/participants/{who}/status", json={"status": "SUSPENDED"}).status_code == 200
    event = _run(api, stack, program_id, {"type": "x"}, external_id="susp-1")
    _failed(event, "SUSPENDED")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "40",
        "held": "10",
        "deferred": "0",
    }
    assert api.get(f"/v1/participants/{who}/state/counters/visits").status_code == 404

    # the same rule runs once the participant is active again
    assert api.patch(f"/v1/participants/{who}/status", json={"status": "ACTIVE"}).status_code == 200
    assert api.post(f"/v1/events/{event['id']}/retry").status_code == 200
    assert processed(api, stack, event["id"])["status"] == "COMPLETED"


def test_a_closed_participant_gets_no_credit_but_can_be_tagged(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(api, program_id, "event.type == 'credit'", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    rule(api, program_id, "event.type == 'tag'", [{"type": "TAG", "tag": "gone"}])
    who = _member(api, program_id, "closed-1")
    assert api.patch(f"/v1/participants/{who}/status", json={"status": "CLOSED"}).status_code == 200
    _failed(_run(api, stack, program_id, {"type": "credit"}, external_id="closed-1"), "CLOSED")
    assert balance(api, who, points["id"])["available"] == "0"
    assert _run(api, stack, program_id, {"type": "tag"}, external_id="closed-1")["status"] == "COMPLETED"
    assert _tags(api, f"/v1/participants/{who}") == ["gone"]


def test_state_only_rules_complete_for_a_suspended_participant(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(
        api,
        program_id,
        "event.type == 'soft'",
        [{"type": "TAG", "tag": "Flagged"}, {"type": "SET_ATTRIBUTE", "key": "note", "value": "event.note"}],
    )
    rule(
        api,
        program_id,
        "event.type == 'mixed'",
        [{"type": "TAG", "tag": "mixed"}, {"type": "CREDIT", "asset_id": points["id"], "amount": "5"}],
    )
    who = _member(api, program_id, "susp-2")
    assert api.patch(f"/v1/participants/{who}/status", json={"status": "SUSPENDED"}).status_code == 200
    soft = _run(api, stack, program_id, {"type": "soft", "note": "review"}, external_id="susp-2")
    assert soft["status"] == "COMPLETED", soft
    assert _tags(api, f"/v1/participants/{who}") == ["flagged"]
    assert _attributes(api, who) == {"note": "review"}

    _failed(_run(api, stack, program_id, {"type": "mixed"}, external_id="susp-2"), "SUSPENDED")
    assert _tags(api, f"/v1/participants/{who}") == ["flagged"]


# ------------------------------------------------------ amounts and journal


def test_amount_above_max_transaction_amount_fails_the_event(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api, max_transaction_amount="100")
    rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount"}],
    )
    assert (
        _run(api, stack, program_id, {"type": "purchase", "amount": 100}, external_id="max-1")["status"] == "COMPLETED"
    )
    over = _run(api, stack, program_id, {"type": "purchase", "amount": 101}, external_id="max-1")
    _failed(over, "max_transaction_amount")
    assert _entries(api, over["id"]) == []
    assert balance(api, participant_id(api, "max-1"), points["id"])["available"] == "100"
    rule(
        api,
        program_id,
        "event.type == 'clawback'",
        [{"type": "DEBIT", "asset_id": points["id"], "amount": "event.amount", "allow_negative": True}],
    )
    _failed(
        _run(api, stack, program_id, {"type": "clawback", "amount": 101}, external_id="max-1"),
        "DEBIT",
        "max_transaction_amount",
    )
    _failed(_run(api, stack, program_id, {"type": "purchase", "amount": 0}, external_id="max-1"), "positive")
    _failed(_run(api, stack, program_id, {"type": "purchase", "amount": -5}, external_id="max-1"), "positive")
    assert balance(api, participant_id(api, "max-1"), points["id"])["available"] == "100"


def test_amount_with_more_decimals_than_the_scale_fails_the_event(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api)
    rule(api, program_id, "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "event.amount"}])
    _failed(_run(api, stack, program_id, {"amount": 1.5}, external_id="scale-1"), "scale")
    assert balance(api, participant_id(api, "scale-1"), points["id"])["available"] == "0"


def test_every_journal_entry_of_an_event_carries_its_event_and_rule(api: Api, stack: LocalStack) -> None:
    program_id, points = _setup(api, inventory_mode="LOT")
    earn = rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "100"},
            {
                "type": "CREDIT",
                "asset_id": points["id"],
                "amount": "5",
                "bucket": "HELD",
                "reference_id": "event.order",
            },
        ],
        name="earn",
        order=10,
    )
    hold = rule(
        api,
        program_id,
        "event.type == 'purchase'",
        [
            {"type": "HOLD", "asset_id": points["id"], "amount": "30"},
            {"type": "DEBIT", "asset_id": points["id"], "amount": "10"},
        ],
        name="hold",
        order=20,
    )
    event = _run(api, stack, program_id, {"type": "purchase", "order": "O-1"}, external_id="je-1")
    assert event["status"] == "COMPLETED", event
    entries = _entries(api, event["id"])
    assert sorted((e["action_type"], e["rule_id"]) for e in entries) == sorted(
        [("CREDIT", earn["id"]), ("CREDIT", earn["id"]), ("HOLD", hold["id"]), ("DEBIT", hold["id"])]
    )
    for entry in entries:
        assert entry["event_id"] == event["id"] and entry["program_id"] == program_id
        assert entry["created_by_api_key_id"] is None
        assert sum(Decimal(p["amount"]) for p in entry["postings"]) == 0
    who = participant_id(api, "je-1")
    assert balance(api, who, points["id"]) == {
        "asset_id": points["id"],
        "available": "60",
        "held": "35",
        "deferred": "0",
    }
