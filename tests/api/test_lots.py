"""LOT-mode assets (04 §8): FIFO lots, splitting holds, clawbacks, provisional credits, and the
scheduled maturity and expiry job driven by a moved clock; the spec's worked examples E4, E5,
E7, E8 and E9 with their exact postings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.ledger import Bucket, EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances
from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.conftest import Api
from tests.integration import ledger_invariants


@pytest.fixture
def ledger(api: Api) -> Ledger:
    result = make_ledger(api)
    result.points = api.create_asset(
        result.program["id"],
        name="Lot points",
        symbol=f"LOT{result.points['symbol'][-4:]}",
        inventory_mode="LOT",
        scale=0,
    )
    return result


def _lots(ledger: Ledger, participant: str, query: str = "") -> list[dict[str, Any]]:
    response = ledger.api.get(f"/v1/participants/{participant}/balances/lots?asset_id={ledger.points['id']}{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _credit(ledger: Ledger, participant: str, amount: str, **options: Any) -> Any:
    caller = Caller(ledger.api.organization_id, "rule")
    outcome, _ = balances.credit(
        caller,
        balances.BalanceOwner(EntityType.PARTICIPANT, participant),
        program_id=ledger.program["id"],
        asset_id=ledger.points["id"],
        amount=Decimal(amount),
        **options,
    )
    return outcome


def _own_entries(ledger: Ledger, report: dict[str, Any]) -> list[str]:
    """The job runs for every organization of the shared stack: the entries this test's made."""
    return [e for e in report["journal_entry_ids"] if ledger.api.get(f"/v1/journal-entries/{e}").status_code == 200]


def _check(ledger: Ledger, *participants: str, overdrafts: frozenset[str] = frozenset()) -> None:
    ledger_invariants.check(
        ledger.api.organization_id, list(participants), ledger.points["id"], set(overdrafts), lots=True
    )


def test_e4_clawback_consumes_every_lot_then_overdraws(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "15")
    ledger.adjust(alice, "5")
    response = ledger.adjust(alice, "25", type="DEBIT", allow_negative=True)
    assert response.status_code == 200
    assert response.json()["balance"] == {"available": "-5", "held": "0", "deferred": "0"}
    assert [(lot["amount"], lot["remaining"], lot["status"]) for lot in _lots(ledger, alice)] == [
        ("15", "0", "CONSUMED"),
        ("5", "0", "CONSUMED"),
    ]
    assert postings(ledger.api, response.json()["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-25"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "25"),
    ]
    ledger.adjust(alice, "30")  # repays the overdraft first: the new lot holds 25
    assert ledger.balance(alice)["available"] == "25"
    assert [(lot["amount"], lot["status"]) for lot in _lots(ledger, alice, "&status=AVAILABLE")] == [
        ("25", "AVAILABLE")
    ]
    _check(ledger, alice, overdrafts=frozenset({alice}))


def test_e5_hold_splits_the_last_lot_and_release_by_reference(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    ledger.adjust(alice, "80")
    l1, l2 = (lot["id"] for lot in _lots(ledger, alice))
    hold = ledger.operation(alice, "hold", amount="150", reference_id="auth_7781", idempotency_key="order-7781-hold")
    assert hold.status_code == 200, hold.text
    body = hold.json()
    assert body["lots_processed"] == [{"id": l1, "amount": "100"}, {"id": l2, "amount": "50"}]
    assert body["balance"] == {"available": "30", "held": "150", "deferred": "0"}
    assert body["reference_id"] == "auth_7781"
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-150"),
        ("PARTICIPANT", alice, "HELD", "150"),
    ]
    lots = {(lot["id"], lot["status"]): lot for lot in _lots(ledger, alice)}
    assert lots[(l1, "HELD")]["reference_id"] == "auth_7781"  # moved whole, in place
    assert lots[(l2, "AVAILABLE")]["remaining"] == "30"
    split = [lot for lot in _lots(ledger, alice, "&reference_id=auth_7781") if lot["id"] not in (l1, l2)]
    assert [(s["remaining"], s["status"], s["created_at"]) for s in split] == [
        ("50", "HELD", lots[(l2, "AVAILABLE")]["created_at"])
    ]
    _check(ledger, alice)

    release = ledger.operation(alice, "release", reference_id="auth_7781").json()
    assert release["amount_processed"] == "150" and release["balance"] == {
        "available": "180",
        "held": "0",
        "deferred": "0",
    }
    debit = ledger.adjust(alice, "120", type="DEBIT")
    assert debit.json()["balance"]["available"] == "60"
    by_reference = ledger.api.get("/v1/journal-entries?reference_id=auth_7781").json()["data"]
    assert [e["action_type"] for e in by_reference] == ["RELEASE", "HOLD"]
    remaining = {lot["id"]: lot["remaining"] for lot in _lots(ledger, alice, "&status=AVAILABLE")}
    assert l1 not in remaining and sum(int(v) for v in remaining.values()) == 60  # FIFO took L1 first
    _check(ledger, alice)


