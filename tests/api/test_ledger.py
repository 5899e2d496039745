"""The double-entry ledger through HTTP (04): the spec's worked examples with their exact
postings, the gates, validation, idempotency, concurrency and every read endpoint."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.conftest import Api


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


# ------------------------------------------------------- worked examples


def test_e1_unlimited_credit_mints_from_system_issuance(ledger: Ledger) -> None:
    alice = ledger.participant()
    response = ledger.adjust(alice, "10")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "CREDIT" and body["amount"] == "10" and body["bucket"] == "AVAILABLE"
    assert body["balance"] == {"available": "10", "held": "0", "deferred": "0"}
    assert body["message"] == "Balance adjusted successfully"
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-10"),
        ("PARTICIPANT", alice, "AVAILABLE", "10"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{body['journal_entry_id']}").json()
    assert entry["action_type"] == "CREDIT" and entry["event_id"] is None and entry["rule_id"] is None
    assert entry["created_by_api_key_id"] and entry["program_id"] == ledger.program["id"]
    assert entry["program_name"] == "Everyday Rewards" and len(entry["entry_hash"]) == 64


def test_e2_prefunded_credit_draws_from_the_wallet(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert ledger.fund("1000").status_code == 200
    response = ledger.adjust(alice, "10", asset=ledger.cash)
    assert response.status_code == 200
    assert postings(ledger.api, response.json()["journal_entry_id"]) == [
        ("PROGRAM", ledger.program["id"], "AVAILABLE", "-10.00"),
        ("PARTICIPANT", alice, "AVAILABLE", "10.00"),
    ]
    wallet = ledger.api.get(f"/v1/programs/{ledger.program['id']}/balance").json()["data"]
    assert wallet == [
        {
            "asset_id": ledger.cash["id"],
            "available": "990.00",
            "held": "0.00",
            "deferred": "0.00",
            "issuance_policy": "PREFUNDED",
        }
    ]


def test_e2_a_short_wallet_refuses_the_credit_and_writes_nothing(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.fund("5")
    response = ledger.adjust(alice, "10", asset=ledger.cash)
    assert response.status_code == 422 and response.json()["code"] == "insufficient_balance"
    assert ledger.balance(alice, ledger.cash) == {}
    assert ledger.api.get(f"/v1/journal-entries?participant_id={alice}").json()["data"] == []
    assert ledger.api.get(f"/v1/programs/{ledger.program['id']}/balance").json()["data"][0]["available"] == "5.00"


def test_e3_fund_then_burn(ledger: Ledger) -> None:
    funded = ledger.fund("10000")
    assert funded.json()["available"] == "10000.00" and funded.json()["message"] == "Program funded successfully"
    assert postings(ledger.api, funded.json()["journal_entry_id"]) == [
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-10000.00"),
        ("PROGRAM", ledger.program["id"], "AVAILABLE", "10000.00"),
    ]
    burned = ledger.api.post(
        f"/v1/programs/{ledger.program['id']}/assets/{ledger.cash['id']}/burn",
        json={"amount": "500", "description": "trim"},
    )
    assert burned.status_code == 200
    assert burned.json()["available"] == "9500.00"
    assert postings(ledger.api, burned.json()["journal_entry_id"]) == [
        ("PROGRAM", ledger.program["id"], "AVAILABLE", "-500.00"),
        ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "500.00"),
    ]
    too_much = ledger.api.post(
        f"/v1/programs/{ledger.program['id']}/assets/{ledger.cash['id']}/burn", json={"amount": "9500.01"}
    )
    assert too_much.status_code == 422 and too_much.json()["code"] == "insufficient_balance"
    history = ledger.api.get(f"/v1/programs/{ledger.program['id']}/history").json()["data"]
    assert [(r["action_type"], r["amount"]) for r in history] == [("FUND", "10000.00"), ("BURN", "-500.00")]


def test_fund_of_an_unlimited_asset_is_a_no_op(ledger: Ledger) -> None:
    response = ledger.api.post(
        f"/v1/programs/{ledger.program['id']}/assets/{ledger.points['id']}/fund", json={"amount": "10"}
    )
    assert response.status_code == 200
    assert response.json() == {"available": "0", "journal_entry_id": None, "message": "Program funded successfully"}
    wallets = ledger.api.get(f"/v1/programs/{ledger.program['id']}/balance").json()["data"]
    assert [(w["asset_id"], w["available"]) for w in wallets] == [
        (ledger.cash["id"], "0.00")
    ]  # UNLIMITED is not listed
    assert ledger.api.get("/v1/journal-entries").json()["data"] == []


def test_e6_forfeit_from_held_even_when_closed(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    ledger.operation(alice, "hold", amount="60")
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "CLOSED"})
    response = ledger.operation(alice, "forfeit", bucket="HELD", amount="40")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["operation"] == "FORFEIT" and body["amount_processed"] == "40"
    assert body["balance"] == {"available": "40", "held": "20", "deferred": "0"}
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "HELD", "-40"),
        ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "40"),
    ]


def test_hold_and_release_move_between_buckets(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    held = ledger.operation(alice, "hold", amount="30").json()
    assert held["operation"] == "HOLD" and held["balance"] == {"available": "70", "held": "30", "deferred": "0"}
    assert postings(ledger.api, held["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-30"),
        ("PARTICIPANT", alice, "HELD", "30"),
    ]
    released = ledger.operation(alice, "release", amount="50").json()  # "up to": only 30 is held
    assert released["amount_processed"] == "30" and released["balance"] == {
        "available": "100",
        "held": "0",
        "deferred": "0",
    }
    nothing = ledger.operation(alice, "release")
    assert nothing.status_code == 422 and nothing.json()["code"] == "insufficient_balance"
    everything = ledger.operation(alice, "hold").json()
    assert everything["amount_processed"] == "100"
    too_much = ledger.operation(alice, "hold", amount="1")
    assert too_much.status_code == 422


def test_debit_clawback_and_its_limits(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "20")
    refused = ledger.adjust(alice, "25", type="DEBIT")
    assert refused.status_code == 422 and refused.json()["code"] == "insufficient_balance"
    assert refused.json()["details"] == {"available": "20", "requested": "25"}
    clawback = ledger.adjust(alice, "25", type="DEBIT", allow_negative=True)
    assert clawback.status_code == 200
    assert clawback.json()["balance"]["available"] == "-5"
    assert postings(ledger.api, clawback.json()["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-25"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "25"),
    ]
    assert ledger.adjust(alice, "30").json()["balance"]["available"] == "25"
    held_negative = ledger.adjust(alice, "1", type="DEBIT", bucket="HELD", allow_negative=True)
    assert held_negative.status_code == 422  # HELD never goes negative


# ------------------------------------------------------------- gates


def test_program_and_asset_gates(ledger: Ledger, api: Api) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "50")
    other_program = api.create_program(name="Other")
    unlinked = ledger.api.post(
        f"/v1/participants/{alice}/balances/adjust",
        json={
            "program_id": other_program["id"],
            "asset_id": ledger.points["id"],
            "type": "CREDIT",
            "amount": "1",
            "description": "x",
        },
    )
    assert unlinked.status_code == 422 and unlinked.json()["code"] == "asset_not_linked"
    api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "SUSPENDED"})
    for response in (ledger.adjust(alice, "1"), ledger.operation(alice, "hold", amount="1"), ledger.fund("1")):
        assert response.status_code == 422 and response.json()["code"] == "program_not_active"
    assert ledger.operation(alice, "forfeit", bucket="AVAILABLE", amount="1").status_code == 200  # exempt
    api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "ACTIVE"})
    api.patch(f"/v1/assets/{ledger.points['id']}", json={"status": "ARCHIVED"})
    archived = ledger.adjust(alice, "1")
    assert archived.status_code == 422 and archived.json()["code"] == "asset_archived"
    assert ledger.balance(alice) == {"available": "49", "held": "0", "deferred": "0"}  # reads keep working


@pytest.mark.parametrize("status", ["SUSPENDED", "CLOSED"])
def test_inactive_participants_cannot_adjust_hold_or_release(ledger: Ledger, status: str) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "50")
    ledger.operation(alice, "hold", amount="10")
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": status})
    for response in (
        ledger.adjust(alice, "1"),
        ledger.operation(alice, "hold", amount="1"),
        ledger.operation(alice, "release"),
    ):
        assert response.status_code == 409 and response.json()["code"] == "participant_inactive"
    assert ledger.operation(alice, "forfeit", bucket="AVAILABLE").status_code == 200


def test_unknown_owner_program_or_asset_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    assert ledger.adjust(str(uuid.uuid4()), "1").status_code == 404
    body = {
        "program_id": str(uuid.uuid4()),
        "asset_id": ledger.points["id"],
        "type": "CREDIT",
        "amount": "1",
        "description": "x",
    }
    assert ledger.api.post(f"/v1/participants/{alice}/balances/adjust", json=body).status_code == 404
    body = {
        "program_id": ledger.program["id"],
        "asset_id": str(uuid.uuid4()),
        "type": "CREDIT",
        "amount": "1",
        "description": "x",
    }
    assert ledger.api.post(f"/v1/participants/{alice}/balances/adjust", json=body).status_code == 404
    assert other_api.get(f"/v1/participants/{alice}/balances").status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"amount": "0"}, 400, "validation_error"),
        ({"amount": "-5"}, 400, "validation_error"),
        ({"amount": 5}, 400, "validation_error"),
        ({"amount": "1.5"}, 400, "invalid_scale"),
        ({"amount": "1.0"}, 200, None),
        ({"type": "REFUND"}, 400, "validation_error"),
        ({"bucket": "DEFERRED"}, 400, "validation_error"),
        ({"description": ""}, 400, "validation_error"),
        ({"description": "d" * 501}, 400, "validation_error"),
        ({"allow_negative": "yes"}, 400, "validation_error"),
        ({"program_id": "nope"}, 400, "validation_error"),
    ],
)
def test_adjust_validation(ledger: Ledger, fields: dict[str, Any], status: int, code: str | None) -> None:
    alice = ledger.participant()
    response = ledger.adjust(alice, fields.pop("amount", "1"), **fields)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code


def test_max_transaction_amount(ledger: Ledger, api: Api) -> None:
    alice = ledger.participant()
    api.patch(f"/v1/assets/{ledger.points['id']}", json={"max_transaction_amount": "100"})
    assert ledger.adjust(alice, "100").status_code == 200
    over = ledger.adjust(alice, "101")
    assert over.status_code == 422 and over.json()["code"] == "max_transaction_amount_exceeded"
    assert ledger.adjust(alice, "101", type="DEBIT").json()["code"] == "max_transaction_amount_exceeded"


def test_forfeit_requires_a_bucket_and_lot_fields_need_lots(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    missing = ledger.operation(alice, "forfeit", amount="1")
    assert missing.status_code == 400 and missing.json()["details"]["field"] == "bucket"
    lot_only = ledger.operation(alice, "hold", amount="1", reference_id="auth_1")
    assert lot_only.status_code == 400 and lot_only.json()["details"]["field"] == "reference_id"
    window = ledger.operation(alice, "hold", earned_from="2025-02-01T00:00:00Z", earned_to="2025-01-01T00:00:00Z")
    assert window.status_code == 400


# -------------------------------------------------------- idempotency


def test_hold_idempotency(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    first = ledger.operation(alice, "hold", amount="30", idempotency_key="order-7781-hold")
    replay = ledger.operation(alice, "hold", amount="30.000", idempotency_key="order-7781-hold")
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert ledger.balance(alice)["held"] == "30"
    conflict = ledger.operation(alice, "hold", amount="31", idempotency_key="order-7781-hold")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    # the key is per operation family: a release may reuse it
    assert ledger.operation(alice, "release", idempotency_key="order-7781-hold").status_code == 200
    # another participant with the same key and otherwise equal body is a different payload
    bob = ledger.participant()
    ledger.adjust(bob, "100")
    assert ledger.operation(bob, "hold", amount="30", idempotency_key="order-7781-hold").status_code == 409


def test_a_failed_operation_does_not_consume_its_key(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert ledger.operation(alice, "hold", amount="30", idempotency_key="k").status_code == 422
    ledger.adjust(alice, "30")
    assert ledger.operation(alice, "hold", amount="30", idempotency_key="k").status_code == 200


def test_racing_holds_with_one_key_hold_once(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def hold() -> None:
        barrier.wait()
        results.append(ledger.operation(alice, "hold", amount="10", idempotency_key="race"))

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["journal_entry_id"] for r in results}) == 1
    assert ledger.balance(alice) == {"available": "90", "held": "10", "deferred": "0"}


# -------------------------------------------------------- concurrency


def test_fifty_parallel_debits_never_overdraw(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    barrier = threading.Barrier(50)
    statuses: list[Any] = []

    def debit() -> None:
        barrier.wait()
        response = ledger.adjust(alice, "10", type="DEBIT")
        statuses.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=debit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count((200, None)) == 10
    assert statuses.count((422, "insufficient_balance")) == 40
    assert ledger.balance(alice) == {"available": "0", "held": "0", "deferred": "0"}
    debits = ledger.api.get(f"/v1/journal-entries?participant_id={alice}&action_type=DEBIT&limit=200").json()["data"]
    assert len(debits) == 10


def test_concurrent_credits_to_one_participant_lose_nothing(ledger: Ledger) -> None:
    alice = ledger.participant()
    barrier = threading.Barrier(20)

    def credit() -> None:
        barrier.wait()
        assert ledger.adjust(alice, "5").status_code == 200

    threads = [threading.Thread(target=credit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ledger.balance(alice)["available"] == "100"


# -------------------------------------------------------------- reads


def test_journal_filters(ledger: Ledger, api: Api) -> None:
    alice, bob = ledger.participant(external_id="alice-ext"), ledger.participant()
    ledger.fund("100")
    credit = ledger.adjust(alice, "50").json()["journal_entry_id"]
    hold = ledger.operation(alice, "hold", amount="20").json()["journal_entry_id"]
    cash = ledger.adjust(bob, "7.5", asset=ledger.cash).json()["journal_entry_id"]

    def ids(query: str) -> list[str]:
        response = api.get(f"/v1/journal-entries{query}")
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["data"]]

    everything = ids("")
    assert everything[:3] == [cash, hold, credit] and len(everything) == 4  # newest first, with the fund
    assert ids(f"?participant_id={alice}") == [hold, credit]
    assert ids("?external_id=alice-ext") == [hold, credit]
    assert ids("?external_id=nobody") == []
    assert ids(f"?asset_id={ledger.cash['id']}&participant_id={bob}") == [cash]
    assert ids("?bucket=HELD") == [hold]
    assert ids("?action_type=HOLD") == [hold]
    assert ids("?min_amount=40") == [credit, ids("?action_type=FUND")[0]]
    assert ids("?max_amount=-49") == [credit, ids("?action_type=FUND")[0]]
    assert ids("?min_amount=-8&max_amount=-7") == [cash]
    assert ids(f"?program_id={ledger.program['id']}&limit=2") == [cash, hold]
    page = api.get("/v1/journal-entries?limit=3").json()
    rest = api.get(f"/v1/journal-entries?limit=3&cursor={page['pagination']['next_cursor']}").json()
    assert [e["id"] for e in page["data"] + rest["data"]] == everything
    assert all(entry["postings"] for entry in page["data"])
    for bad in [
        f"?participant_id={alice}&external_id=x",
        "?bucket=NONE",
        "?action_type=GIFT",
        "?min_amount=abc",
        "?from=soon",
    ]:
        assert api.get(f"/v1/journal-entries{bad}").status_code == 400


def test_journal_entry_of_another_organization_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    entry = ledger.adjust(alice, "5").json()["journal_entry_id"]
    assert other_api.get(f"/v1/journal-entries/{entry}").status_code == 404
    assert ledger.api.get(f"/v1/journal-entries/{uuid.uuid4()}").status_code == 404
    assert other_api.get("/v1/journal-entries").json()["data"] == []


def test_statement_running_balances_and_window(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    ledger.adjust(alice, "30", type="DEBIT")
    ledger.operation(alice, "hold", amount="20")
    ledger.adjust(alice, "5")
    url = f"/v1/participants/{alice}/statement?asset_id={ledger.points['id']}"
    full = ledger.api.get(url).json()
    assert full["opening_balance"] == "0" and full["closing_balance"] == "75"
    assert [(r["action_type"], r["bucket"], r["amount"], r["running_balance"]) for r in full["data"]] == [
        ("CREDIT", "AVAILABLE", "100", "100"),
        ("DEBIT", "AVAILABLE", "-30", "70"),
        ("HOLD", "AVAILABLE", "-20", "50"),
        ("HOLD", "HELD", "20", "70"),
        ("CREDIT", "AVAILABLE", "5", "75"),
    ]
    second = full["data"][1]["created_at"]
    window = ledger.api.get(f"{url}&from={second}").json()
    assert window["opening_balance"] == "100" and window["data"][0]["running_balance"] == "70"
    assert window["from"] == second and window["to"] is None and "from_" not in window
    held = ledger.api.get(f"{url}&bucket=HELD").json()
    assert held["closing_balance"] == "20" and [r["amount"] for r in held["data"]] == ["20"]
    paged = ledger.api.get(f"{url}&limit=2").json()
    following = ledger.api.get(f"{url}&limit=2&cursor={paged['pagination']['next_cursor']}").json()
    assert [r["running_balance"] for r in paged["data"] + following["data"]] == ["100", "70", "50", "70"]
    assert ledger.api.get(f"/v1/participants/{alice}/statement").status_code == 400  # asset_id is required


def test_activity_history(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    ledger.operation(alice, "hold", amount="4")
    rows = ledger.api.get(f"/v1/participants/{alice}/activity/history").json()["data"]
    assert [(r["action_type"], r["bucket"], r["amount"]) for r in rows] == [
        ("CREDIT", "AVAILABLE", "10"),
        ("HOLD", "AVAILABLE", "-4"),
        ("HOLD", "HELD", "4"),
    ]
    held = ledger.api.get(f"/v1/participants/{alice}/activity/history?bucket=HELD").json()["data"]
    assert [r["amount"] for r in held] == ["4"]
    assert rows[0]["event_timestamp"] is None and rows[0]["created_by_api_key_id"]


def test_participant_detail_and_group_balances(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "12")
    detail = ledger.api.get(f"/v1/participants/{alice}").json()
    assert detail["balances"] == [{"asset_id": ledger.points["id"], "available": "12", "held": "0", "deferred": "0"}]
    group = ledger.api.post(
        "/v1/groups", json={"name": "Team", "members": [{"participant_id": alice, "role": "ADMIN"}]}
    ).json()
    body = {
        "program_id": ledger.program["id"],
        "asset_id": ledger.points["id"],
        "type": "CREDIT",
        "amount": "40",
        "description": "pool",
    }
    adjusted = ledger.api.post(f"/v1/groups/{group['id']}/balances/adjust", json=body)
    assert adjusted.status_code == 200 and adjusted.json()["message"] == "Group balance adjusted successfully"
    assert postings(ledger.api, adjusted.json()["journal_entry_id"]) == [
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-40"),
        ("GROUP", group["id"], "AVAILABLE", "40"),
    ]
    held = ledger.api.post(
        f"/v1/groups/{group['id']}/balances/hold",
        json={**{k: body[k] for k in ("program_id", "asset_id")}, "amount": "15", "description": "h"},
    )
    assert held.json()["balance"] == {"available": "25", "held": "15", "deferred": "0"}
    assert ledger.api.get(f"/v1/groups/{group['id']}/balances").json()["data"] == [
        {"asset_id": ledger.points["id"], "balance": "40"}
    ]
    assert ledger.api.get(f"/v1/groups/{group['id']}").json()["balances"] == {ledger.points["id"]: "40"}
    assert ledger.api.get(f"/v1/groups/{group['id']}/balances?program_id={uuid.uuid4()}").json()["data"] == []
    assert ledger.api.get(f"/v1/journal-entries?group_id={group['id']}").json()["data"][0]["action_type"] == "HOLD"
    ledger.api.delete(f"/v1/groups/{group['id']}")
    archived = ledger.api.post(f"/v1/groups/{group['id']}/balances/adjust", json=body)
    assert archived.status_code == 409 and archived.json()["code"] == "group_archived"


def test_amounts_are_exact_decimals(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.fund("1")
    for _ in range(10):
        ledger.adjust(alice, "0.1", asset=ledger.cash)
    assert ledger.balance(alice, ledger.cash)["available"] == "1.00"
    assert Decimal(ledger.api.get(f"/v1/programs/{ledger.program['id']}/balance").json()["data"][0]["available"]) == 0
