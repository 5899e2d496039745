"""Amount redemptions (05 §2.2-2.5, §2.7, §2.8) through HTTP against the local stack: the
preconditions of §2.3 in their documented order, the postings of §2.4, idempotency (§0.1),
FIFO lot consumption recorded for reversals, the reads, and the webhooks the stream derives."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.errors import Conflict
from scrip.domain.idempotency import StoredResponse
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.domain.programs import RedemptionTargetType
from scrip.services import balances, totals
from scrip.services import participants as participant_service
from scrip.services import redemptions as redemption_service
from scrip.storage import programs as program_store
from scrip.storage import redemptions as redemption_store
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.api.webhook_receiver import receiver
from tests.conftest import Api
from tests.integration import ledger_invariants

RESOURCE_FIELDS = {
    "id",
    "participant_id",
    "program_id",
    "asset_id",
    "amount",
    "description",
    "journal_entry_id",
    "reward_id",
    "quantity",
    "unit_cost",
    "reversed_amount",
    "reversed_quantity",
    "status",
    "created_at",
    "updated_at",
}


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


def redeem(ledger: Ledger, participant: str, amount: str, asset: dict[str, Any] | None = None, **fields: Any) -> Any:
    body = {
        "program_id": ledger.program["id"],
        "asset_id": (asset or ledger.points)["id"],
        "amount": amount,
        "description": "Statement credit, invoice INV-2207",
        **fields,
    }
    return ledger.api.post(f"/v1/participants/{participant}/redemptions", json=body)


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# ------------------------------------------------------------------ create


def test_an_amount_redemption_debits_available_and_credits_system_redemption(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    response = redeem(ledger, alice, "750")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == RESOURCE_FIELDS
    assert body["participant_id"] == alice and body["program_id"] == ledger.program["id"]
    assert body["asset_id"] == ledger.points["id"] and body["amount"] == "750"
    assert body["description"] == "Statement credit, invoice INV-2207"
    assert (body["reward_id"], body["quantity"], body["unit_cost"], body["reversed_quantity"]) == (None,) * 4
    assert body["reversed_amount"] == "0" and body["status"] == "COMPLETED"
    assert body["created_at"] == body["updated_at"]
    assert ledger.balance(alice) == {"available": "250", "held": "0", "deferred": "0"}
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-750"),
        ("SYSTEM", "SYSTEM_REDEMPTION", "AVAILABLE", "750"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{body['journal_entry_id']}").json()
    assert entry["action_type"] == "REDEMPTION" and entry["program_id"] == ledger.program["id"]
    assert entry["description"] == "Statement credit, invoice INV-2207"
    assert ledger.api.get(f"/v1/redemptions/{body['id']}").json() == body


def test_the_system_redemption_total_follows_from_the_stream(ledger: Ledger, stack: LocalStack) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    redeem(ledger, alice, "30")
    redeem(ledger, alice, "12")
    stack.drain()
    org, points = ledger.api.organization_id, ledger.points["id"]
    assert totals.system_total(org, "SYSTEM_REDEMPTION", points) == Decimal(42)
    assert totals.system_total(org, "SYSTEM_REDEMPTION", points, ledger.program["id"]) == Decimal(42)


def test_amounts_render_at_the_assets_scale(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert ledger.fund("100").status_code == 200
    ledger.adjust(alice, "20", asset=ledger.cash)
    body = redeem(ledger, alice, "12.5", asset=ledger.cash).json()
    assert body["amount"] == "12.50" and body["reversed_amount"] == "0.00"
    assert ledger.balance(alice, ledger.cash)["available"] == "7.50"


def test_the_program_target_is_captured_at_redemption_time(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    program_path = f"/v1/programs/{ledger.program['id']}"
    assert ledger.api.patch(program_path, json={"redemption_target_type": "SYSTEM_BREAKAGE"}).status_code == 200
    breakage = redeem(ledger, alice, "10").json()
    assert ledger.api.patch(program_path, json={"redemption_target_type": "SYSTEM_REDEMPTION"}).status_code == 200
    default = redeem(ledger, alice, "5").json()
    assert postings(ledger.api, breakage["journal_entry_id"])[1] == ("SYSTEM", "SYSTEM_BREAKAGE", "AVAILABLE", "10")
    assert postings(ledger.api, default["journal_entry_id"])[1] == ("SYSTEM", "SYSTEM_REDEMPTION", "AVAILABLE", "5")
    stored = redemption_store.require(ledger.api.organization_id, breakage["id"])
    assert stored.target.type is RedemptionTargetType.SYSTEM_BREAKAGE  # what a reversal will use


def _target(ledger: Ledger, entity_id: str, entity_type: EntityType | None = None) -> None:
    """The program's target set as decision 17 allows, stored directly: with the entity's type as
    the program's update records it, or without (a target stored before the type was), which
    the redemption looks up."""
    org = ledger.api.organization_id
    current = program_store.require(org, ledger.program["id"])
    updated = replace(
        current,
        redemption_target_type=RedemptionTargetType.LEDGER_ENTITY,
        redemption_target_entity_id=entity_id,
        redemption_target_entity_type=entity_type,
        version=current.version + 1,
    )
    program_store.save(current, updated)


def test_a_ledger_entity_target_credits_that_participants_available(ledger: Ledger) -> None:
    alice, merchant = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    _target(ledger, merchant)
    body = redeem(ledger, alice, "30").json()
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", alice, "AVAILABLE", "-30"),
        ("PARTICIPANT", merchant, "AVAILABLE", "30"),
    ]
    assert ledger.balance(merchant)["available"] == "30"


def test_a_ledger_entity_target_may_be_a_group(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    admin = {"participant_id": ledger.participant(), "role": "ADMIN"}
    group = ledger.api.post("/v1/groups", json={"name": "Charity pool", "members": [admin]})
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    _target(ledger, group_id, EntityType.GROUP)
    body = redeem(ledger, alice, "40").json()
    assert postings(ledger.api, body["journal_entry_id"])[1] == ("GROUP", group_id, "AVAILABLE", "40")
    _target(ledger, group_id)  # stored without its type: found by looking it up
    body = redeem(ledger, alice, "2").json()
    assert postings(ledger.api, body["journal_entry_id"])[1] == ("GROUP", group_id, "AVAILABLE", "2")
    rows = ledger.api.get(f"/v1/groups/{group_id}/balances").json()["data"]
    assert [r["balance"] for r in rows if r["asset_id"] == ledger.points["id"]] == ["42"]


def test_an_unenrolled_participant_is_enrolled_by_the_redemption(ledger: Ledger) -> None:
    alice = ledger.participant()  # no program_id: not enrolled
    ledger.adjust(alice, "10")
    assert ledger.program["id"] not in ledger.api.get(f"/v1/participants/{alice}").json()["program_ids"]
    assert redeem(ledger, alice, "20").status_code == 422  # refused: enrolls nobody
    assert ledger.program["id"] not in ledger.api.get(f"/v1/participants/{alice}").json()["program_ids"]
    assert redeem(ledger, alice, "10").status_code == 201
    assert ledger.program["id"] in ledger.api.get(f"/v1/participants/{alice}").json()["program_ids"]


def test_an_enrollment_lost_to_concurrent_writers_never_fails_a_committed_redemption(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")

    def contended(*_: Any, **__: Any) -> Any:
        raise Conflict("the resource changed concurrently; retry the request")

    monkeypatch.setattr(participant_service, "resolve_for_event", contended)
    response = redeem(ledger, alice, "4")
    assert response.status_code == 201, response.text
    assert ledger.balance(alice)["available"] == "6"
    monkeypatch.undo()
    assert redeem(ledger, alice, "1").status_code == 201  # the next redemption enrolls
    assert ledger.program["id"] in ledger.api.get(f"/v1/participants/{alice}").json()["program_ids"]


# ---------------------------------------------------------- preconditions


def test_unknown_participant_program_or_asset_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    assert error(redeem(ledger, str(uuid.uuid4()), "1")) == (404, "not_found")
    assert error(redeem(ledger, alice, "1", program_id=str(uuid.uuid4()))) == (404, "not_found")
    assert error(redeem(ledger, alice, "1", asset_id=str(uuid.uuid4()))) == (404, "not_found")
    # Another organization's participant is unknown here.
    stranger = other_api.post("/v1/participants", json={"external_id": "stranger"}).json()["id"]
    assert error(redeem(ledger, stranger, "1")) == (404, "not_found")


def test_the_preconditions_answer_in_their_documented_order(ledger: Ledger) -> None:
    """05 §2.3: participant, program, participant status, asset, amount, balance. Each step is
    made to fail together with every later one, and must be the one that answers."""
    api = ledger.api
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    other = api.create_program(name="Elsewhere")
    unlinked = api.create_asset(other["id"], name="Miles", symbol=f"MI{uuid.uuid4().hex[:4]}", scale=0)
    api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "SUSPENDED"})
    api.patch(f"/v1/participants/{alice}/status", json={"status": "SUSPENDED"})
    # Unlinked asset, too many decimals and more than the balance, all at once:
    assert error(redeem(ledger, alice, "11.5", asset=unlinked)) == (422, "program_not_active")
    api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "ACTIVE"})
    assert error(redeem(ledger, alice, "11.5", asset=unlinked)) == (409, "participant_inactive")
    api.patch(f"/v1/participants/{alice}/status", json={"status": "ACTIVE"})
    assert error(redeem(ledger, alice, "11.5", asset=unlinked)) == (422, "asset_not_linked")
    assert error(redeem(ledger, alice, "11.5")) == (400, "invalid_scale")
    assert error(redeem(ledger, alice, "11")) == (422, "insufficient_balance")
    assert ledger.balance(alice)["available"] == "10"


def test_a_closed_participant_cannot_redeem(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "CLOSED"})
    assert error(redeem(ledger, alice, "1")) == (409, "participant_inactive")


def test_an_archived_asset_or_program_cannot_be_redeemed(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    ledger.api.patch(f"/v1/assets/{ledger.points['id']}", json={"status": "ARCHIVED"})
    assert error(redeem(ledger, alice, "1")) == (422, "asset_archived")
    ledger.api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "ARCHIVED"})
    assert error(redeem(ledger, alice, "1")) == (422, "program_not_active")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "0"}, 400, "validation_error"),
        ({"amount": "-5"}, 400, "validation_error"),
        ({"amount": "1e3"}, 400, "validation_error"),
        ({"amount": 5}, 400, "validation_error"),
        ({"amount": None}, 400, "validation_error"),
        ({"description": ""}, 400, "validation_error"),
        ({"description": "x" * 501}, 400, "validation_error"),
        ({"description": None}, 400, "validation_error"),
        ({"program_id": "not-a-uuid"}, 400, "validation_error"),
        ({"asset_id": None}, 400, "validation_error"),
        ({"idempotency_key": ""}, 400, "validation_error"),
        ({"idempotency_key": "k" * 256}, 400, "validation_error"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(ledger: Ledger, change: dict[str, Any], status: int, code: str) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    body = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"], "description": "x", "amount": "1"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = ledger.api.post(f"/v1/participants/{alice}/redemptions", json=body)
    assert error(response) == (status, code), response.text
    assert ledger.balance(alice)["available"] == "10"
    assert ledger.api.get(f"/v1/participants/{alice}/redemptions").json()["data"] == []


def test_max_transaction_amount_is_422(ledger: Ledger) -> None:
    capped = ledger.api.create_asset(
        ledger.program["id"], name="Capped", symbol=f"CAP{uuid.uuid4().hex[:4]}", max_transaction_amount="50"
    )
    alice = ledger.participant()
    ledger.adjust(alice, "50", asset=capped)
    ledger.adjust(alice, "50", asset=capped)
    assert error(redeem(ledger, alice, "51", asset=capped)) == (422, "max_transaction_amount_exceeded")
    assert redeem(ledger, alice, "50", asset=capped).status_code == 201


def test_insufficient_balance_names_what_is_available(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    ledger.operation(alice, "hold", amount="4")  # HELD is not redeemable
    response = redeem(ledger, alice, "7")
    assert error(response) == (422, "insufficient_balance")
    assert response.json()["details"] == {"available": "6", "requested": "7"}
    assert ledger.balance(alice) == {"available": "6", "held": "4", "deferred": "0"}


def test_concurrent_redemptions_never_overdraw(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: redeem(ledger, alice, "10").status_code, range(20)))
    assert sorted(codes) == [201] * 10 + [422] * 10
    assert ledger.balance(alice)["available"] == "0"
    listed = ledger.api.get(f"/v1/participants/{alice}/redemptions?limit=200").json()["data"]
    assert len(listed) == 10
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set())


# ------------------------------------------------------------ idempotency


def test_a_key_replays_200_and_another_payload_is_409(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    first = redeem(ledger, alice, "40", idempotency_key="stmt-credit-INV-2207")
    assert first.status_code == 201
    again = redeem(ledger, alice, "40.00", idempotency_key="stmt-credit-INV-2207")  # trailing zeros are cosmetic
    assert again.status_code == 200 and again.json() == first.json()
    assert ledger.balance(alice)["available"] == "60"
    conflict = redeem(ledger, alice, "41", idempotency_key="stmt-credit-INV-2207")
    assert error(conflict) == (409, "idempotency_conflict")
    other_participant = ledger.participant()
    assert error(redeem(ledger, other_participant, "40", idempotency_key="stmt-credit-INV-2207")) == (
        409,
        "idempotency_conflict",
    )
    assert len(ledger.api.get(f"/v1/participants/{alice}/redemptions").json()["data"]) == 1


def test_a_replay_answers_even_when_the_preconditions_now_fail(ledger: Ledger) -> None:
    """05 §2.3 step 7: the key is checked first of all."""
    alice = ledger.participant()
    ledger.adjust(alice, "40")
    first = redeem(ledger, alice, "40", idempotency_key="k-1")
    assert first.status_code == 201
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "SUSPENDED"})
    again = redeem(ledger, alice, "40", idempotency_key="k-1")  # no balance left, participant suspended
    assert again.status_code == 200 and again.json() == first.json()


def test_a_refused_redemption_stores_no_key(ledger: Ledger) -> None:
    alice = ledger.participant()
    assert error(redeem(ledger, alice, "5", idempotency_key="retry-me")) == (422, "insufficient_balance")
    ledger.adjust(alice, "5")
    assert redeem(ledger, alice, "5", idempotency_key="retry-me").status_code == 201


def test_a_request_whose_key_commits_meanwhile_answers_as_its_replay(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rival with the same key commits after this request found no record, taking the
    balance this request's plan then misses: this request is the rival's replay, not a 422."""
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    plan = redemption_service._plan
    rival: list[str] = []

    def plan_after_a_rival(*args: Any, **kwargs: Any) -> Any:
        if not rival:
            rival.append("running")
            answer = redemption_service.redeem_amount(
                Caller(ledger.api.organization_id, "rival"),
                alice,
                program_id=ledger.program["id"],
                asset_id=ledger.points["id"],
                amount=Decimal(10),
                description="x",
                idempotency_key="race",
                request={
                    "program_id": uuid.UUID(ledger.program["id"]),
                    "asset_id": uuid.UUID(ledger.points["id"]),
                    "amount": Decimal(10),
                    "description": "x",
                },
                render=lambda r: StoredResponse(201, redemption_service.resource(r)),
            )
            rival[0] = answer.response.body["id"]
        return plan(*args, **kwargs)

    monkeypatch.setattr(redemption_service, "_plan", plan_after_a_rival)
    response = redeem(ledger, alice, "10", description="x", idempotency_key="race")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == rival[0]
    assert ledger.balance(alice)["available"] == "0"


