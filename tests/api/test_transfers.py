"""Transfers through HTTP (05 §3.1; decisions 10, 11, 18): one journal entry per transfer,
idempotent, all or nothing, LOT assets consumed FIFO with fresh lots at each recipient."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.errors import Conflict
from scrip.domain.ledger import participant_account
from scrip.services import transfers
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import transactions
from scrip.storage import transfers as transfer_store
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, postings
from tests.api.webhook_receiver import receiver
from tests.conftest import Api


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


def transfer(ledger: Ledger, recipients: list[dict[str, Any]], **fields: Any) -> Any:
    body: dict[str, Any] = {
        "program_id": ledger.program["id"],
        "asset_id": ledger.points["id"],
        "description": "Order #5521 payout less platform fee",
        "recipients": recipients,
        **fields,
    }
    return ledger.api.post("/v1/transfers", json=body)


def group(ledger: Ledger, admin: str) -> str:
    created = ledger.api.post(
        "/v1/groups", json={"name": "Pool", "members": [{"participant_id": admin, "role": "ADMIN"}]}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def group_available(ledger: Ledger, group_id: str, asset: dict[str, Any] | None = None) -> str:
    rows = ledger.api.get(f"/v1/groups/{group_id}/balances").json()["data"]
    asset_id = (asset or ledger.points)["id"]
    found = [row for row in rows if row["asset_id"] == asset_id]
    return str(found[0]["balance"]) if found else "0"  # available + held (decision 21); nothing is held here


def available(ledger: Ledger, participant: str, asset: dict[str, Any] | None = None) -> str:
    return ledger.balance(participant, asset).get("available", "0")


def test_transfer_to_a_participant_and_a_group_is_one_zero_sum_entry(ledger: Ledger) -> None:
    seller_external = f"seller-{uuid.uuid4().hex[:8]}"
    seller = ledger.participant(external_id=seller_external)
    buyer_external = f"buyer-{uuid.uuid4().hex[:8]}"
    buyer = ledger.participant(external_id=buyer_external)
    pool = group(ledger, ledger.participant())
    assert ledger.adjust(seller, "250").status_code == 200

    response = transfer(
        ledger,
        [{"external_id": buyer_external, "amount": "190"}, {"group_id": pool, "amount": "10"}],
        source_external_id=seller_external,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "asset_id": ledger.points["id"],
        "journal_entry_id": body["journal_entry_id"],
        "recipient_count": 2,
        "source_id": seller,
        "total_amount": "200",
    }
    assert postings(ledger.api, body["journal_entry_id"]) == [
        ("PARTICIPANT", seller, "AVAILABLE", "-200"),
        ("PARTICIPANT", buyer, "AVAILABLE", "190"),
        ("GROUP", pool, "AVAILABLE", "10"),
    ]
    entry = ledger.api.get(f"/v1/journal-entries/{body['journal_entry_id']}").json()
    assert entry["action_type"] == "TRANSFER" and entry["program_id"] == ledger.program["id"]
    assert entry["description"] == "Order #5521 payout less platform fee"
    assert (available(ledger, seller), available(ledger, buyer), group_available(ledger, pool)) == ("50", "190", "10")


def test_group_source_and_duplicate_recipients(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    pool = group(ledger, alice)
    assert (
        ledger.api.post(
            f"/v1/groups/{pool}/balances/adjust",
            json={
                "program_id": ledger.program["id"],
                "asset_id": ledger.points["id"],
                "type": "CREDIT",
                "amount": "30",
                "description": "seed",
            },
        ).status_code
        == 200
    )
    response = transfer(
        ledger,
        [{"participant_id": bob, "amount": "5"}, {"participant_id": bob, "amount": "7"}],
        source_group_id=pool,
    )
    assert response.status_code == 201, response.text
    assert response.json()["source_id"] == pool and response.json()["recipient_count"] == 2
    assert postings(ledger.api, response.json()["journal_entry_id"]) == [
        ("GROUP", pool, "AVAILABLE", "-12"),
        ("PARTICIPANT", bob, "AVAILABLE", "5"),
        ("PARTICIPANT", bob, "AVAILABLE", "7"),
    ]
    assert (group_available(ledger, pool), available(ledger, bob)) == ("18", "12")


def test_idempotency_201_then_200_then_409(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    recipients = [{"participant_id": bob, "amount": "10"}]
    first = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="order-1")
    assert first.status_code == 201, first.text
    # Trailing zeros and key order are cosmetic (05 §0.1).
    replay = transfer(
        ledger, [{"amount": "10.00", "participant_id": bob}], source_participant_id=alice, idempotency_key="order-1"
    )
    assert replay.status_code == 200 and replay.json() == first.json()
    other = transfer(
        ledger, [{"participant_id": bob, "amount": "11"}], source_participant_id=alice, idempotency_key="order-1"
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert (available(ledger, alice), available(ledger, bob)) == ("90", "10")
    # The key is scoped to the transfer family: an unkeyed transfer is a new one.
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 201
    assert available(ledger, bob) == "20"


def test_replay_answers_even_after_the_source_was_suspended(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    recipients = [{"participant_id": bob, "amount": "10"}]
    assert transfer(ledger, recipients, source_participant_id=alice, idempotency_key="k").status_code == 201
    ledger.api.patch(f"/v1/participants/{alice}/status", json={"status": "SUSPENDED"})
    assert transfer(ledger, recipients, source_participant_id=alice, idempotency_key="k").status_code == 200
    refused = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="k2")
    assert refused.status_code == 409 and refused.json()["code"] == "participant_inactive"


def test_self_transfer_is_400_even_by_another_identifier(ledger: Ledger) -> None:
    external = f"self-{uuid.uuid4().hex[:8]}"
    alice = ledger.participant(external_id=external)
    bob = ledger.participant()
    ledger.adjust(alice, "100")
    response = transfer(
        ledger,
        [{"participant_id": bob, "amount": "1"}, {"external_id": external, "amount": "1"}],
        source_participant_id=alice,
    )
    assert response.status_code == 400 and response.json()["code"] == "self_transfer"
    assert (available(ledger, alice), available(ledger, bob)) == ("100", "0")


@pytest.mark.parametrize(
    "change",
    [
        {"recipients": []},
        {"recipients": "many"},  # replaced below by 101 recipients
        {"source_group_id": None, "source_participant_id": None},  # no source
        {"source_external_id": "both"},  # two sources
        {"description": ""},
        {"description": "x" * 501},
        {"recipients": [{"amount": "1"}]},  # no identifier
        {"recipients": "two-ids"},
        {"recipients": "zero"},
        {"recipients": "negative"},
        {"recipients": "number"},
    ],
)
def test_malformed_requests_are_400_validation_error(ledger: Ledger, change: dict[str, Any]) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    special = {
        "many": [{"participant_id": bob, "amount": "1"}] * 101,
        "two-ids": [{"participant_id": bob, "group_id": str(uuid.uuid4()), "amount": "1"}],
        "zero": [{"participant_id": bob, "amount": "0"}],
        "negative": [{"participant_id": bob, "amount": "-1"}],
        "number": [{"participant_id": bob, "amount": 1}],
    }
    fields: dict[str, Any] = {"source_participant_id": alice, "recipients": [{"participant_id": bob, "amount": "1"}]}
    for name, value in change.items():
        fields[name] = special.get(value, value) if isinstance(value, str) and name == "recipients" else value
    fields = {k: v for k, v in fields.items() if v is not None}
    recipients = fields.pop("recipients")
    response = transfer(ledger, recipients, **fields)
    assert response.status_code == 400 and response.json()["code"] == "validation_error", response.text
    assert available(ledger, alice) == "100"


def test_scale_is_400_invalid_scale(ledger: Ledger) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    response = transfer(ledger, [{"participant_id": bob, "amount": "1.5"}], source_participant_id=alice)
    assert response.status_code == 400 and response.json()["code"] == "invalid_scale"


def test_unknown_parties_program_or_asset_are_404(ledger: Ledger, other_api: Api) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    ok = [{"participant_id": bob, "amount": "1"}]
    cases = [
        transfer(ledger, [{"participant_id": str(uuid.uuid4()), "amount": "1"}], source_participant_id=alice),
        transfer(ledger, [{"external_id": "nobody-here", "amount": "1"}], source_participant_id=alice),
        transfer(ledger, [{"group_id": str(uuid.uuid4()), "amount": "1"}], source_participant_id=alice),
        transfer(ledger, ok, source_participant_id=str(uuid.uuid4())),
        transfer(ledger, ok, source_external_id="nobody-here"),
        transfer(ledger, ok, source_group_id=str(uuid.uuid4())),
        transfer(ledger, ok, source_participant_id=alice, program_id=str(uuid.uuid4())),
        transfer(ledger, ok, source_participant_id=alice, asset_id=str(uuid.uuid4())),
    ]
    for response in cases:
        assert response.status_code == 404 and response.json()["code"] == "not_found", response.text
    # Another organization's participant is unknown here.
    stranger = other_api.post("/v1/participants", json={"external_id": "stranger"}).json()["id"]
    assert (
        transfer(ledger, [{"participant_id": stranger, "amount": "1"}], source_participant_id=alice).status_code == 404
    )
    # Resolution by external id never creates a participant.
    assert ledger.api.get("/v1/participants?external_id=nobody-here").json()["data"] == []
    assert available(ledger, alice) == "100"


@pytest.mark.parametrize("status", ["SUSPENDED", "CLOSED"])
def test_inactive_source_or_recipient_is_409_participant_inactive(ledger: Ledger, status: str) -> None:
    alice, bob, carol = ledger.participant(), ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    ledger.api.patch(f"/v1/participants/{carol}/status", json={"status": status})
    to_carol = transfer(
        ledger,
        [{"participant_id": bob, "amount": "1"}, {"participant_id": carol, "amount": "1"}],
        source_participant_id=alice,
    )
    assert to_carol.status_code == 409 and to_carol.json()["code"] == "participant_inactive"
    from_carol = transfer(ledger, [{"participant_id": bob, "amount": "1"}], source_participant_id=carol)
    assert from_carol.status_code == 409 and from_carol.json()["code"] == "participant_inactive"
    assert (available(ledger, alice), available(ledger, bob)) == ("100", "0")


def test_archived_group_inactive_program_unlinked_asset(ledger: Ledger, api: Api) -> None:
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    pool = group(ledger, bob)
    assert api.delete(f"/v1/groups/{pool}").status_code == 200
    archived = transfer(ledger, [{"group_id": pool, "amount": "1"}], source_participant_id=alice)
    assert archived.status_code == 409 and archived.json()["code"] == "group_archived"

    other_program = api.create_program(name="Other")
    unlinked = transfer(
        ledger, [{"participant_id": bob, "amount": "1"}], source_participant_id=alice, program_id=other_program["id"]
    )
    assert unlinked.status_code == 422 and unlinked.json()["code"] == "asset_not_linked"

    api.patch(f"/v1/programs/{ledger.program['id']}", json={"status": "SUSPENDED"})
    inactive = transfer(ledger, [{"participant_id": bob, "amount": "1"}], source_participant_id=alice)
    assert inactive.status_code == 422 and inactive.json()["code"] == "program_not_active"
    assert (available(ledger, alice), available(ledger, bob)) == ("100", "0")


def test_insufficient_balance_and_max_transaction_amount_are_422(ledger: Ledger, api: Api) -> None:
    alice, bob, carol = ledger.participant(), ledger.participant(), ledger.participant()
    ledger.adjust(alice, "100")
    short = transfer(
        ledger,
        [{"participant_id": bob, "amount": "60"}, {"participant_id": carol, "amount": "41"}],
        source_participant_id=alice,
    )
    assert short.status_code == 422 and short.json()["code"] == "insufficient_balance"
    assert short.json()["details"] == {"available": "100", "requested": "101"}

    api.patch(f"/v1/assets/{ledger.points['id']}", json={"max_transaction_amount": "50"})
    leg = transfer(ledger, [{"participant_id": bob, "amount": "51"}], source_participant_id=alice)
    assert leg.status_code == 422 and leg.json()["code"] == "max_transaction_amount_exceeded"
    # Each leg within the limit, the source's debit above it (05 §0.2).
    total = transfer(
        ledger,
        [{"participant_id": bob, "amount": "30"}, {"participant_id": carol, "amount": "30"}],
        source_participant_id=alice,
    )
    assert total.status_code == 422 and total.json()["code"] == "max_transaction_amount_exceeded"
    assert (available(ledger, alice), available(ledger, bob), available(ledger, carol)) == ("100", "0", "0")


def test_a_transfer_too_large_for_one_transaction_is_staged_and_finished(ledger: Ledger) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    recipients = [{"participant_id": ledger.participant(), "amount": "1"} for _ in range(48)]
    # 48 distinct recipients: 1 + 48 balances, entry and list line, 49 ledger lines = 100 items;
    # the idempotency record would be the 101st: the transfer is staged.
    done = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="wide")
    assert done.status_code == 201, done.text
    assert done.json()["recipient_count"] == 48 and available(ledger, alice) == "952"
    assert {available(ledger, r["participant_id"]) for r in recipients} == {"1"}
    progress = transfer_store.get(ledger.api.organization_id, done.json()["journal_entry_id"])
    assert progress is not None and (progress.status, progress.applied, progress.legs) == ("COMPLETED", 48, 48)
    entry = ledger.api.get(f"/v1/journal-entries/{done.json()['journal_entry_id']}").json()
    assert len(entry["postings"]) == 49 and sum(Decimal(p["amount"]) for p in entry["postings"]) == 0
    replay = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="wide")
    assert replay.status_code == 200 and replay.json() == done.json()
    assert available(ledger, alice) == "952"
    # Without a key it fits one transaction (100 items): no progress item.
    whole = transfer(ledger, recipients, source_participant_id=alice)
    assert whole.status_code == 201 and available(ledger, alice) == "904"
    assert transfer_store.get(ledger.api.organization_id, whole.json()["journal_entry_id"]) is None


# ------------------------------------------------------------------- LOT


@pytest.fixture
def lot_ledger(api: Api) -> Ledger:
    result = make_ledger(api)
    result.points = api.create_asset(
        result.program["id"],
        name="Lot points",
        symbol=f"LOT{result.points['symbol'][-4:]}",
        inventory_mode="LOT",
        scale=0,
    )
    return result


def lots(ledger: Ledger, owner: str) -> list[dict[str, Any]]:
    response = ledger.api.get(f"/v1/participants/{owner}/balances/lots?asset_id={ledger.points['id']}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_lot_transfer_consumes_fifo_and_creates_fresh_lots(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice, bob, carol = ledger.participant(), ledger.participant(), ledger.participant()
    ledger.adjust(alice, "30")
    ledger.adjust(alice, "50")
    response = transfer(
        ledger,
        [{"participant_id": bob, "amount": "25"}, {"participant_id": carol, "amount": "15"}],
        source_participant_id=alice,
    )
    assert response.status_code == 201, response.text
    remaining = {Decimal(lot["remaining"]) for lot in lots(ledger, alice) if Decimal(lot["remaining"]) > 0}
    assert remaining == {Decimal(40)}  # the first lot (30) drained, 10 taken from the second
    (bob_lot,) = lots(ledger, bob)
    (carol_lot,) = lots(ledger, carol)
    assert (bob_lot["remaining"], carol_lot["remaining"]) == ("25", "15")
    assert bob_lot["expires_at"] is None
    assert (available(ledger, alice), available(ledger, bob), available(ledger, carol)) == ("40", "25", "15")


def test_lot_transfer_beyond_the_lots_is_422(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "30")
    short = transfer(ledger, [{"participant_id": bob, "amount": "31"}], source_participant_id=alice)
    assert short.status_code == 422 and short.json()["code"] == "insufficient_balance"
    assert lots(ledger, bob) == [] and available(ledger, alice) == "30"


def test_lot_recipient_in_overdraft_repays_it_first(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice, bob = ledger.participant(), ledger.participant()
    ledger.adjust(alice, "30")
    assert ledger.adjust(bob, "5", type="DEBIT", allow_negative=True).status_code == 200
    response = transfer(ledger, [{"participant_id": bob, "amount": "8"}], source_participant_id=alice)
    assert response.status_code == 201, response.text
    assert [lot["remaining"] for lot in lots(ledger, bob)] == ["3"]
    assert available(ledger, bob) == "3"


def test_webhooks_transfer_completed_and_balance_notifications_once(ledger: Ledger, stack: LocalStack) -> None:
    api = ledger.api
    alice, bob = ledger.participant(), ledger.participant()
    pool = group(ledger, bob)
    ledger.adjust(alice, "100")
    with receiver() as hooks:
        created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["*"]})
        assert created.status_code == 201, created.text
        try:
            stack.drain()
            hooks.received.clear()
            recipients = [{"participant_id": bob, "amount": "30"}, {"group_id": pool, "amount": "12"}]
            first = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="hooked")
            assert first.status_code == 201, first.text
            assert (
                transfer(ledger, recipients, source_participant_id=alice, idempotency_key="hooked").status_code == 200
            )
            stack.drain()
            envelopes = [json.loads(got.body) for got in hooks.received]
        finally:
            api.delete(f"/v1/webhook-endpoints/{created.json()['id']}")
    entry_id = first.json()["journal_entry_id"]
    mine = [e for e in envelopes if e["data"].get("journal_entry_id") == entry_id]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for envelope in mine:
        by_type.setdefault(envelope["type"], []).append(envelope["data"])
    # One of each, although the request was sent twice: a replay commits nothing, so notifies nothing.
    assert sorted((t, len(d)) for t, d in by_type.items()) == [
        ("balance.credited", 2),
        ("balance.debited", 1),
        ("transfer.completed", 1),
    ]
    (completed,) = by_type["transfer.completed"]
    assert completed == {
        "program_id": ledger.program["id"],
        "journal_entry_id": entry_id,
        "description": "Order #5521 payout less platform fee",
        "asset_id": ledger.points["id"],
        "source_id": alice,
        "recipient_count": 2,
        "total_amount": "42",
        "recipients": [{"participant_id": bob, "amount": "30"}, {"group_id": pool, "amount": "12"}],
    }
    (debited,) = by_type["balance.debited"]
    assert (debited["participant_id"], debited["amount"], debited["bucket"]) == (alice, "42", "AVAILABLE")
    credited = {(d.get("participant_id") or d.get("group_id"), d["amount"]) for d in by_type["balance.credited"]}
    assert credited == {(bob, "30"), (pool, "12")}


def test_lot_transfer_over_many_source_lots_is_staged_and_a_source_over_95_lots_refused(lot_ledger: Ledger) -> None:
    ledger = lot_ledger
    alice = ledger.participant()
    for _ in range(10):
        ledger.adjust(alice, "3")
    recipients = [{"participant_id": ledger.participant(), "amount": "1"} for _ in range(30)]
    # 94 items before the source's lots; draining 10 lots makes 104: staged.
    done = transfer(ledger, recipients, source_participant_id=alice)
    assert done.status_code == 201, done.text
    assert available(ledger, alice) == "0" and {lot["remaining"] for lot in lots(ledger, alice)} <= {"0"}
    assert all([lot["remaining"] for lot in lots(ledger, r["participant_id"])] == ["1"] for r in recipients)

    bob, carol = ledger.participant(), ledger.participant()
    for _ in range(95):
        ledger.adjust(bob, "1")
    # Staged, the first transaction holds the source's 95 lots, 5 items and the key's record.
    refused = transfer(
        ledger, [{"participant_id": carol, "amount": "95"}], source_participant_id=bob, idempotency_key="k"
    )
    assert refused.status_code == 400 and refused.json()["details"]["reason"] == "exceeds_transaction_limit"
    assert refused.json()["details"]["received"] == 101
    assert available(ledger, bob) == "95" and lots(ledger, carol) == []
    assert transfer(ledger, [{"participant_id": carol, "amount": "94"}], source_participant_id=bob).status_code == 201


class Crash(Exception):
    """The process dies at a chosen DynamoDB transaction."""


def _check_ledger(ledger: Ledger, owners: list[str], expected_total: Decimal, *, lot_mode: bool = True) -> None:
    """Every balance equals its ledger lines (and its lots); no value created or lost."""
    org, asset_id = ledger.api.organization_id, ledger.points["id"]
    total = Decimal(0)
    for owner in set(owners):
        account = participant_account(owner)
        balance = ledger_store.read_balance(org, account, asset_id).balance.available
        lines, _ = ledger_store.history_lines(org, account, asset_id=asset_id)
        assert sum((line.amount for line in lines), Decimal(0)) == balance, owner
        if not lot_mode:
            total += balance
            continue
        live = [lot for lot in lot_store.read(org, account, asset_id) if lot.status.value == "AVAILABLE"]
        assert sum((lot.remaining for lot in live), Decimal(0)) == balance, owner
        total += balance
    assert total == expected_total


def _total(ledger: Ledger, owners: list[str]) -> Decimal:
    """The sum of the owners' balances, as any reader sees them."""
    org, asset_id = ledger.api.organization_id, ledger.points["id"]
    return sum(
        (ledger_store.read_balance(org, participant_account(o), asset_id).balance.available for o in set(owners)),
        Decimal(0),
    )