def test_lot_filters_narrow_what_an_operation_touches(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    ledger.adjust(alice, "20")
    first, second = (lot["id"] for lot in _lots(ledger, alice))
    only_second = ledger.operation(alice, "hold", lot_ids=[second]).json()
    assert only_second["lots_processed"] == [{"id": second, "amount": "20"}]
    created = _lots(ledger, alice)[0]["created_at"]
    earned = ledger.operation(alice, "forfeit", bucket="AVAILABLE", earned_to=created).json()
    assert earned["lots_processed"] == [{"id": first, "amount": "10"}]
    assert ledger.operation(alice, "hold", amount="1").status_code == 422  # nothing AVAILABLE is left
    _check(ledger, alice)


def test_e7_e8_vesting_then_maturity_then_expiry(ledger: Ledger, stack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    alice = ledger.participant()
    now = clock.now()
    credited = _credit(ledger, alice, "500", matures_at=now + timedelta(days=30), expires_at=now + timedelta(days=365))
    assert postings(ledger.api, credited.journal_entry_id) == [
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-500"),
        ("PARTICIPANT", alice, "DEFERRED", "500"),
    ]
    assert ledger.balance(alice) == {"available": "0", "held": "0", "deferred": "500"}
    assert ledger.operation(alice, "hold", amount="1").status_code == 422  # deferred value cannot be held
    assert _own_entries(ledger, stack.fire_schedule("LotJobsFunction")) == []

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(days=30, seconds=1).total_seconds()))
    (maturity,) = _own_entries(ledger, stack.fire_schedule("LotJobsFunction"))
    assert postings(ledger.api, maturity) == [
        ("PARTICIPANT", alice, "DEFERRED", "-500"),
        ("PARTICIPANT", alice, "AVAILABLE", "500"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{maturity}").json()
    assert entry["action_type"] == "MATURITY" and entry["program_id"] is None and entry["created_by_api_key_id"] is None
    assert ledger.balance(alice) == {"available": "500", "held": "0", "deferred": "0"}
    assert _own_entries(ledger, stack.fire_schedule("LotJobsFunction")) == []  # each lot matures once

    ledger.adjust(alice, "380", type="DEBIT")
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(days=365, seconds=1).total_seconds()))
    assert ledger.adjust(alice, "1", type="DEBIT").status_code == 422  # expired value is not spendable, job or not
    (expiration,) = _own_entries(ledger, stack.fire_schedule("LotJobsFunction"))
    assert postings(ledger.api, expiration) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-120"),
        ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "120"),
    ]
    assert ledger.api.get(f"/v1/journal-entries/{expiration}").json()["action_type"] == "EXPIRATION"
    (lot,) = _lots(ledger, alice)
    assert (lot["status"], lot["remaining"], lot["amount"]) == ("EXPIRED", "0", "500")
    assert _own_entries(ledger, stack.fire_schedule("LotJobsFunction")) == []
    _check(ledger, alice)


