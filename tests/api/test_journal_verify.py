"""GET /v1/journal-entries/verify: the journal audit walks hash chains through HTTP and finds
one tampered stored entry, a broken link and a moved head, for one owner and across the pages
of an organization-wide walk."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.journal_audit import WalkPosition
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.domain.pagination import encode_cursor, scope_signature
from scrip.services import balances, journal_audit
from scrip.storage import journal_audit as audit_store
from scrip.storage import keys, table
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger
from tests.api.test_redemptions import redeem
from tests.api.test_transfers import transfer
from tests.conftest import Api

VERIFY = "/v1/journal-entries/verify"


@pytest.fixture
def ledger(api: Api) -> Ledger:
    return make_ledger(api)


def verify(api: Api, **query: Any) -> dict[str, Any]:
    response = api.get(VERIFY, params=query)
    assert response.status_code == 200, response.text
    return dict(response.json())


def walk(api: Api, **query: Any) -> list[dict[str, Any]]:
    """Every page of a walk, until the last or the one reporting a break."""
    pages = [verify(api, **query)]
    while pages[-1]["pagination"]["has_more"]:
        pages.append(verify(api, **query, cursor=pages[-1]["pagination"]["next_cursor"]))
    return pages


def chain(api: Api, participant: str) -> list[dict[str, Any]]:
    """The participant's own chain (entries it is the primary owner of), oldest first."""
    listed = api.get("/v1/journal-entries", params={"participant_id": participant, "limit": 200}).json()["data"]
    own = [
        e
        for e in listed
        if next(p for p in e["postings"] if p["entity_type"] in ("PARTICIPANT", "GROUP"))["participant_id"]
        == participant
    ]
    return sorted(own, key=lambda e: str(e["created_at"]))


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def entry_key(api: Api, entry_id: str) -> dict[str, Any]:
    return {"PK": keys.journal_entry(api.organization_id, entry_id), "SK": keys.ENTITY_SK}


def tamper(api: Api, entry_id: str, expression: str, values: dict[str, Any]) -> None:
    table.client().update_item(
        TableName=table.table_name(),
        Key=entry_key(api, entry_id),
        UpdateExpression=expression,
        ExpressionAttributeValues=values,
    )


def break_of(result: dict[str, Any]) -> tuple[str, int, str]:
    found = result["first_break"]
    return found["entry_id"], found["position"], found["reason"]


# ------------------------------------------------------------------ intact chains


def test_a_mix_of_operations_verifies_for_each_owner_and_for_the_organization(
    ledger: Ledger, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.use_lot_points()
    alice, bob = ledger.participant(), ledger.participant()
    assert ledger.adjust(alice, "100").status_code == 200
    assert ledger.adjust(bob, "5").status_code == 200
    assert ledger.operation(alice, "hold", amount="10").status_code == 200
    assert redeem(ledger, alice, "5").status_code == 201
    moved = transfer(ledger, [{"participant_id": bob, "amount": "20"}], source_participant_id=alice)
    assert moved.status_code == 201, moved.text
    assert ledger.fund("50.00").status_code == 200
    assert ledger.adjust(alice, "12.50", asset=ledger.cash).status_code == 200  # drawn from the wallet
    balances.credit(
        Caller(ledger.api.organization_id, "rule"),
        balances.BalanceOwner(EntityType.PARTICIPANT, alice),
        program_id=ledger.program["id"],
        asset_id=ledger.points["id"],
        amount=Decimal(7),
        expires_at=clock.now() + timedelta(hours=2),
    )
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(3 * 3600))
    assert stack.fire_schedule("LotJobsFunction")["journal_entry_ids"]  # the 7 points expire
    assert ledger.balance(alice)["available"] == "65"

    own = chain(ledger.api, alice)
    assert {e["action_type"] for e in own} >= {"CREDIT", "HOLD", "REDEMPTION", "TRANSFER", "EXPIRATION"}
    result = verify(ledger.api, participant_id=alice)
    assert result == {
        "intact": True,
        "verified": len(own),
        "chains_verified": 2,  # points and cash
        "first_break": None,
        "pagination": {"has_more": False, "next_cursor": None},
    }
    one_asset = verify(ledger.api, participant_id=alice, asset_id=ledger.cash["id"])
    assert (one_asset["verified"], one_asset["chains_verified"]) == (1, 1)
    # Bob's transfer credit is on alice's chain (its primary owner): his holds his own credit.
    assert verify(ledger.api, participant_id=bob)["verified"] == 1
    wallet = verify(ledger.api, program_id=ledger.program["id"])  # the fund is the wallet's
    assert (wallet["intact"], wallet["verified"], wallet["chains_verified"]) == (True, 1, 1)

    pages = walk(ledger.api, limit=2)
    assert len(pages) > 3 and all(p["intact"] for p in pages)
    assert sum(p["verified"] for p in pages) == len(own) + 1 + 1  # alice's, bob's, the wallet's
    assert sum(p["chains_verified"] for p in pages) == 4