def _markers(ledger: Ledger, owners: list[str]) -> set[str]:
    """The staged transfers' markers left on these owners' balances, as stored."""
    org, asset_id = ledger.api.organization_id, ledger.points["id"]
    return {
        entry_id
        for owner in owners
        for entry_id in ledger_store.read_balance_as_stored(org, participant_account(owner), asset_id).incoming
    }


def _dying_at(real_write: Any, step: int, committed: bool) -> Any:
    """``transactions.write`` of a process that dies at transaction ``step + 1`` (after it
    landed when ``committed``): nothing it writes from then on lands either."""
    calls = 0

    def write(writes: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > step + 1:
            raise Crash("the process is gone")
        if calls == step + 1:
            if committed:
                real_write(writes)  # the answer is lost after the commit
            raise Crash(f"crash at transaction {step + 1}")
        real_write(writes)

    return write


def _sweep() -> transfers.SweepReport:
    """The deadline sweep as the minute after the deadline runs it."""
    return transfers.abort_overdue(clock.now() + transfer_store.DEADLINE + timedelta(seconds=1))


# A 100-leg LOT transfer to 99 participants is 7 transactions: the progress item, the markers,
# the commit point, then 4 chunks of legs. The process dies before the first, or right after
# each one landed (dying just before transaction k leaves what dying after k - 1 leaves).
COMMIT_STEP, TRANSACTIONS = 2, 7
FAILURE_POINTS = [(0, False), *((step, True) for step in range(TRANSACTIONS))]
OBSERVERS = ("balance", "lots", "statement")  # the first reader after the crash, in turn


def test_a_100_recipient_lot_transfer_is_never_seen_half_applied(
    lot_ledger: Ledger, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = lot_ledger
    asset_id = ledger.points["id"]
    alice = ledger.participant()
    for _ in range(3):
        assert ledger.adjust(alice, "20000").status_code == 200  # three source lots
    people = [ledger.participant() for _ in range(99)]
    # 100 legs, one recipient twice (legs 0 and 99: chunks 1 and 4); amounts vary so that a leg
    # applied twice shows.
    recipients = [{"participant_id": p, "amount": str(i % 7 + 1)} for i, p in enumerate([*people, people[0]])]
    owners = [alice, *people]
    moved = sum(Decimal(r["amount"]) for r in recipients)
    last = people[-1]  # its only leg is in the last chunk: the one a crash leaves unapplied longest
    real_write = transactions.write
    steps: list[int] = []

    def counting(writes: Any) -> None:
        steps.append(len(writes))
        real_write(writes)

    monkeypatch.setattr(transactions, "write", counting)
    clean = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="clean")
    assert clean.status_code == 201, clean.text
    assert len(steps) == TRANSACTIONS and max(steps) <= 100
    _check_ledger(ledger, owners, Decimal(60000))
    assert not _markers(ledger, owners)
    done = 1

    def observed(kind: str) -> Decimal:
        """What one GET shows of ``last``'s credit so far (its balance, lots or statement)."""
        base = f"/v1/participants/{last}"
        if kind == "balance":
            return Decimal(available(ledger, last))
        if kind == "lots":
            return sum((Decimal(lot["remaining"]) for lot in lots(ledger, last)), Decimal(0))
        got = ledger.api.get(f"{base}/statement?asset_id={asset_id}")
        assert got.status_code == 200, got.text
        return Decimal(got.json()["closing_balance"])

    for index, (step, landed) in enumerate(FAILURE_POINTS):
        monkeypatch.setattr(transactions, "write", _dying_at(real_write, step, landed))
        key = f"crash-{step}-{landed}"
        crashed = transfer(ledger, recipients, source_participant_id=alice, idempotency_key=key)
        assert crashed.status_code == 500
        monkeypatch.setattr(transactions, "write", real_write)
        committed = step > COMMIT_STEP or (step == COMMIT_STEP and landed)
        # Before any recovery, what observers see: all of it or none of it.
        # ``last`` (leg 98) gets 98 % 7 + 1 = 1 per transfer.
        assert observed(OBSERVERS[index % len(OBSERVERS)]) == done + committed, (step, landed)
        assert Decimal(available(ledger, alice)) == 60000 - moved * (done + committed)
        assert Decimal(available(ledger, people[0])) == 3 * (done + committed)
        entries = ledger.api.get(f"/v1/journal-entries?participant_id={alice}&action_type=TRANSFER&limit=100")
        assert len(entries.json()["data"]) == done + committed
        assert _total(ledger, owners) == 60000  # the sum of all balances never changes
        done += committed
        # Recovery: the stream finishes a committed one; the deadline sweep undoes the rest.
        stack.drain()
        swept = _sweep()
        prepared = step > 0 or landed  # the progress item exists
        assert swept.aborted == (1 if prepared and not committed else 0)
        assert not _markers(ledger, owners)
        _check_ledger(ledger, owners, Decimal(60000))
        # The client's retry: the original answer (200), or, after an undo, the transfer now (201).
        retried = transfer(ledger, recipients, source_participant_id=alice, idempotency_key=key)
        assert retried.status_code == (200 if committed else 201), retried.text
        done += not committed
        assert Decimal(available(ledger, alice)) == 60000 - moved * done
    _check_ledger(ledger, owners, Decimal(60000))
    assert available(ledger, people[0]) == str(3 * done)  # legs 0 and 99: 1 + 2 each time, never twice
    assert available(ledger, last) == str(done)
    assert not _markers(ledger, owners)


def test_drivers_racing_to_finish_a_staged_transfer_apply_each_leg_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = ledger.participant()
    ledger.adjust(alice, "1000")
    people = [ledger.participant() for _ in range(60)]
    recipients = [{"participant_id": p, "amount": "2"} for p in people]
    real_write = transactions.write
    # The process dies right after the commit point: the entry and the source's side landed.
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, COMMIT_STEP, True))
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    entries = ledger.api.get(f"/v1/journal-entries?participant_id={alice}&action_type=TRANSFER").json()["data"]
    (entry,) = entries
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: transfers.finish(ledger.api.organization_id, entry["id"]), range(4)))
    assert {available(ledger, p) for p in people} == {"2"}
    _check_ledger(ledger, [alice, *people], Decimal(1000), lot_mode=False)


