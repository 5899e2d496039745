"""Catalog item redemptions (05 §2.6) through HTTP against the local stack: the preconditions of
§2.3 and §2.6 in their documented order, the cost of each reward type, the caps under
concurrency (inventory never oversells), idempotency (§0.1), lots and the webhook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.ledger import ActionType, EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances
from scrip.storage import redemptions as redemption_store
from scrip.storage import rewards as reward_store
from scrip_local.metering import DynamoMeter
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.api.webhook_receiver import receiver
from tests.conftest import Api
from tests.integration import ledger_invariants


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


def create_reward(ledger: Ledger, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"$25 Coffee Card {uuid.uuid4().hex[:6]}",
        "redemption_type": "UNIT_BASED",
        "asset_id": ledger.points["id"],
        "unit_cost": "25",
        "status": "ACTIVE",
        **fields,
    }
    response = ledger.api.post(f"/v1/programs/{ledger.program['id']}/rewards", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def redeem(ledger: Ledger, participant: str, reward: dict[str, Any], **fields: Any) -> Any:
    body = {"program_id": ledger.program["id"], "reward_id": reward["id"], **fields}
    return ledger.api.post(f"/v1/participants/{participant}/redemptions/items", json=body)


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def reward_now(ledger: Ledger, reward: dict[str, Any]) -> dict[str, Any]:
    return dict(ledger.api.get(f"/v1/programs/{ledger.program['id']}/rewards/{reward['id']}").json())


def redemptions_of(ledger: Ledger, participant: str) -> list[dict[str, Any]]:
    return list(ledger.api.get(f"/v1/participants/{participant}/redemptions?limit=200").json()["data"])


# ------------------------------------------------------------------ create


def test_a_unit_based_redemption_costs_quantity_times_unit_cost(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger)
    response = redeem(ledger, alice, reward, quantity=2, idempotency_key="order-9001")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["reward_id"], body["quantity"], body["unit_cost"], body["amount"]) == (reward["id"], 2, "25", "50")
    assert (body["reversed_amount"], body["reversed_quantity"], body["status"]) == ("0", 0, "COMPLETED")
    assert body["description"] == f"Redeemed: {reward['name']}"  # the default [inferred]
    assert ledger.balance(alice)["available"] == "50"
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-50"),
        ("SYSTEM", "SYSTEM_REDEMPTION", "AVAILABLE", "50"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{body['journal_entry_id']}").json()
    assert entry["action_type"] == "REDEMPTION" and entry["description"] == body["description"]
    assert ledger.api.get(f"/v1/redemptions/{body['id']}").json() == body
    assert redemptions_of(ledger, alice) == [body]
    assert reward_now(ledger, reward)["redeemed_count"] == 2
    stored = redemption_store.require(ledger.api.organization_id, body["id"])
    assert stored.kind.value == "UNIT_BASED"  # what a reversal will go by
    assert redeem(ledger, alice, reward, description="Coffee for the team").json()["quantity"] == 1  # default 1


def test_the_unit_cost_is_captured_at_redemption_time(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger)
    first = redeem(ledger, alice, reward).json()
    patched = ledger.api.patch(f"/v1/programs/{ledger.program['id']}/rewards/{reward['id']}", json={"unit_cost": "30"})
    assert patched.status_code == 200, patched.text
    second = redeem(ledger, alice, reward).json()
    assert (first["unit_cost"], second["unit_cost"]) == ("25", "30")
    assert ledger.api.get(f"/v1/redemptions/{first['id']}").json()["unit_cost"] == "25"
    assert ledger.balance(alice)["available"] == "45"


def test_an_amount_based_redemption_takes_the_amount_sent_above_the_minimum(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert ledger.fund("100").status_code == 200
    ledger.adjust(alice, "50", asset=ledger.cash)
    reward = create_reward(ledger, redemption_type="AMOUNT_BASED", asset_id=ledger.cash["id"], unit_cost="10.00")
    below = redeem(ledger, alice, reward, amount="9.99")
    assert error(below) == (422, "amount_below_minimum")
    assert below.json()["details"] == {"minimum": "10.00", "requested": "9.99"}
    body = redeem(ledger, alice, reward, amount="12.5").json()
    assert (body["amount"], body["unit_cost"], body["quantity"], body["reversed_quantity"]) == (
        "12.50",
        "10.00",
        None,
        None,
    )
    assert body["reversed_amount"] == "0.00"
    assert ledger.balance(alice, ledger.cash)["available"] == "37.50"
    assert reward_now(ledger, reward)["redeemed_count"] == 0  # no inventory for AMOUNT_BASED [inferred]


# ---------------------------------------------------------- preconditions


def test_unknown_participant_program_or_reward_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger)
    assert error(redeem(ledger, str(uuid.uuid4()), reward)) == (404, "not_found")
    assert error(redeem(ledger, alice, reward, program_id=str(uuid.uuid4()))) == (404, "not_found")
    assert error(redeem(ledger, alice, {"id": str(uuid.uuid4())})) == (404, "not_found")
    # A reward of another program of the organization is unknown in this one.
    other = ledger.api.create_program(name="Elsewhere")
    linked = ledger.api.post(f"/v1/programs/{other['id']}/assets", json={"asset_id": ledger.points["id"]})
    assert linked.status_code in (200, 201), linked.text
    assert error(redeem(ledger, alice, reward, program_id=other["id"])) == (404, "not_found")
    stranger = other_api.post("/v1/participants", json={"external_id": "stranger"}).json()["id"]
    assert error(redeem(ledger, stranger, reward)) == (404, "not_found")
    assert ledger.balance(alice)["available"] == "100"


def test_the_preconditions_answer_in_their_documented_order(ledger: Ledger) -> None:
    """05 §2.3 then §2.6: each step is made to fail together with every later one, and must be
    the one that answers."""
    api = ledger.api
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    reward = create_reward(ledger, status="DRAFT", max_total=1)
    program_path, reward_path = f"/v1/programs/{ledger.program['id']}", f"/v1/programs/{ledger.program['id']}/rewards"
    api.patch(program_path, json={"status": "SUSPENDED"})
    api.patch(f"/v1/participants/{alice}/status", json={"status": "SUSPENDED"})
    # Draft reward, amount on a UNIT_BASED reward, more units than exist, no balance:
    wrong = {"quantity": 2, "amount": "5"}
    assert error(redeem(ledger, alice, reward, **wrong)) == (422, "program_not_active")
    api.patch(program_path, json={"status": "ACTIVE"})
    assert error(redeem(ledger, alice, reward, **wrong)) == (409, "participant_inactive")
    api.patch(f"/v1/participants/{alice}/status", json={"status": "ACTIVE"})
    assert error(redeem(ledger, alice, {"id": str(uuid.uuid4())}, **wrong)) == (404, "not_found")
    assert error(redeem(ledger, alice, reward, **wrong)) == (422, "reward_not_available")
    api.patch(f"{reward_path}/{reward['id']}", json={"status": "ACTIVE"})
    assert error(redeem(ledger, alice, reward, **wrong)) == (400, "validation_error")
    assert error(redeem(ledger, alice, reward, quantity=2)) == (422, "inventory_exceeded")
    assert error(redeem(ledger, alice, create_reward(ledger, max_per_participant=1), quantity=2)) == (
        422,
        "participant_limit_exceeded",
    )
    assert error(redeem(ledger, alice, reward)) == (422, "insufficient_balance")
    assert ledger.balance(alice)["available"] == "10"
    assert reward_now(ledger, reward)["redeemed_count"] == 0
    assert redemptions_of(ledger, alice) == []


def test_an_archived_asset_answers_before_the_reward_status(ledger: Ledger) -> None:
    """The asset's checks (05 §2.3 step 4) come before the reward's status (05 §2.6 step 3)."""
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger, status="DRAFT")
    ledger.api.patch(f"/v1/assets/{ledger.points['id']}", json={"status": "ARCHIVED"})
    assert error(redeem(ledger, alice, reward, amount="5")) == (422, "asset_archived")


def test_an_unlinked_asset_is_422(ledger: Ledger) -> None:
    """A reward whose asset was unlinked from the program since: unlinking waits for the reward to
    be archived (and for no entry to exist), but an archived reward may be made ACTIVE again."""
    alice = ledger.participant()
    fresh = ledger.api.create_asset(ledger.program["id"], name="Fresh", symbol=f"FR{uuid.uuid4().hex[:4]}")
    reward = create_reward(ledger, asset_id=fresh["id"])
    other = ledger.api.create_program(name="Elsewhere")
    linked = ledger.api.post(f"/v1/programs/{other['id']}/assets", json={"asset_id": fresh["id"]})
    assert linked.status_code in (200, 201), linked.text
    path = f"/v1/programs/{ledger.program['id']}/rewards/{reward['id']}"
    assert ledger.api.patch(path, json={"status": "ARCHIVED"}).status_code == 200
    unlinked = ledger.api.delete(f"/v1/programs/{ledger.program['id']}/assets/{fresh['id']}")
    assert unlinked.status_code in (200, 204), unlinked.text
    assert ledger.api.patch(path, json={"status": "ACTIVE"}).status_code == 200
    assert error(redeem(ledger, alice, reward)) == (422, "asset_not_linked")  # before the balance


@pytest.mark.parametrize("status", ["DRAFT", "ARCHIVED"])
def test_a_reward_not_active_is_not_available(ledger: Ledger, status: str) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger, status=status)
    response = redeem(ledger, alice, reward)
    assert error(response) == (422, "reward_not_available")
    assert response.json()["details"]["status"] == status


def test_the_availability_window_bounds_redemptions(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    now = clock.now()
    later = create_reward(ledger, available_from=clock.to_rfc3339(now + timedelta(hours=1)))
    over = create_reward(ledger, available_until=clock.to_rfc3339(now - timedelta(seconds=1)))
    inside = create_reward(
        ledger,
        available_from=clock.to_rfc3339(now - timedelta(hours=1)),
        available_until=clock.to_rfc3339(now + timedelta(hours=1)),
    )
    for reward in (later, over):
        response = redeem(ledger, alice, reward)
        assert error(response) == (422, "reward_not_available")
        assert response.json()["details"]["reason"] == "outside_availability_window"
    assert redeem(ledger, alice, inside).status_code == 201


@pytest.mark.parametrize(
    ("redemption_type", "change", "code"),
    [
        ("UNIT_BASED", {"amount": "25"}, "validation_error"),
        ("UNIT_BASED", {"quantity": 0}, "validation_error"),
        ("UNIT_BASED", {"quantity": -1}, "validation_error"),
        ("UNIT_BASED", {"quantity": "2"}, "validation_error"),
        ("UNIT_BASED", {"quantity": 1.5}, "validation_error"),
        ("UNIT_BASED", {"description": ""}, "validation_error"),
        ("UNIT_BASED", {"description": "x" * 501}, "validation_error"),
        ("UNIT_BASED", {"reward_id": "not-a-uuid"}, "validation_error"),
        ("UNIT_BASED", {"idempotency_key": ""}, "validation_error"),
        ("AMOUNT_BASED", {"quantity": 1, "amount": "30"}, "validation_error"),
        ("AMOUNT_BASED", {}, "validation_error"),
        ("AMOUNT_BASED", {"amount": "0"}, "validation_error"),
        ("AMOUNT_BASED", {"amount": 30}, "validation_error"),
        ("AMOUNT_BASED", {"amount": "30.5"}, "invalid_scale"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(
    ledger: Ledger, redemption_type: str, change: dict[str, Any], code: str
) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger, redemption_type=redemption_type)
    response = redeem(ledger, alice, reward, **change)
    assert error(response) == (400, code), response.text
    assert ledger.balance(alice)["available"] == "100"
    assert redemptions_of(ledger, alice) == []
    assert reward_now(ledger, reward)["redeemed_count"] == 0


def test_the_cost_is_bounded_by_max_transaction_amount(ledger: Ledger) -> None:
    capped = ledger.api.create_asset(
        ledger.program["id"], name="Capped", symbol=f"CAP{uuid.uuid4().hex[:4]}", max_transaction_amount="50"
    )
    alice = ledger.participant()
    ledger.adjust(alice, "50", asset=capped)
    ledger.adjust(alice, "50", asset=capped)
    reward = create_reward(ledger, asset_id=capped["id"])
    assert error(redeem(ledger, alice, reward, quantity=3)) == (422, "max_transaction_amount_exceeded")
    assert redeem(ledger, alice, reward, quantity=2).status_code == 201


def test_insufficient_balance_counts_no_unit(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "60")
    reward = create_reward(ledger, max_total=5, max_per_participant=5)
    response = redeem(ledger, alice, reward, quantity=3)
    assert error(response) == (422, "insufficient_balance")
    assert response.json()["details"] == {"available": "60", "requested": "75"}
    assert reward_now(ledger, reward)["redeemed_count"] == 0
    assert redeem(ledger, alice, reward, quantity=2).status_code == 201  # the participant's count is 0 too


# ------------------------------------------------------------------- caps


def test_max_total_is_never_passed_and_the_reward_goes_out_of_stock(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    reward = create_reward(ledger, max_total=5)
    assert redeem(ledger, alice, reward, quantity=3).status_code == 201
    response = redeem(ledger, alice, reward, quantity=3)
    assert error(response) == (422, "inventory_exceeded")
    assert response.json()["details"] == {"remaining": 2, "requested": 3}
    assert redeem(ledger, alice, reward, quantity=2).status_code == 201
    assert reward_now(ledger, reward)["status"] == "OUT_OF_STOCK"
    assert error(redeem(ledger, alice, reward)) == (422, "reward_out_of_stock")
    assert ledger.balance(alice)["available"] == str(1000 - 5 * 25)


def test_max_per_participant_counts_each_participant_apart(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "1000")
    ledger.adjust(bob, "1000")
    reward = create_reward(ledger, max_per_participant=2)
    assert redeem(ledger, alice, reward, quantity=2).status_code == 201
    response = redeem(ledger, alice, reward)
    assert error(response) == (422, "participant_limit_exceeded")
    assert response.json()["details"] == {"max_per_participant": 2, "held": 2, "requested": 1}
    assert redeem(ledger, bob, reward, quantity=2).status_code == 201
    assert error(redeem(ledger, bob, reward, quantity=3)) == (422, "participant_limit_exceeded")


# The scale: 100 concurrent requests through HTTP (threads against the local stack, whose
# single lock serialises the DynamoDB calls, so each race takes a few seconds, not one).
RACERS = 100


def _redemption_entries(ledger: Ledger) -> list[Any]:
    return [
        e for e in ledger_invariants.all_entries(ledger.api.organization_id) if e.action_type == ActionType.REDEMPTION
    ]


def test_concurrent_redemptions_never_oversell(ledger: Ledger) -> None:
    """100 requests for a reward with 10 units left: exactly 10 succeed, the rest are refused, and
    the losers leave nothing behind (no journal entry, no debit, no count)."""
    participants = [ledger.participant() for _ in range(10)]
    for participant in participants:
        ledger.adjust(participant, "1000")
    reward = create_reward(ledger, max_total=12)
    assert redeem(ledger, participants[0], reward, quantity=2).status_code == 201  # 10 units left

    def one(index: int) -> Any:
        return redeem(ledger, participants[index % len(participants)], reward)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(one, range(RACERS)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 10 + [422] * 90, [r.text for r in responses if r.status_code not in (201, 422)]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"reward_out_of_stock"}
    now = reward_now(ledger, reward)
    assert (now["redeemed_count"], now["status"]) == (12, "OUT_OF_STOCK")
    redeemed = [r for p in participants for r in redemptions_of(ledger, p)]
    assert sum(r["quantity"] for r in redeemed) == 12
    assert len(_redemption_entries(ledger)) == 11  # the first one and the 10 winners, nothing else
    stored = reward_store.get(ledger.api.organization_id, reward["id"])
    assert stored is not None
    for participant in participants:
        mine = sum(r["quantity"] for r in redemptions_of(ledger, participant))
        assert reward_store.participant_count(stored.reward, participant) == mine
        assert ledger.balance(participant)["available"] == str(1000 - 25 * mine)
        ledger_invariants.check(ledger.api.organization_id, [participant], ledger.points["id"], set())


def test_concurrent_redemptions_never_pass_max_per_participant(ledger: Ledger) -> None:
    """100 requests by one participant for a reward capped at 3 each: exactly 3 succeed."""
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    reward = create_reward(ledger, max_per_participant=3)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: redeem(ledger, alice, reward), range(RACERS)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [422] * (RACERS - 3), [r.text for r in responses if r.status_code not in (201, 422)]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"participant_limit_exceeded"}
    assert ledger.balance(alice)["available"] == str(1000 - 3 * 25)
    assert len(redemptions_of(ledger, alice)) == 3
    assert len(_redemption_entries(ledger)) == 3
    assert reward_now(ledger, reward)["redeemed_count"] == 3
    stored = reward_store.get(ledger.api.organization_id, reward["id"])
    assert stored is not None and reward_store.participant_count(stored.reward, alice) == 3
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set())


def test_an_uncapped_reward_counts_every_concurrent_unit(ledger: Ledger) -> None:
    """Uncapped: counted on shards, no cap to refuse; the count is still exact."""
    participants = [ledger.participant() for _ in range(4)]
    for participant in participants:
        ledger.adjust(participant, "1000")
    reward = create_reward(ledger)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda i: redeem(ledger, participants[i % 4], reward).status_code, range(16)))
    assert codes == [201] * 16
    assert reward_now(ledger, reward)["redeemed_count"] == 16
    # Capping it now folds the shards: exactly the cap's remainder is left.
    path = f"/v1/programs/{ledger.program['id']}/rewards/{reward['id']}"
    assert ledger.api.patch(path, json={"max_total": 17}).status_code == 200
    assert redeem(ledger, participants[0], reward).status_code == 201
    assert error(redeem(ledger, participants[0], reward)) == (422, "reward_out_of_stock")


# ------------------------------------------------------------ idempotency


def test_a_key_replays_200_and_another_payload_is_409(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger, max_total=2)
    first = redeem(ledger, alice, reward, quantity=2, idempotency_key="order-9001")
    assert first.status_code == 201
    # Sold out and no balance for it now: the replay still answers (05 §2.3 step 7).
    again = redeem(ledger, alice, reward, quantity=2, idempotency_key="order-9001")
    assert again.status_code == 200 and again.json() == first.json()
    assert error(redeem(ledger, alice, reward, quantity=1, idempotency_key="order-9001")) == (
        409,
        "idempotency_conflict",
    )
    # One key space per program for both kinds of redemption.
    raw = ledger.api.post(
        f"/v1/participants/{alice}/redemptions",
        json={
            "program_id": ledger.program["id"],
            "asset_id": ledger.points["id"],
            "amount": "50",
            "description": "x",
            "idempotency_key": "order-9001",
        },
    )
    assert error(raw) == (409, "idempotency_conflict")
    assert ledger.balance(alice)["available"] == "50"
    assert reward_now(ledger, reward)["redeemed_count"] == 2


def test_concurrent_requests_with_one_key_redeem_once(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger, max_total=10)
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: redeem(ledger, alice, reward, idempotency_key="once"), range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert reward_now(ledger, reward)["redeemed_count"] == 1
    assert ledger.balance(alice)["available"] == "75"


# ------------------------------------------------------------------- lots


def test_lots_are_consumed_fifo_and_recorded(ledger: Ledger) -> None:
    lots_asset = ledger.api.create_asset(
        ledger.program["id"], name="Lot points", symbol=f"LOT{uuid.uuid4().hex[:4]}", inventory_mode="LOT"
    )
    alice = ledger.participant()
    caller = Caller(ledger.api.organization_id, "test")
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    for amount in (10, 20, 30):
        balances.credit(
            caller, owner, program_id=ledger.program["id"], asset_id=lots_asset["id"], amount=Decimal(amount)
        )
    reward = create_reward(ledger, asset_id=lots_asset["id"], max_total=3)
    body = redeem(ledger, alice, reward).json()
    stored = redemption_store.require(ledger.api.organization_id, body["id"])
    assert [lot.amount for lot in stored.consumed_lots] == [Decimal(10), Decimal(15)]
    ledger_invariants.check(ledger.api.organization_id, [alice], lots_asset["id"], set(), lots=True)


# --------------------------------------------------------------- webhooks


@pytest.fixture
def _archive_endpoints_afterwards(api: Api) -> Iterator[None]:
    yield
    for row in api.get("/v1/webhook-endpoints?limit=100").json()["data"]:
        api.delete(f"/v1/webhook-endpoints/{row['id']}")


@pytest.mark.usefixtures("_archive_endpoints_afterwards")
def test_redemption_completed_is_notified_once(ledger: Ledger, stack: LocalStack) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    reward = create_reward(ledger)
    stack.drain()
    with receiver() as hooks:
        created = ledger.api.post(
            "/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["redemption.completed"]}
        )
        assert created.status_code == 201, created.text
        body = redeem(ledger, alice, reward, quantity=2, idempotency_key="hook-1").json()
        assert redeem(ledger, alice, reward, quantity=2, idempotency_key="hook-1").status_code == 200
        stack.drain()
        envelopes = [json.loads(got.body) for got in hooks.received]
    assert [e["type"] for e in envelopes] == ["redemption.completed"]
    assert envelopes[0]["data"] == body


# ------------------------------------------------------------ write units


def test_a_unit_based_redemption_is_one_transaction_whose_only_shared_item_is_the_inventory(
    api: Api, stack: LocalStack
) -> None:
    """The amount redemption's seven items (with a key) plus the reward's INVENTORY and the
    participant's own count, each under 1 KB; no other program- or organization-wide key."""
    ledger = make_ledger(api)
    alice = ledger.participant(program_id=ledger.program["id"])  # enrolled: no enrollment after the commit
    assert ledger.adjust(alice, "100").status_code == 200
    reward = create_reward(ledger, max_total=10, max_per_participant=5)
    stack.drain()
    with DynamoMeter() as meter:
        response = redeem(ledger, alice, reward, quantity=2, idempotency_key="order-9001")
    assert response.status_code == 201, response.text
    function = "ParticipantsIdRedemptionsItemsPostFunction"
    (transaction,) = meter.select(function, "TransactWriteItems")
    assert [call.operation for call in meter.select(function) if call.write_units] == ["TransactWriteItems"]
    written = [key for key in transaction.written_keys if key[0].startswith(f"ORG#{api.organization_id}#")]
    assert len(written) == 9 and all(units == 2 for _, _, units in written), written
    shared = [pk for pk, _, _ in written if f"#PARTICIPANT#{alice}" not in pk and "#JOURNAL#LIST#" not in pk]
    # the rest are fresh (the entry, the redemption, the key's record) but the reward's inventory
    assert sorted(pk.split("#")[2] for pk in shared) == ["JOURNAL", "PROGRAM", "REDEMPTION", "REWARD"], shared
    assert [sk for pk, sk, _ in written if pk.split("#")[2] == "REWARD"] == ["INVENTORY"]