def test_a_group_chain_verifies_per_program(ledger: Ledger) -> None:
    alice = ledger.participant()
    group = ledger.api.post(
        "/v1/groups", json={"name": "Team", "members": [{"participant_id": alice, "role": "ADMIN"}]}
    ).json()
    body = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"], "amount": "40", "description": "pool"}
    adjusted = ledger.api.post(f"/v1/groups/{group['id']}/balances/adjust", json={**body, "type": "CREDIT"})
    assert adjusted.status_code == 200, adjusted.text
    assert ledger.api.post(f"/v1/groups/{group['id']}/balances/hold", json={**body, "amount": "4"}).status_code == 200
    result = verify(ledger.api, group_id=group["id"], program_id=ledger.program["id"], asset_id=ledger.points["id"])
    assert (result["intact"], result["verified"], result["chains_verified"]) == (True, 2, 1)

    tamper(ledger.api, adjusted.json()["journal_entry_id"], "SET description = :d", {":d": "pool, edited"})
    broken = verify(ledger.api, group_id=group["id"])
    assert break_of(broken) == (adjusted.json()["journal_entry_id"], 0, "hash_mismatch")
    assert broken["first_break"]["entity_type"] == "GROUP"
    assert broken["first_break"]["group_id"] == group["id"]
    assert broken["first_break"]["program_id"] == ledger.program["id"]


def test_the_literal_route_is_not_taken_for_an_entry_id(ledger: Ledger) -> None:
    """API Gateway prefers the literal segment over ``{id}``; so does the local stack."""
    alice = ledger.participant()
    credited = ledger.adjust(alice, "3").json()
    answer = ledger.api.get(VERIFY)
    assert answer.status_code == 200 and "intact" in answer.json()
    entry = ledger.api.get(f"/v1/journal-entries/{credited['journal_entry_id']}")
    assert entry.status_code == 200 and entry.json()["id"] == credited["journal_entry_id"]


# ------------------------------------------------------------------ breaks


@pytest.mark.parametrize(
    ("expression", "values", "readable"),
    [
        ("SET postings[1].a = :a", {":a": Decimal(1000)}, True),  # the participant's credit, 30 → 1000
        ("SET description = :d", {":d": "a different story"}, True),
        ("SET postings[1].a = :a", {":a": "lots"}, False),  # no longer reads as an amount
    ],
    ids=["amount", "description", "unreadable"],
)
def test_one_tampered_entry_is_reported_at_that_entry(
    ledger: Ledger, expression: str, values: dict[str, Any], readable: bool
) -> None:
    alice = ledger.participant()
    for amount in ("10", "30", "50"):
        assert ledger.adjust(alice, amount).status_code == 200
    first, middle, last = chain(ledger.api, alice)
    tamper(ledger.api, middle["id"], expression, values)

    result = verify(ledger.api, participant_id=alice)
    assert result["intact"] is False and result["verified"] == 1
    assert break_of(result) == (middle["id"], 1, "hash_mismatch")
    assert result["first_break"]["expected"] == (middle["entry_hash"] if readable else None)
    assert result["pagination"] == {"has_more": False, "next_cursor": None}  # the walk stops at the break
    assert (result["first_break"]["participant_id"], result["first_break"]["asset_id"]) == (alice, ledger.points["id"])
    assert last["id"] != first["id"]