def _staged_simple(ledger: Ledger, count: int = 60) -> tuple[str, list[str], list[dict[str, Any]]]:
    """A source with 1000 and ``count`` recipients of 2 each: staged (more than ~47 recipients),
    5 transactions: the progress item, the markers, the commit point, 2 chunks of legs."""
    alice = ledger.participant()
    assert ledger.adjust(alice, "1000").status_code == 200
    people = [ledger.participant() for _ in range(count)]
    return alice, people, [{"participant_id": p, "amount": "2"} for p in people]


def test_an_adjust_while_a_transfer_prepares_sees_nothing_of_it_and_keeps_its_marker(
    ledger: Ledger, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, people, recipients = _staged_simple(ledger)
    real_write = transactions.write
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, 1, True))  # markers set, no commit
    assert transfer(ledger, recipients, source_participant_id=alice, idempotency_key="k").status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    (marker,) = _markers(ledger, people)
    # A debit finds nothing to take: the transfer is not committed, so it does not exist yet.
    assert ledger.adjust(people[0], "2", type="DEBIT").json()["code"] == "insufficient_balance"
    assert ledger.adjust(people[0], "5").status_code == 200
    assert available(ledger, people[0]) == "5" and available(ledger, alice) == "1000"
    assert marker in _markers(ledger, [people[0]])  # the adjust's write carried the marker over
    assert stack.fire_schedule("LotJobsFunction")["transfers_aborted"] == 0  # not before its deadline
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(transfer_store.DEADLINE.total_seconds() + 1))
    assert stack.fire_schedule("LotJobsFunction")["transfers_aborted"] == 1  # the minute after it
    monkeypatch.delenv("SCRIP_CLOCK_OFFSET_SECONDS")
    assert not _markers(ledger, people)
    progress = transfer_store.get(ledger.api.organization_id, marker)
    assert progress is not None and progress.status == transfer_store.ABORTED
    _check_ledger(ledger, [alice, *people], Decimal(1005), lot_mode=False)
    # The key's replay after the undo runs the transfer anew.
    again = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="k")
    assert again.status_code == 201, again.text
    assert available(ledger, people[0]) == "7" and available(ledger, alice) == "880"
    _check_ledger(ledger, [alice, *people], Decimal(1005), lot_mode=False)