def test_expiry_job_batches_per_owner_and_handles_held_lots(
    ledger: Ledger, stack, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = ledger.participant(), ledger.participant()
    soon = clock.now() + timedelta(hours=2)
    for amount in ("10", "20"):
        _credit(ledger, alice, amount, expires_at=soon)
    _credit(ledger, bob, "7", expires_at=soon)
    _credit(ledger, bob, "3")  # never expires
    ledger.operation(alice, "hold", amount="15")
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3 * 3600))
    report = stack.fire_schedule("LotJobsFunction")
    assert len(_own_entries(ledger, report)) == 2  # one entry per owner: alice's 3 lots (one split), bob's 1
    assert ledger.balance(alice) == {"available": "0", "held": "0", "deferred": "0"}
    assert ledger.balance(bob)["available"] == "3"
    _check(ledger, alice, bob)


def test_e9_provisional_credit_and_void_hold(ledger: Ledger) -> None:
    alice = ledger.participant()
    credited = _credit(ledger, alice, "60", bucket=Bucket.HELD, reference_id="A-55")
    assert postings(ledger.api, credited.journal_entry_id) == [
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "-60"),
        ("PARTICIPANT", alice, "HELD", "60"),
    ]
    ledger.adjust(alice, "40")
    ledger.operation(alice, "hold", amount="40", reference_id="A-55")  # held by a HOLD: never voided
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "CLOSED"})
    body = {
        "program_id": ledger.program["id"],
        "asset_id": ledger.points["id"],
        "reference_id": "A-55",
        "description": "Authorization A-55 voided",
        "idempotency_key": "void-A-55",
    }
    voided = ledger.api.post(f"/v1/participants/{alice}/balances/void-hold", json=body)
    assert voided.status_code == 200, voided.text
    assert voided.json()["operation"] == "VOID_HOLD" and voided.json()["amount_processed"] == "60"
    assert voided.json()["balance"] == {"available": "0", "held": "40", "deferred": "0"}
    assert postings(ledger.api, voided.json()["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "HELD", "-60"),
        ("SYSTEM", "SYSTEM_ISSUANCE", "AVAILABLE", "60"),
    ]
    assert ledger.api.post(f"/v1/participants/{alice}/balances/void-hold", json=body).json() == voided.json()  # replay
    again = ledger.api.post(
        f"/v1/participants/{alice}/balances/void-hold", json={**body, "idempotency_key": "void-again"}
    )
    assert again.status_code == 422 and again.json()["code"] == "no_matching_lots"
    with_amount = ledger.api.post(f"/v1/participants/{alice}/balances/void-hold", json={**body, "amount": "5"})
    assert with_amount.status_code == 400
    _check(ledger, alice)


def test_void_hold_of_a_prefunded_credit_returns_to_the_wallet(ledger: Ledger, api: Api) -> None:
    cash = api.create_asset(
        ledger.program["id"],
        name="Lot cash",
        symbol=f"LC{ledger.cash['symbol'][-4:]}",
        inventory_mode="LOT",
        issuance_policy="PREFUNDED",
        scale=2,
    )
    api.post(f"/v1/programs/{ledger.program['id']}/assets/{cash['id']}/fund", json={"amount": "100"})
    alice = ledger.participant()
    caller = Caller(api.organization_id, "rule")
    balances.credit(
        caller,
        balances.BalanceOwner(EntityType.PARTICIPANT, alice),
        program_id=ledger.program["id"],
        asset_id=cash["id"],
        amount=Decimal("12.50"),
        bucket=Bucket.HELD,
        reference_id="R-1",
    )
    voided = api.post(
        f"/v1/participants/{alice}/balances/void-hold",
        json={"program_id": ledger.program["id"], "asset_id": cash["id"], "reference_id": "R-1", "description": "void"},
    )
    assert postings(api, voided.json()["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "HELD", "-12.50"),
        ("PROGRAM", ledger.program["id"], "AVAILABLE", "12.50"),
    ]
    assert (
        api.get(f"/v1/programs/{ledger.program['id']}/balance?asset_id={cash['id']}").json()["data"][0]["available"]
        == "100.00"
    )


def test_lots_endpoint_filters_and_errors(ledger: Ledger) -> None:
    alice = ledger.participant()
    later = clock.now() + timedelta(days=10)
    _credit(ledger, alice, "5", expires_at=later)
    _credit(ledger, alice, "6")
    ledger.operation(alice, "hold", amount="6", lot_ids=[_lots(ledger, alice)[1]["id"]], reference_id="r-9")
    assert [lot["amount"] for lot in _lots(ledger, alice, "&status=HELD")] == ["6"]
    assert [lot["amount"] for lot in _lots(ledger, alice, "&reference_id=r-9")] == ["6"]
    stamp = (later + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert [lot["amount"] for lot in _lots(ledger, alice, f"&expires_before={stamp}")] == ["5"]
    assert _lots(ledger, alice, f"&expires_after={stamp}") == []
    assert [lot["amount"] for lot in _lots(ledger, alice, f"&program_id={ledger.program['id']}")] == ["5", "6"]
    first = ledger.api.get(f"/v1/participants/{alice}/balances/lots?asset_id={ledger.points['id']}&limit=1").json()
    second = ledger.api.get(
        f"/v1/participants/{alice}/balances/lots?asset_id={ledger.points['id']}&limit=1&cursor={first['pagination']['next_cursor']}"
    ).json()
    assert [lot["amount"] for lot in first["data"] + second["data"]] == ["5", "6"]
    assert ledger.api.get(f"/v1/participants/{alice}/balances/lots").status_code == 400
    simple = ledger.api.get(f"/v1/participants/{alice}/balances/lots?asset_id={ledger.cash['id']}")
    assert simple.status_code == 400
    assert (
        ledger.api.get(f"/v1/participants/{alice}/balances/lots?asset_id={ledger.points['id']}&status=GONE").status_code
        == 400
    )


def test_overlapping_job_runs_expire_each_lot_once(ledger: Ledger, stack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    people = [ledger.participant() for _ in range(3)]
    soon = clock.now() + timedelta(minutes=5)
    for person in people:
        _credit(ledger, person, "9", expires_at=soon)
        _credit(ledger, person, "4", expires_at=soon)
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", "600")
    reports: list[dict[str, Any]] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        reports.append(stack.events.fire_schedule("LotJobsFunction"))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(_own_entries(ledger, r)) for r in reports) == 3
    expirations = ledger.api.get("/v1/journal-entries?action_type=EXPIRATION&limit=200").json()["data"]
    assert len(expirations) == 3
    _check(ledger, *people)


def test_group_lots_hold_and_forfeit(ledger: Ledger) -> None:
    alice = ledger.participant()
    group = ledger.api.post(
        "/v1/groups", json={"name": "Pool", "members": [{"participant_id": alice, "role": "ADMIN"}]}
    ).json()
    base = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"]}
    for amount in ("30", "20"):
        ledger.api.post(
            f"/v1/groups/{group['id']}/balances/adjust",
            json={**base, "type": "CREDIT", "amount": amount, "description": "pool"},
        )
    held = ledger.api.post(
        f"/v1/groups/{group['id']}/balances/hold",
        json={**base, "amount": "35", "description": "h", "reference_id": "g-1"},
    ).json()
    assert [lot["amount"] for lot in held["lots_processed"]] == ["30", "5"]
    assert held["balance"] == {"available": "15", "held": "35", "deferred": "0"}
    forfeited = ledger.api.post(
        f"/v1/groups/{group['id']}/balances/forfeit", json={**base, "bucket": "HELD", "description": "f"}
    ).json()
    assert forfeited["amount_processed"] == "35" and forfeited["balance"]["held"] == "0"
    assert ledger.api.get(f"/v1/groups/{group['id']}/balances").json()["data"][0]["balance"] == "15"