def test_concurrent_requests_with_one_key_redeem_once(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: redeem(ledger, alice, "10", idempotency_key="once"), range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert ledger.balance(alice)["available"] == "90"


# ------------------------------------------------------------------- lots


@pytest.fixture
def lot_ledger(ledger: Ledger) -> Ledger:
    return ledger.use_lot_points()


def test_lots_are_consumed_fifo_and_recorded_on_the_redemption(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice = ledger.participant()
    for amount in ("10", "20", "30"):
        ledger.adjust(alice, amount)
    lot_ids = [
        lot["id"]
        for lot in ledger.api.get(f"/v1/participants/{alice}/balances/lots?asset_id={ledger.points['id']}").json()[
            "data"
        ]
    ]
    body = redeem(ledger, alice, "25").json()
    assert ledger.lot_rows(alice) == [("10", "0", "CONSUMED"), ("20", "5", "AVAILABLE"), ("30", "30", "AVAILABLE")]
    stored = redemption_store.require(ledger.api.organization_id, body["id"])
    assert [(lot.lot_id, lot.amount) for lot in stored.consumed_lots] == [
        (lot_ids[0], Decimal(10)),
        (lot_ids[1], Decimal(15)),
    ]
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set(), lots=True)


def test_expired_lots_do_not_count(lot_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """05 §2.3 step 6: an expired lot the job has not yet swept is not AVAILABLE to redeem."""
    ledger = lot_ledger
    alice = ledger.participant()
    caller = Caller(ledger.api.organization_id, "rule")
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    common = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"]}
    balances.credit(caller, owner, amount=Decimal(10), expires_at=clock.now() + timedelta(hours=1), **common)
    balances.credit(caller, owner, amount=Decimal(5), **common)
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(2 * 3600))
    assert ledger.balance(alice)["available"] == "15"  # not yet swept
    response = redeem(ledger, alice, "6")
    assert error(response) == (422, "insufficient_balance")
    assert response.json()["details"]["available"] == "5"
    assert redeem(ledger, alice, "5").status_code == 201


def test_a_ledger_entity_target_receives_a_lot_it_can_spend(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice, merchant = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "50")
    _target(ledger, merchant)
    assert redeem(ledger, alice, "30").status_code == 201
    assert ledger.lot_rows(merchant) == [("30", "30", "AVAILABLE")]
    org, asset = ledger.api.organization_id, ledger.points["id"]
    ledger_invariants.check(org, [alice, merchant], asset, set(), lots=True)
    _target(ledger, alice)  # the redeemer itself: value and lots come back whole
    assert redeem(ledger, merchant, "30").status_code == 201
    ledger_invariants.check(org, [alice, merchant], asset, set(), lots=True)


def test_more_lots_than_one_transaction_holds_is_422_and_writes_nothing(lot_ledger: Ledger) -> None:
    """A redemption is one transaction (100 items): the entry, its list line, the balance, its
    ledger line, the redemption and its list entry and the key's record leave room for 93 lots."""
    ledger = lot_ledger
    alice = ledger.participant()
    caller = Caller(ledger.api.organization_id, "test")
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    for _ in range(94):
        balances.credit(caller, owner, program_id=ledger.program["id"], asset_id=ledger.points["id"], amount=Decimal(1))
    response = redeem(ledger, alice, "94", idempotency_key="all-of-it")
    assert error(response) == (422, "too_many_lots")
    assert ledger.balance(alice)["available"] == "94"
    assert redeem(ledger, alice, "93", idempotency_key="most-of-it").status_code == 201
    ledger_invariants.check(ledger.api.organization_id, [alice], ledger.points["id"], set(), lots=True)


def test_a_target_that_names_no_holder_is_refused(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    _target(ledger, str(uuid.uuid4()))
    assert error(redeem(ledger, alice, "1")) == (422, "redemption_target_not_found")
    assert ledger.balance(alice)["available"] == "10"


# ------------------------------------------------------------------ reads


def test_get_unknown_or_foreign_redemption_is_404(ledger: Ledger, other_api: Api) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "10")
    created = redeem(ledger, alice, "1").json()
    assert error(ledger.api.get(f"/v1/redemptions/{uuid.uuid4()}")) == (404, "not_found")
    assert error(other_api.get(f"/v1/redemptions/{created['id']}")) == (404, "not_found")
    assert error(ledger.api.get("/v1/redemptions/not-a-uuid")) == (400, "validation_error")


def test_the_list_pages_newest_first_and_filters(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    ledger.adjust(bob, "100")
    made = [redeem(ledger, alice, str(n)).json() for n in range(1, 6)]
    redeem(ledger, bob, "1")
    path = f"/v1/participants/{alice}/redemptions"
    first = ledger.api.get(f"{path}?limit=2").json()
    assert [r["amount"] for r in first["data"]] == ["5", "4"] and first["pagination"]["has_more"] is True
    second = ledger.api.get(f"{path}?limit=2&cursor={first['pagination']['next_cursor']}").json()
    third = ledger.api.get(f"{path}?limit=2&cursor={second['pagination']['next_cursor']}").json()
    assert [r["amount"] for r in second["data"] + third["data"]] == ["3", "2", "1"]
    assert third["pagination"] == {"has_more": False, "next_cursor": None}
    assert first["data"][0] == ledger.api.get(f"/v1/redemptions/{made[-1]['id']}").json()

    assert len(ledger.api.get(f"{path}?status=COMPLETED").json()["data"]) == 5
    assert ledger.api.get(f"{path}?status=FULLY_REVERSED").json()["data"] == []
    assert ledger.api.get(f"{path}?reward_catalog_item_id={uuid.uuid4()}").json()["data"] == []
    middle = made[2]["created_at"]
    assert [r["amount"] for r in ledger.api.get(f"{path}?from={middle}").json()["data"]] == ["5", "4", "3"]
    assert [r["amount"] for r in ledger.api.get(f"{path}?to={middle}").json()["data"]] == ["3", "2", "1"]


def test_list_errors(ledger: Ledger) -> None:
    alice = ledger.participant()
    path = f"/v1/participants/{alice}/redemptions"
    assert error(ledger.api.get(f"/v1/participants/{uuid.uuid4()}/redemptions")) == (404, "not_found")
    assert error(ledger.api.get(f"{path}?status=PENDING")) == (400, "validation_error")
    assert error(ledger.api.get(f"{path}?limit=201")) == (400, "validation_error")
    assert error(ledger.api.get(f"{path}?reward_catalog_item_id=nope")) == (400, "validation_error")
    ledger.adjust(alice, "10")
    redeem(ledger, alice, "1")
    redeem(ledger, alice, "1")
    cursor = ledger.api.get(f"{path}?limit=1").json()["pagination"]["next_cursor"]
    assert error(ledger.api.get(f"{path}?limit=1&status=COMPLETED&cursor={cursor}")) == (400, "validation_error")


# --------------------------------------------------------------- webhooks


@pytest.fixture
def _archive_endpoints_afterwards(api: Api) -> Iterator[None]:
    yield
    for row in api.get("/v1/webhook-endpoints?limit=100").json()["data"]:
        api.delete(f"/v1/webhook-endpoints/{row['id']}")


@pytest.mark.usefixtures("_archive_endpoints_afterwards")
def test_redemption_completed_and_balance_debited_are_notified_once(ledger: Ledger, stack: LocalStack) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "100")
    stack.drain()
    with receiver() as hooks:
        created = ledger.api.post(
            "/v1/webhook-endpoints",
            json={"url": hooks.url, "enabled_events": ["redemption.completed", "balance.debited"]},
        )
        assert created.status_code == 201, created.text
        body = redeem(ledger, alice, "30", idempotency_key="hook-1").json()
        assert redeem(ledger, alice, "30", idempotency_key="hook-1").status_code == 200  # replay: no second webhook
        stack.drain()
        envelopes = [json.loads(got.body) for got in hooks.received]
    by_type = {e["type"]: e for e in envelopes}
    assert sorted(e["type"] for e in envelopes) == ["balance.debited", "redemption.completed"]
    assert by_type["redemption.completed"]["data"] == body
    debited = by_type["balance.debited"]["data"]
    assert debited["participant_id"] == alice and debited["amount"] == "30"
    assert debited["journal_entry_id"] == body["journal_entry_id"] and debited["bucket"] == "AVAILABLE"