def test_an_adjust_after_the_commit_point_finishes_the_transfer_first(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, people, recipients = _staged_simple(ledger)
    pool = group(ledger, people[0])
    recipients.append({"group_id": pool, "amount": "4"})  # the last leg, in the last chunk
    real_write = transactions.write
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, 2, True))  # committed, no leg applied
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    # The last recipient holds only what the transfer owes it: the debit sees it.
    debit = ledger.adjust(people[-1], "2", type="DEBIT")
    assert debit.status_code == 200, debit.text
    assert available(ledger, people[-1]) == "0" and available(ledger, people[0]) == "2"
    assert group_available(ledger, pool) == "4"
    assert not _markers(ledger, people)
    _check_ledger(ledger, [alice, *people], Decimal(994), lot_mode=False)


def test_the_stream_alone_finishes_a_committed_transfer(
    ledger: Ledger, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No reader comes by after the crash: the progress item's COMMITTED stream record (which
    the template's filter must pass) finishes the transfer."""
    alice, people, recipients = _staged_simple(ledger)
    real_write = transactions.write
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, 2, True))  # committed, no leg applied
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    (entry_id,) = _markers(ledger, people)
    stack.drain()
    progress = transfer_store.get(ledger.api.organization_id, entry_id)
    assert progress is not None and progress.status == transfer_store.COMPLETED
    assert not _markers(ledger, people)
    _check_ledger(ledger, [alice, *people], Decimal(1000), lot_mode=False)