def test_a_replaced_link_is_a_broken_link(ledger: Ledger) -> None:
    alice = ledger.participant()
    for amount in ("10", "30", "50"):
        ledger.adjust(alice, amount)
    first, middle, _ = chain(ledger.api, alice)
    tamper(ledger.api, middle["id"], "SET prev_hash = :h", {":h": "f" * 64})
    result = verify(ledger.api, participant_id=alice)
    assert break_of(result) == (middle["id"], 1, "broken_link")
    assert (result["first_break"]["expected"], result["first_break"]["found"]) == (first["entry_hash"], "f" * 64)


def test_a_deleted_predecessor_breaks_its_successors_link(ledger: Ledger) -> None:
    alice = ledger.participant()
    for amount in ("10", "30", "50"):
        ledger.adjust(alice, amount)
    first, middle, last = chain(ledger.api, alice)
    client = table.client()
    client.delete_item(TableName=table.table_name(), Key=entry_key(ledger.api, middle["id"]))
    # Without its ledger line too, the entry is gone from the owner's history: only the link says so.
    lines = client.query(
        TableName=table.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": keys.ledger_history(keys.participant(ledger.api.organization_id, alice))},
    )["Items"]
    missing = [line for line in lines if line["journal_entry_id"] == middle["id"]]
    assert missing
    assert break_of(verify(ledger.api, participant_id=alice)) == (middle["id"], 1, "missing_entry")
    for line in missing:
        client.delete_item(TableName=table.table_name(), Key={"PK": line["PK"], "SK": line["SK"]})

    result = verify(ledger.api, participant_id=alice)
    assert break_of(result) == (last["id"], 1, "broken_link")
    assert (result["first_break"]["expected"], result["first_break"]["found"]) == (
        first["entry_hash"],
        middle["entry_hash"],
    )


def test_a_moved_head_is_a_head_mismatch(ledger: Ledger) -> None:
    alice = ledger.participant()
    for amount in ("10", "30"):
        ledger.adjust(alice, amount)
    _, last = chain(ledger.api, alice)
    table.client().update_item(
        TableName=table.table_name(),
        Key={
            "PK": keys.participant(ledger.api.organization_id, alice),
            "SK": keys.balance(ledger.points["id"]),
        },
        UpdateExpression="SET last_entry_hash = :h",
        ExpressionAttributeValues={":h": "e" * 64},
    )
    result = verify(ledger.api, participant_id=alice)
    assert result["verified"] == 2 and result["chains_verified"] == 0
    assert break_of(result) == (last["id"], 2, "head_mismatch")
    assert (result["first_break"]["expected"], result["first_break"]["found"]) == (last["entry_hash"], "e" * 64)


def test_the_organization_walk_finds_the_tampered_owner_across_pages(ledger: Ledger) -> None:
    owners = [ledger.participant() for _ in range(5)]
    for owner in owners:
        ledger.adjust(owner, "10")
        ledger.adjust(owner, "20")
    target = chain(ledger.api, owners[3])[1]
    tamper(ledger.api, target["id"], "SET description = :d", {":d": "rewritten"})

    pages = walk(ledger.api, limit=3)
    *before, last = pages
    assert len(before) >= 3 and all(p["intact"] and p["pagination"]["has_more"] for p in before)
    assert sum(p["verified"] for p in before) + last["verified"] == 3 * 2 + 1  # three owners, then one entry
    assert last["intact"] is False and last["pagination"]["has_more"] is False
    assert break_of(last) == (target["id"], 1, "hash_mismatch")
    assert last["first_break"]["participant_id"] == owners[3]


def test_a_chain_longer_than_a_page_is_walked_in_pages(ledger: Ledger) -> None:
    alice = ledger.participant()
    for _ in range(5):
        ledger.adjust(alice, "1")
    ledger.operation(alice, "hold", amount="2")  # two lines of alice's in one entry
    pages = walk(ledger.api, participant_id=alice, limit=2)
    assert len(pages) >= 3 and all(p["intact"] for p in pages)
    assert sum(p["verified"] for p in pages) == 6 and sum(p["chains_verified"] for p in pages) == 1


# ------------------------------------------------------------------ bad input


