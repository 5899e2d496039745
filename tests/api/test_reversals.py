"""Redemption reversals (05 §2.9) through HTTP against the local stack: full and partial, by
amount and by quantity, the cumulative bounds (also under concurrency), the captured target,
LIFO restoration of the consumed lots, inventory given back, idempotency (§0.1), the list,
``redemption.reversed`` from the stream, and the worked example of §2.10."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock, due_hours
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances, lot_jobs
from scrip.storage import keys, table
from scrip.storage import lots as lot_store
from scrip.storage import redemptions as redemption_store
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.api.test_item_redemptions import create_reward
from tests.api.test_item_redemptions import redeem as redeem_item
from tests.api.test_redemptions import _target
from tests.api.webhook_receiver import receiver
from tests.conftest import Api
from tests.integration import ledger_invariants

REVERSAL_FIELDS = {"id", "redemption_id", "amount", "quantity", "reason", "journal_entry_id", "created_at"}


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


def redeem(ledger: Ledger, participant: str, amount: str, asset: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {
        "program_id": ledger.program["id"],
        "asset_id": (asset or ledger.points)["id"],
        "amount": amount,
        "description": "Statement credit",
    }
    response = ledger.api.post(f"/v1/participants/{participant}/redemptions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def reverse(ledger: Ledger, redemption_id: str, **fields: Any) -> Any:
    return ledger.api.post(f"/v1/redemptions/{redemption_id}/reverse", json={"reason": "Order cancelled", **fields})


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def redemption(ledger: Ledger, redemption_id: str) -> dict[str, Any]:
    return dict(ledger.api.get(f"/v1/redemptions/{redemption_id}").json())


# ---------------------------------------------------------------- amounts


def test_partial_then_full_reversal_by_amount(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    redeemed = redeem(ledger, alice, "750")
    first = reverse(ledger, redeemed["id"], amount="200", reason="Two items returned")
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == REVERSAL_FIELDS
    assert (body["redemption_id"], body["amount"], body["quantity"], body["reason"]) == (
        redeemed["id"],
        "200",
        None,
        "Two items returned",
    )
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("SYSTEM", "SYSTEM_REDEMPTION", "AVAILABLE", "-200"),
        ("PARTICIPANT", alice, "AVAILABLE", "200"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{body['journal_entry_id']}").json()
    assert entry["action_type"] == "REDEMPTION_REVERSAL" and entry["program_id"] == ledger.program["id"]
    assert entry["description"] == "Two items returned"
    assert ledger.balance(alice)["available"] == "450"
    after = redemption(ledger, redeemed["id"])
    assert (after["reversed_amount"], after["status"]) == ("200", "PARTIALLY_REVERSED")
    assert after["updated_at"] == body["created_at"]

    rest = reverse(ledger, redeemed["id"])  # neither field: whatever remains
    assert rest.status_code == 201 and rest.json()["amount"] == "550"
    after = redemption(ledger, redeemed["id"])
    assert (after["reversed_amount"], after["status"]) == ("750", "FULLY_REVERSED")
    assert ledger.balance(alice)["available"] == "1000"
    assert error(reverse(ledger, redeemed["id"])) == (422, "reversal_exceeds_remaining")
    assert error(reverse(ledger, redeemed["id"], amount="1")) == (422, "reversal_exceeds_remaining")
    listed = ledger.api.get(f"/v1/redemptions/{redeemed['id']}/reversals").json()
    assert [r["amount"] for r in listed["data"]] == ["200", "550"]
    assert listed["data"][0] == body


def test_more_than_remains_is_422_and_writes_nothing(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "60")
    assert reverse(ledger, redeemed["id"], amount="50").status_code == 201
    response = reverse(ledger, redeemed["id"], amount="11")
    assert error(response) == (422, "reversal_exceeds_remaining")
    assert response.json()["details"]["remaining_amount"] == "10"
    assert ledger.balance(alice)["available"] == "90"
    assert redemption(ledger, redeemed["id"])["reversed_amount"] == "50"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"reason": ""}, 400, "validation_error"),
        ({"reason": "x" * 501}, 400, "validation_error"),
        ({"amount": "0"}, 400, "validation_error"),
        ({"amount": "-5"}, 400, "validation_error"),
        ({"amount": "abc"}, 400, "validation_error"),
        ({"amount": "1.5"}, 400, "invalid_scale"),
        ({"quantity": 1}, 400, "validation_error"),  # an amount redemption takes amount only
        ({"amount": "1", "quantity": 1}, 400, "validation_error"),
        ({"quantity": "1"}, 400, "validation_error"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(ledger: Ledger, fields: dict[str, Any], status: int, code: str) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "60")
    assert error(reverse(ledger, redeemed["id"], **fields)) == (status, code)
    missing = ledger.api.post(f"/v1/redemptions/{redeemed['id']}/reverse", json={})
    assert error(missing) == (400, "validation_error")
    assert ledger.balance(alice)["available"] == "40"
    assert redemption(ledger, redeemed["id"])["status"] == "COMPLETED"


def test_unknown_or_foreign_redemption_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    redeemed = redeem(ledger, alice, "10")
    assert error(reverse(ledger, str(uuid.uuid4()))) == (404, "not_found")
    assert error(other_api.post(f"/v1/redemptions/{redeemed['id']}/reverse", json={"reason": "x"})) == (
        404,
        "not_found",
    )
    assert error(ledger.api.get(f"/v1/redemptions/{uuid.uuid4()}/reversals")) == (404, "not_found")
    assert error(other_api.get(f"/v1/redemptions/{redeemed['id']}/reversals")) == (404, "not_found")


def test_amounts_render_at_the_assets_scale(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert ledger.fund("100").status_code == 200
    ledger.adjust(alice, "20", asset=ledger.cash)
    redeemed = redeem(ledger, alice, "12.5", asset=ledger.cash)
    assert reverse(ledger, redeemed["id"], amount="2.5").json()["amount"] == "2.50"
    assert redemption(ledger, redeemed["id"])["reversed_amount"] == "2.50"
    assert ledger.balance(alice, ledger.cash)["available"] == "10.00"


def test_the_captured_target_gives_back_even_when_the_program_changed(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    program_path = f"/v1/programs/{ledger.program['id']}"
    assert ledger.api.patch(program_path, json={"redemption_target_type": "SYSTEM_BREAKAGE"}).status_code == 200
    redeemed = redeem(ledger, alice, "40")
    assert ledger.api.patch(program_path, json={"redemption_target_type": "SYSTEM_REDEMPTION"}).status_code == 200
    assert ledger.api.patch(program_path, json={"status": "SUSPENDED"}).status_code == 200
    suspended = ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "SUSPENDED"})
    assert suspended.status_code == 200, suspended.text
    body = reverse(ledger, redeemed["id"]).json()  # neither the program's nor the participant's state matters
    assert postings(ledger.api, body["journal_entry_id"])[0] == ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "-40")


def test_a_ledger_entity_target_gives_back_and_may_be_left_overdrawn(ledger: Ledger) -> None:
    alice, merchant = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    _target(ledger, merchant)
    redeemed = redeem(ledger, alice, "30")
    ledger.adjust(merchant, "25", type="DEBIT")  # the merchant spent most of it
    body = reverse(ledger, redeemed["id"]).json()
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", merchant, "AVAILABLE", "-30"),
        ("PARTICIPANT", alice, "AVAILABLE", "30"),
    ]
    assert ledger.balance(merchant)["available"] == "-25"
    assert ledger.balance(alice)["available"] == "100"


def test_concurrent_reversals_never_exceed_the_redeemed_amount(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "100")
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: reverse(ledger, redeemed["id"], amount="30"), range(6)))
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 422, 422, 422]
    assert redemption(ledger, redeemed["id"])["reversed_amount"] == "90"
    assert ledger.balance(alice)["available"] == "90"
    assert len(ledger.api.get(f"/v1/redemptions/{redeemed['id']}/reversals").json()["data"]) == 3


# ------------------------------------------------------------- idempotency


def test_a_key_replays_200_and_another_payload_is_409(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "50")
    first = reverse(ledger, redeemed["id"], amount="50", idempotency_key="refund-1")
    assert first.status_code == 201
    again = reverse(ledger, redeemed["id"], amount="50.0", idempotency_key="refund-1")  # fully reversed by now
    assert again.status_code == 200 and again.json() == first.json()
    assert error(reverse(ledger, redeemed["id"], amount="40", idempotency_key="refund-1")) == (
        409,
        "idempotency_conflict",
    )
    assert ledger.balance(alice)["available"] == "100"
    assert len(ledger.api.get(f"/v1/redemptions/{redeemed['id']}/reversals").json()["data"]) == 1


def test_concurrent_requests_with_one_key_reverse_once(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "100")
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _: reverse(ledger, redeemed["id"], amount="60", idempotency_key="once"), range(4))
        )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert ledger.balance(alice)["available"] == "60"


# -------------------------------------------------------------------- list


def test_the_list_pages_oldest_first(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "10")
    made = [reverse(ledger, redeemed["id"], amount="1").json()["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = ledger.api.get(f"/v1/redemptions/{redeemed['id']}/reversals{query}").json()
        seen.extend(r["id"] for r in page["data"])
        if not page["pagination"]["has_more"]:
            break
        cursor = page["pagination"]["next_cursor"]
    assert seen == made
    assert error(ledger.api.get(f"/v1/redemptions/{redeemed['id']}/reversals?limit=0")) == (400, "validation_error")


# -------------------------------------------------------------------- lots


@pytest.fixture
def lot_ledger(ledger: Ledger) -> Ledger:
    return ledger.use_lot_points()


def test_the_consumed_lots_come_back_last_consumed_first(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice = ledger.participant()
    for amount in ("10", "20", "30"):
        ledger.adjust(alice, amount)
    redeemed = redeem(ledger, alice, "45")
    assert ledger.lot_rows(alice) == [("10", "0", "CONSUMED"), ("20", "0", "CONSUMED"), ("30", "15", "AVAILABLE")]
    org, asset = ledger.api.organization_id, ledger.points["id"]
    assert reverse(ledger, redeemed["id"], amount="20").status_code == 201
    assert ledger.lot_rows(alice) == [("10", "0", "CONSUMED"), ("20", "5", "AVAILABLE"), ("30", "30", "AVAILABLE")]
    ledger_invariants.check(org, [alice], asset, set(), lots=True)
    assert reverse(ledger, redeemed["id"], amount="20").status_code == 201
    assert ledger.lot_rows(alice) == [("10", "5", "AVAILABLE"), ("20", "20", "AVAILABLE"), ("30", "30", "AVAILABLE")]
    assert reverse(ledger, redeemed["id"]).status_code == 201
    assert ledger.lot_rows(alice) == [("10", "10", "AVAILABLE"), ("20", "20", "AVAILABLE"), ("30", "30", "AVAILABLE")]
    ledger_invariants.check(org, [alice], asset, set(), lots=True)


@pytest.fixture
def _restore_expiry_checkpoint() -> Iterator[None]:
    """The checkpoint is the table's, shared with every other test: put back as found (an
    older checkpoint only makes a run read more)."""
    found = lot_store.due_checkpoint("EXPIRY")
    yield
    if found is not None:
        lot_store.save_due_checkpoint("EXPIRY", found)
    else:
        table.client().delete_item(
            TableName=table.table_name(), Key={"PK": keys.lots_due_checkpoint("EXPIRY"), "SK": keys.ENTITY_SK}
        )


@pytest.mark.usefixtures("_restore_expiry_checkpoint")
def test_a_lot_given_back_past_its_expiry_expires_at_the_next_job_run(
    lot_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = lot_ledger
    alice = ledger.participant()
    caller = Caller(ledger.api.organization_id, "rule")
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    common = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"]}
    balances.credit(caller, owner, amount=Decimal(10), expires_at=clock.now() + timedelta(hours=1), **common)
    balances.credit(caller, owner, amount=Decimal(5), **common)
    redeemed = redeem(ledger, alice, "12")
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3 * 3600))
    lot_jobs.run_due()  # nothing left in the lot to expire
    # The job has read every hour up to now: the hour the lot expired in is never read again.
    lot_store.save_due_checkpoint("EXPIRY", due_hours.hour_of(clock.now()))
    assert reverse(ledger, redeemed["id"]).status_code == 201
    assert ledger.lot_rows(alice) == [("10", "10", "AVAILABLE"), ("5", "5", "AVAILABLE")]
    report = lot_jobs.run_due()
    assert report.expired == 1
    assert ledger.lot_rows(alice) == [("10", "0", "EXPIRED"), ("5", "5", "AVAILABLE")]
    assert ledger.balance(alice)["available"] == "5"
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set(), lots=True)


def test_a_ledger_entity_target_gives_back_from_its_lots(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice, merchant = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "50")
    _target(ledger, merchant)
    redeemed = redeem(ledger, alice, "30")
    assert reverse(ledger, redeemed["id"], amount="10").status_code == 201
    assert ledger.lot_rows(merchant) == [("30", "20", "AVAILABLE")]
    org, asset = ledger.api.organization_id, ledger.points["id"]
    ledger_invariants.check(org, [alice, merchant], asset, set(), lots=True)


# --------------------------------------------------------------- webhooks


@pytest.fixture
def _archive_endpoints_afterwards(api: Api) -> Iterator[None]:
    yield
    for row in api.get("/v1/webhook-endpoints?limit=100").json()["data"]:
        api.delete(f"/v1/webhook-endpoints/{row['id']}")


@pytest.mark.usefixtures("_archive_endpoints_afterwards")
def test_redemption_reversed_is_notified_once_per_reversal(ledger: Ledger, stack: LocalStack) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeemed = redeem(ledger, alice, "30")
    stack.drain()
    with receiver() as hooks:
        created = ledger.api.post(
            "/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["redemption.reversed"]}
        )
        assert created.status_code == 201, created.text
        partial = reverse(ledger, redeemed["id"], amount="10", idempotency_key="hook-1").json()
        assert reverse(ledger, redeemed["id"], amount="10", idempotency_key="hook-1").status_code == 200
        full = reverse(ledger, redeemed["id"]).json()
        stack.drain()
        envelopes = [json.loads(got.body) for got in hooks.received]
    assert [e["type"] for e in envelopes] == ["redemption.reversed"] * 2
    by_reversal = {e["data"]["reversal"]["id"]: e["data"] for e in envelopes}
    assert by_reversal[partial["id"]]["reversal"] == partial
    assert by_reversal[partial["id"]]["redemption"]["status"] == "PARTIALLY_REVERSED"
    assert by_reversal[partial["id"]]["redemption"]["reversed_amount"] == "10"
    assert by_reversal[full["id"]]["redemption"] == redemption(ledger, redeemed["id"])
    stored = redemption_store.require(ledger.api.organization_id, redeemed["id"])
    assert stored.status.value == "FULLY_REVERSED"


# ------------------------------------------------------ catalog (05 §2.10)


def _reward(ledger: Ledger, **fields: Any) -> dict[str, Any]:
    """The catalog tests' coffee card at 2500 points (the worked example's price) unless told."""
    return create_reward(ledger, **{"unit_cost": "2500", **fields})


def _reward_state(ledger: Ledger, reward: dict[str, Any]) -> tuple[int, str]:
    got = ledger.api.get(f"/v1/programs/{ledger.program['id']}/rewards/{reward['id']}").json()
    return got["redeemed_count"], got["status"]


def test_the_worked_example_of_a_unit_based_lifecycle(ledger: Ledger) -> None:
    """05 §2.10, step by step."""
    reward = _reward(ledger, max_total=4, max_per_participant=3)
    someone = ledger.participant()
    ledger.adjust(someone, "5000")
    assert redeem_item(ledger, someone, reward, quantity=2).status_code == 201  # redeemed_count 2
    p, other = ledger.participant(), ledger.participant()
    ledger.adjust(p, "10000")
    ledger.adjust(other, "10000")

    created = redeem_item(ledger, p, reward, quantity=2)  # 1.
    assert created.status_code == 201, created.text
    r = created.json()
    assert r["amount"] == "5000" and ledger.balance(p)["available"] == "5000"
    assert _reward_state(ledger, reward) == (4, "OUT_OF_STOCK")
    assert redeem_item(ledger, other, reward, quantity=1).status_code == 422  # 2.

    partial = reverse(ledger, r["id"], quantity=1, reason="One card returned unused")  # 3.
    assert partial.status_code == 201, partial.text
    assert (partial.json()["amount"], partial.json()["quantity"]) == ("2500", 1)
    assert ledger.balance(p)["available"] == "7500"
    after = redemption(ledger, r["id"])
    assert (after["status"], after["reversed_amount"], after["reversed_quantity"]) == ("PARTIALLY_REVERSED", "2500", 1)
    assert _reward_state(ledger, reward) == (3, "ACTIVE")

    full = reverse(ledger, r["id"])  # 4.
    assert full.status_code == 201 and (full.json()["amount"], full.json()["quantity"]) == ("2500", 1)
    after = redemption(ledger, r["id"])
    assert (after["status"], after["reversed_amount"], after["reversed_quantity"]) == ("FULLY_REVERSED", "5000", 2)
    assert _reward_state(ledger, reward) == (2, "ACTIVE")
    assert ledger.balance(p)["available"] == "10000"

    assert error(reverse(ledger, r["id"])) == (422, "reversal_exceeds_remaining")  # 5.
    assert error(reverse(ledger, r["id"], quantity=1)) == (422, "reversal_exceeds_remaining")


def test_a_unit_based_redemption_takes_quantity_only_and_gives_back_the_participants_count(ledger: Ledger) -> None:
    reward = _reward(ledger, max_per_participant=2)
    p = ledger.participant()
    ledger.adjust(p, "10000")
    r = redeem_item(ledger, p, reward, quantity=2).json()
    assert error(redeem_item(ledger, p, reward, quantity=1)) == (422, "participant_limit_exceeded")
    assert error(reverse(ledger, r["id"], amount="2500")) == (400, "validation_error")
    assert error(reverse(ledger, r["id"], quantity=3)) == (422, "reversal_exceeds_remaining")
    assert reverse(ledger, r["id"], quantity=1).status_code == 201
    assert redeem_item(ledger, p, reward, quantity=1).status_code == 201  # the cap counts what is held


def test_an_amount_based_redemption_is_reversed_by_amount(ledger: Ledger) -> None:
    reward = _reward(ledger, redemption_type="AMOUNT_BASED", unit_cost="100")
    p = ledger.participant()
    ledger.adjust(p, "1000")
    created = redeem_item(ledger, p, reward, amount="600")
    assert created.status_code == 201, created.text
    r = created.json()
    assert error(reverse(ledger, r["id"], quantity=1)) == (400, "validation_error")
    assert reverse(ledger, r["id"], amount="250").json()["quantity"] is None
    assert redemption(ledger, r["id"])["status"] == "PARTIALLY_REVERSED"
    assert ledger.balance(p)["available"] == "650"


def test_what_repays_an_overdraft_backs_no_lot(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    redeemed = redeem(ledger, alice, "10")
    assert ledger.adjust(alice, "4", type="DEBIT", allow_negative=True).status_code == 200
    assert reverse(ledger, redeemed["id"]).status_code == 201
    assert ledger.balance(alice)["available"] == "6"
    assert ledger.lot_rows(alice) == [("10", "6", "AVAILABLE")]
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set(), lots=True)


def test_more_lots_than_one_transaction_holds_is_422_and_a_smaller_part_passes(lot_ledger: Ledger) -> None:
    """A reversal is one transaction (100 items): a redemption that took 93 lots (the most one
    holds) is given back in two parts, since the reversal item takes one more item than the
    redemption did."""
    ledger = lot_ledger
    alice = ledger.participant()
    caller = Caller(ledger.api.organization_id, "test")
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    for _ in range(93):
        balances.credit(caller, owner, program_id=ledger.program["id"], asset_id=ledger.points["id"], amount=Decimal(1))
    redeemed = redeem(ledger, alice, "93")
    assert error(reverse(ledger, redeemed["id"], idempotency_key="all")) == (422, "too_many_lots")
    assert ledger.balance(alice)["available"] == "0"
    assert reverse(ledger, redeemed["id"], amount="92").status_code == 201
    assert reverse(ledger, redeemed["id"], idempotency_key="all").status_code == 201  # a refusal stores no key
    assert ledger.balance(alice)["available"] == "93"
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set(), lots=True)