def test_a_reader_undoes_a_transfer_left_preparing_past_its_deadline(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, people, recipients = _staged_simple(ledger)
    real_write = transactions.write
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, 1, True))
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    (marker,) = _markers(ledger, people)
    assert available(ledger, people[0]) == "0"  # before the deadline: left alone
    assert marker in _markers(ledger, people)
    # The marker created the balance item at zero: no balance row for it all the same.
    assert ledger.api.get(f"/v1/participants/{people[1]}/balances").json()["data"] == []
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(transfer_store.DEADLINE.total_seconds() + 1))
    assert available(ledger, people[0]) == "0"
    assert not _markers(ledger, people)  # the reader undid it
    progress = transfer_store.get(ledger.api.organization_id, marker)
    assert progress is not None and progress.status == transfer_store.ABORTED


def test_a_commit_after_the_undo_is_409_and_leaves_nothing(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, people, recipients = _staged_simple(ledger)
    real_prepare = transfer_store.prepare

    def slow_prepare(org: str, entry_id: str, *args: Any) -> transfer_store.Progress:
        progress = real_prepare(org, entry_id, *args)
        assert transfer_store.abort(org, entry_id)  # the sweep ran while the request stalled
        return progress

    monkeypatch.setattr(transfer_store, "prepare", slow_prepare)
    late = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="late")
    assert late.status_code == 409 and late.json()["code"] == "conflict", late.text
    monkeypatch.setattr(transfer_store, "prepare", real_prepare)
    assert available(ledger, alice) == "1000" and not _markers(ledger, people)
    assert ledger.api.get(f"/v1/journal-entries?participant_id={alice}&action_type=TRANSFER").json()["data"] == []
    again = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="late")
    assert again.status_code == 201 and available(ledger, alice) == "880"