def test_bad_input_is_a_400_and_unknown_owners_404(ledger: Ledger) -> None:
    api, alice = ledger.api, ledger.participant()
    unknown = str(uuid.uuid4())
    assert error(api.get(VERIFY, params={"participant_id": alice, "group_id": unknown})) == (400, "validation_error")
    assert error(api.get(VERIFY, params={"participant_id": alice, "program_id": ledger.program["id"]})) == (
        400,
        "validation_error",
    )
    assert error(api.get(VERIFY, params={"asset_id": ledger.points["id"]})) == (400, "validation_error")
    assert error(api.get(VERIFY, params={"participant_id": "not-a-uuid"})) == (400, "validation_error")
    assert error(api.get(VERIFY, params={"limit": 0})) == (400, "validation_error")
    assert error(api.get(VERIFY, params={"participant_id": unknown})) == (404, "not_found")
    assert error(api.get(VERIFY, params={"group_id": unknown})) == (404, "not_found")
    assert error(api.get(VERIFY, params={"program_id": unknown})) == (404, "not_found")
    assert error(api.get(VERIFY, params={"participant_id": alice, "asset_id": unknown})) == (404, "not_found")


def test_bad_cursors_are_400(ledger: Ledger) -> None:
    api, alice, bob = ledger.api, ledger.participant(), ledger.participant()
    for owner in (alice, bob):
        ledger.adjust(owner, "1")
        ledger.adjust(owner, "2")
    assert error(api.get(VERIFY, params={"cursor": "garbage!"})) == (400, "validation_error")
    alices = verify(api, participant_id=alice, limit=1)["pagination"]["next_cursor"]
    assert error(api.get(VERIFY, params={"participant_id": bob, "cursor": alices})) == (400, "validation_error")
    # The right scope around a position that is not one (a forged or truncated cursor).
    scope = scope_signature("journal-verify", api.organization_id, None, None, None, None)
    for text in (
        "[]",
        '{"kind": "NOBODY"}',
        '{"in_chain": true}',
        '{"position": -1}',
        '{"kind": "GROUP", "in_chain": true, "owner_id": "g", "chain_asset_id": "a"}',
    ):
        response = api.get(VERIFY, params={"cursor": encode_cursor(text, scope)})
        assert error(response) == (400, "validation_error"), text
        assert response.json()["details"]["reason"] == "invalid_cursor"


def test_lines_without_their_balance_item_are_a_head_mismatch(ledger: Ledger) -> None:
    alice = ledger.participant()
    entry_id = ledger.adjust(alice, "5").json()["journal_entry_id"]
    table.client().delete_item(
        TableName=table.table_name(),
        Key={"PK": keys.participant(ledger.api.organization_id, alice), "SK": keys.balance(ledger.points["id"])},
    )
    result = verify(ledger.api, participant_id=alice, asset_id=ledger.points["id"])
    assert break_of(result) == (entry_id, 1, "head_mismatch")
    assert result["first_break"]["found"] == "0" * 64  # no balance: no head beyond the genesis


def test_a_posting_that_lands_during_the_walk_is_walked_not_reported(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The head is read after the lines: a posting committed in between moved it, and its lines
    (same transaction) are there to walk on to."""
    alice = ledger.participant()
    ledger.adjust(alice, "1")
    real_head = audit_store.chain_head
    postings_made: list[str] = []

    def head_after_a_posting(org_id: str, account: Any, asset_id: str) -> str:
        if not postings_made:
            postings_made.append(ledger.adjust(alice, "2").json()["journal_entry_id"])
        return real_head(org_id, account, asset_id)

    monkeypatch.setattr(audit_store, "chain_head", head_after_a_posting)
    result = journal_audit.verify_journal(Caller(ledger.api.organization_id, "key"), participant_id=alice, limit=50)
    assert postings_made and result.first_break is None
    assert (result.verified, result.chains_verified, result.next_cursor) == (2, 1, None)


def test_a_cursor_for_another_owner_is_400_even_with_the_right_scope(ledger: Ledger) -> None:
    api, alice, bob = ledger.api, ledger.participant(), ledger.participant()
    scope = scope_signature("journal-verify", api.organization_id, bob, None, None, None)
    forged = encode_cursor(WalkPosition(owner_id=alice).to_text(), scope)
    response = api.get(VERIFY, params={"participant_id": bob, "cursor": forged})
    assert error(response) == (400, "validation_error") and response.json()["details"]["reason"] == "invalid_cursor"
    own = encode_cursor(WalkPosition(owner_id=bob).to_text(), scope)
    assert api.get(VERIFY, params={"participant_id": bob, "cursor": own}).status_code == 200