def test_concurrent_adjusts_on_recipients_while_a_staged_transfer_runs(ledger: Ledger) -> None:
    alice, people, recipients = _staged_simple(ledger)

    def credit(person: str) -> int:
        return int(ledger.adjust(person, "1").status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        moving = pool.submit(lambda: transfer(ledger, recipients, source_participant_id=alice).status_code)
        statuses = list(pool.map(credit, people[::6]))
    assert moving.result() == 201 and set(statuses) == {200}
    assert {available(ledger, p) for p in people[::6]} == {"3"} and not _markers(ledger, people)
    _check_ledger(ledger, [alice, *people], Decimal(1000 + len(statuses)), lot_mode=False)


def test_a_request_that_fails_after_preparing_undoes_it_before_answering(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, people, recipients = _staged_simple(ledger)
    real_prepare = transfer_store.prepare
    prepared: list[str] = []

    def failing_prepare(org: str, entry_id: str, *args: Any) -> transfer_store.Progress:
        real_prepare(org, entry_id, *args)
        prepared.append(entry_id)
        raise Conflict("the commit lost to a concurrent change")

    monkeypatch.setattr(transfer_store, "prepare", failing_prepare)
    failed = transfer(ledger, recipients, source_participant_id=alice, idempotency_key="undo")
    assert failed.status_code == 409, failed.text
    (entry_id,) = prepared
    progress = transfer_store.get(ledger.api.organization_id, entry_id)
    assert progress is not None and (progress.status, progress.marked) == (transfer_store.ABORTED, 0)
    assert not _markers(ledger, people) and available(ledger, alice) == "1000"


# Every read route that shows a recipient's balance, lots or ledger lines, with the path it is
# asked for the transfer's last participant and its group. Each reader may have to finish a
# committed transfer, a write: in AWS a route under the read-only role would answer 500
# (the local stack enforces the roles' DynamoDB actions, scrip_local.iam).
_READERS = {
    "participant": "/v1/participants/{participant}",
    "participant balances": "/v1/participants/{participant}/balances",
    "statement": "/v1/participants/{participant}/statement?asset_id={asset}",
    "activity history": "/v1/participants/{participant}/activity/history",
    "journal verify": "/v1/journal-entries/verify?participant_id={participant}",
    "group balances": "/v1/groups/{group}/balances",
}


@pytest.mark.parametrize("reader", sorted(_READERS))
def test_every_reader_may_finish_a_committed_transfer(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    alice, people, recipients = _staged_simple(ledger, count=48)
    pool = group(ledger, people[0])
    recipients.append({"group_id": pool, "amount": "4"})  # the last leg, in the last chunk
    real_write = transactions.write
    monkeypatch.setattr(transactions, "write", _dying_at(real_write, COMMIT_STEP, True))  # committed, no leg applied
    assert transfer(ledger, recipients, source_participant_id=alice).status_code == 500
    monkeypatch.setattr(transactions, "write", real_write)
    assert _markers(ledger, [people[-1]])

    path = _READERS[reader].format(participant=people[-1], group=pool, asset=ledger.points["id"])
    answer = ledger.api.get(path)
    assert answer.status_code == 200, answer.text
    assert not _markers(ledger, people)  # the reader finished the transfer before answering
    assert available(ledger, people[-1]) == "2" and group_available(ledger, pool) == "4"
