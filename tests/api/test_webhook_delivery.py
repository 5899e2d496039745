"""Webhook notifications end to end (06 §2.2, §2.6, §2.8; decision 3): what is emitted, to whom,
with which payload, and how deliveries are retried, paused and given up on.

Every request a receiver gets is verified with ``standardwebhooks`` (not this project's code).
Time moves through ``SCRIP_CLOCK_OFFSET_SECONDS``; retries fall due when the clock passes their
``next_attempt_at`` and ``WebhookRetriesFunction`` runs.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from scrip.outbound import addresses
from scrip_local.stack import LocalStack
from tests.api.events_helpers import processed, rule, send
from tests.api.ledger_helpers import Ledger, make_ledger
from tests.api.webhook_receiver import Receiver, receiver
from tests.conftest import Api

RETRIES = "WebhookRetriesFunction"
BACKOFF = [30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600]
ENVELOPE_FIELDS = {"id", "type", "api_version", "created_at", "organization_id", "data"}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock:
    """The application's clock, moved forward only."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def to(self, when: datetime) -> None:
        """Just past ``when`` on the application's clock."""
        self.offset = max(self.offset, (when - datetime.now(UTC)).total_seconds() + 1)
        self.monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(self.offset))

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(self.offset))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _archive_endpoints_afterwards(api: Api) -> Iterator[None]:
    """Deliveries a test leaves pending fail at their next attempt instead of reaching a later
    test's receiver that happens to get the same port."""
    yield
    for row in api.get("/v1/webhook-endpoints?limit=100").json()["data"]:
        api.delete(f"/v1/webhook-endpoints/{row['id']}")


def register(api: Api, url: str, events: list[str] | None = None) -> tuple[str, str]:
    """(endpoint id, secret)."""
    created = api.post("/v1/webhook-endpoints", json={"url": url, "enabled_events": events or ["*"]})
    assert created.status_code == 201, created.text
    return str(created.json()["id"]), str(created.json()["secret"])


def verified(hooks: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every envelope received, each checked against its signature by ``standardwebhooks``."""
    envelopes = []
    for got in hooks.received:
        envelope = Webhook(secret).verify(got.body, got.headers)
        assert got.headers["webhook-id"] == envelope["id"]
        envelopes.append(envelope)
    return envelopes


def by_type(envelopes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for envelope in envelopes:
        found.setdefault(envelope["type"], []).append(envelope)
    return found


def deliveries(api: Api, endpoint_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=100")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def delivery(api: Api, delivery_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/webhook-deliveries/{delivery_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def only_delivery(api: Api, endpoint_id: str) -> dict[str, Any]:
    (found,) = deliveries(api, endpoint_id)
    return delivery(api, found["id"])


def stats(api: Api, endpoint_id: str) -> dict[str, Any]:
    response = api.get("/v1/webhook-endpoints/delivery-stats")
    assert response.status_code == 200, response.text
    (row,) = [r for r in response.json()["data"] if r["endpoint_id"] == endpoint_id]
    return dict(row)


def retry_round(stack: LocalStack) -> None:
    """The minute job queues what fell due, then the queue's worker attempts it."""
    stack.fire_schedule(RETRIES)
    stack.drain()


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Callable[[int], Any]:
    return lambda _: (status, headers or {}, body)


@contextmanager
def switchable(hooks: Receiver, down: int = 500) -> Iterator[dict[str, bool]]:
    """The receiver answers ``down`` until ``state["up"]`` is set."""
    state = {"up": False}
    hooks.answer = lambda _: (200, {}, b"ok") if state["up"] else (down, {}, b"down for maintenance")
    yield state


# ------------------------------------------------------------------ emission


def test_balance_notifications_carry_their_data(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    ledger = make_ledger(api)
    lots = api.create_asset(ledger.program["id"], name="Lot points", symbol="LOTW", inventory_mode="LOT")
    endpoint_id, secret = register(api, hooks.url)
    alice = ledger.participant()
    stack.drain()
    hooks.received.clear()

    entries = {}
    for name, response in [
        ("credit", ledger.adjust(alice, "100", asset=lots)),
        ("debit", ledger.adjust(alice, "30", type="DEBIT", asset=lots)),
        ("hold", ledger.operation(alice, "hold", asset=lots, amount="20", reference_id="auth-1")),
        ("release", ledger.operation(alice, "release", asset=lots, reference_id="auth-1")),
        ("forfeit", ledger.operation(alice, "forfeit", asset=lots, bucket="AVAILABLE", amount="5")),
    ]:
        assert response.status_code == 200, (name, response.text)
        entries[name] = response.json()["journal_entry_id"]
    stack.drain()

    got = {e["data"]["journal_entry_id"]: e for e in verified(hooks, secret)}
    assert len(got) == len(hooks.received) == 5
    common = {"participant_id": alice, "program_id": ledger.program["id"], "asset_id": lots["id"]}
    credit = got[entries["credit"]]
    assert credit["type"] == "balance.credited"
    assert credit["data"] | common == credit["data"]
    assert (credit["data"]["amount"], credit["data"]["bucket"]) == ("100", "AVAILABLE")
    assert credit["data"]["description"] == "test adjustment"
    assert credit["data"]["event_id"] is None and credit["data"]["rule_id"] is None
    assert "group_id" not in credit["data"] and "reference_id" not in credit["data"]
    debit = got[entries["debit"]]
    assert debit["type"] == "balance.debited" and debit["data"] | common == debit["data"]
    assert (debit["data"]["amount"], debit["data"]["bucket"]) == ("30", "AVAILABLE")
    held = got[entries["hold"]]
    assert held["type"] == "balance.held" and held["data"] | common == held["data"]
    assert (held["data"]["amount"], held["data"]["reference_id"]) == ("20", "auth-1")
    released = got[entries["release"]]
    assert released["type"] == "balance.released" and released["data"] | common == released["data"]
    assert (released["data"]["amount"], released["data"]["reference_id"]) == ("20", "auth-1")
    forfeited = got[entries["forfeit"]]
    assert forfeited["type"] == "balance.debited" and forfeited["data"] | common == forfeited["data"]
    assert (forfeited["data"]["amount"], forfeited["data"]["bucket"]) == ("5", "AVAILABLE")
    assert {d["status"] for d in deliveries(api, endpoint_id)} == {"DELIVERED"}


def test_scaled_amounts_groups_and_program_wallets(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    ledger = make_ledger(api)
    _, secret = register(api, hooks.url, ["balance.credited", "balance.held", "program.funded", "program.burned"])
    program, cash = ledger.program["id"], ledger.cash["id"]
    funded = ledger.fund("1000")
    unlimited = api.post(f"/v1/programs/{program}/assets/{ledger.points['id']}/fund", json={"amount": "10"})
    assert unlimited.json()["journal_entry_id"] is None  # a no-op, and no webhook (decision 18)
    burned = api.post(f"/v1/programs/{program}/assets/{cash}/burn", json={"amount": "100.5", "description": "trim"})
    assert funded.status_code == 200 and burned.status_code == 200, burned.text
    alice = ledger.participant()
    credited = ledger.adjust(alice, "12.5", asset=ledger.cash)
    members = [{"participant_id": alice, "role": "ADMIN"}]
    group = api.post("/v1/groups", json={"name": "Team", "members": members}).json()["id"]
    body = {"program_id": program, "asset_id": cash, "amount": "7.25", "description": "pool"}
    pooled = api.post(f"/v1/groups/{group}/balances/adjust", json={**body, "type": "CREDIT"})
    held = api.post(f"/v1/groups/{group}/balances/hold", json={**body, "amount": "2"})
    assert credited.status_code == pooled.status_code == held.status_code == 200, held.text
    stack.drain()

    got = by_type(verified(hooks, secret))
    assert sorted(got) == ["balance.credited", "balance.held", "program.burned", "program.funded"]
    (fund,) = got["program.funded"]
    assert fund["data"] == {
        "program_id": program,
        "asset_id": cash,
        "amount": "1000.00",
        "journal_entry_id": funded.json()["journal_entry_id"],
        "description": fund["data"]["description"],
    }
    (burn,) = got["program.burned"]
    assert burn["data"] == {
        "program_id": program,
        "asset_id": cash,
        "amount": "100.50",
        "journal_entry_id": burned.json()["journal_entry_id"],
        "description": "trim",
    }
    credit_rows = {e["data"]["journal_entry_id"]: e["data"] for e in got["balance.credited"]}
    assert len(credit_rows) == 2
    to_alice = credit_rows[credited.json()["journal_entry_id"]]
    assert (to_alice["participant_id"], to_alice["amount"], to_alice["bucket"]) == (alice, "12.50", "AVAILABLE")
    to_group = credit_rows[pooled.json()["journal_entry_id"]]
    assert (to_group["group_id"], to_group["amount"], to_group["asset_id"]) == (group, "7.25", cash)
    assert "participant_id" not in to_group
    (hold,) = got["balance.held"]
    assert hold["data"]["group_id"] == group and hold["data"]["amount"] == "2.00"
    assert hold["data"]["journal_entry_id"] == held.json()["journal_entry_id"]
    assert "participant_id" not in hold["data"] and hold["data"]["reference_id"] is None


def test_expired_lots_notify(api: Api, stack: LocalStack, hooks: Receiver, clock: Clock) -> None:
    program = api.create_program()
    lots = api.create_asset(program["id"], symbol="EXPW", inventory_mode="LOT")
    earn = rule(
        api, program["id"], "event.type == 'purchase'", [{"type": "CREDIT", "asset_id": lots["id"], "amount": "40"}]
    )
    lots_rule = rule(
        api,
        program["id"],
        "event.type == 'promo'",
        [{"type": "CREDIT", "asset_id": lots["id"], "amount": "15", "expires_at": "1h"}],
    )
    _, secret = register(api, hooks.url, ["balance.credited", "balance.expired"])
    external = f"exp-{uuid.uuid4().hex[:8]}"
    kept = processed(api, stack, send(api, program["id"], {"type": "purchase"}, external_id=external)["id"])
    event = processed(api, stack, send(api, program["id"], {"type": "promo"}, external_id=external)["id"])
    assert kept["status"] == event["status"] == "COMPLETED"

    clock.advance(2 * 3600)
    report = stack.fire_schedule("LotJobsFunction")
    # The job serves every organization of the shared stack: keep this test's entry.
    (expiration,) = [e for e in report["journal_entry_ids"] if api.get(f"/v1/journal-entries/{e}").status_code == 200]
    stack.drain()

    got = by_type(verified(hooks, secret))
    member = event["participant_id"]
    credit_rows = {c["data"]["event_id"]: c["data"] for c in got["balance.credited"]}
    assert credit_rows[event["id"]]["rule_id"] == lots_rule["id"] and credit_rows[event["id"]]["amount"] == "15"
    assert credit_rows[kept["id"]]["rule_id"] == earn["id"] and credit_rows[kept["id"]]["participant_id"] == member
    (expired,) = got["balance.expired"]
    assert expired["data"]["participant_id"] == member
    assert expired["data"]["program_id"] is None  # like the EXPIRATION entry (decision 20)
    assert expired["data"]["asset_id"] == lots["id"]
    assert expired["data"]["amount"] == "15" and expired["data"]["journal_entry_id"] == expiration


def test_event_completed_and_failed(
    api: Api, stack: LocalStack, hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="EVTW")
    rule(api, program["id"], "event.type == 'purchase'", [{"type": "CREDIT", "asset_id": points["id"], "amount": "5"}])
    rule(api, program["id"], "event.type == 'purchase'", [{"type": "TAG", "tag": "buyer"}], name="tagger")
    rule(api, program["id"], "event.type == 'refund'", [{"type": "TAG", "tag": "never"}], name="other")
    rule(
        api,
        program["id"],
        "event.type == 'redeem'",
        [
            {"type": "CREDIT", "asset_id": points["id"], "amount": "100"},
            {"type": "DEBIT", "asset_id": points["id"], "amount": "1000"},
        ],
        name="greedy",
    )
    _, secret = register(api, hooks.url, ["event.completed", "event.failed", "balance.credited"])
    member = api.post("/v1/participants", json={"external_id": "evt-member"}).json()["id"]

    done = processed(
        api, stack, send(api, program["id"], {"type": "purchase"}, external_id=None, participant_id=member)["id"]
    )
    failed = processed(
        api, stack, send(api, program["id"], {"type": "redeem"}, external_id=None, participant_id=member)["id"]
    )
    assert done["status"] == "COMPLETED" and failed["status"] == "FAILED", failed

    got = by_type(verified(hooks, secret))
    (completed,) = got["event.completed"]
    assert completed["data"]["event_id"] == done["id"] and completed["data"]["status"] == "COMPLETED"
    assert completed["data"]["rules_matched"] == 2
    assert completed["data"]["program_id"] == program["id"] and completed["data"]["participant_id"] == member
    assert completed["data"]["idempotency_key"] == done["idempotency_key"]
    assert moment(completed["data"]["processed_at"]) == moment(done["processed_at"])
    (failure,) = got["event.failed"]  # one notification, however many attempts the event took
    assert failure["data"]["event_id"] == failed["id"] and failure["data"]["status"] == "FAILED"
    assert failure["data"]["error_message"] == failed["error_message"]
    assert failure["data"]["error_message"].startswith("action DEBIT failed")
    assert failure["data"]["program_id"] == program["id"] and failure["data"]["participant_id"] == member
    # The failed event's CREDIT was rolled back with it: only the completed event's credit notifies.
    (credit,) = got["balance.credited"]
    assert credit["data"]["event_id"] == done["id"] and credit["data"]["amount"] == "5"


def test_participant_created(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    _, secret = register(api, hooks.url, ["participant.created"])
    created = api.post("/v1/participants", json={"external_id": "newcomer-1"})
    assert created.status_code == 201
    again = api.post("/v1/participants", json={"external_id": "newcomer-1", "first_name": "Ann"})
    assert again.status_code == 200  # an update of the same participant: not a new one
    stack.drain()

    (envelope,) = verified(hooks, secret)
    assert envelope["type"] == "participant.created"
    data = envelope["data"]
    assert data["participant_id"] == created.json()["id"] and data["external_id"] == "newcomer-1"
    assert data["program_id"] is None  # created without a program
    assert data["status"] == "ACTIVE" and moment(data["created_at"]) == moment(created.json()["created_at"])


def test_a_participant_created_by_an_event_names_its_program_and_credits_name_the_external_id(
    api: Api, stack: LocalStack, hooks: Receiver
) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="EXT")
    rule(api, program["id"], "event.type == 'purchase'", [{"type": "CREDIT", "asset_id": points["id"], "amount": "3"}])
    _, secret = register(api, hooks.url, ["participant.created", "balance.credited"])
    external = f"walk-in-{uuid.uuid4().hex[:8]}"
    event = processed(api, stack, send(api, program["id"], {"type": "purchase"}, external_id=external)["id"])
    assert event["status"] == "COMPLETED", event
    stack.drain()

    got = {e["type"]: e["data"] for e in verified(hooks, secret)}
    assert got["participant.created"]["program_id"] == program["id"]  # enrolled as it was created
    assert got["participant.created"]["external_id"] == external
    assert got["balance.credited"]["external_id"] == external
    assert got["balance.credited"]["participant_id"] == event["participant_id"]


def test_the_envelope_and_headers(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    before = datetime.now(UTC)
    entry = ledger.adjust(alice, "3").json()["journal_entry_id"]
    stack.drain()

    (got,) = hooks.received
    envelope = Webhook(secret).verify(got.body, got.headers)
    assert set(envelope) == ENVELOPE_FIELDS
    assert envelope["type"] == "balance.credited" and envelope["api_version"] == "2026-03-01"
    assert envelope["organization_id"] == api.organization_id
    assert uuid.UUID(envelope["id"]) and envelope["data"]["journal_entry_id"] == entry
    assert before - timedelta(seconds=5) <= moment(envelope["created_at"]) <= datetime.now(UTC)
    assert got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Scrip-Webhooks/1.0"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    with pytest.raises(WebhookVerificationError):  # the signature covers the body
        Webhook(secret).verify(got.body.replace(b'"3"', b'"4"'), got.headers)
    (listed,) = deliveries(api, endpoint_id)
    assert listed["webhook_event_id"] == envelope["id"] and listed["event_type"] == "balance.credited"
    assert listed["status"] == "DELIVERED" and listed["attempt_count"] == 1 and listed["delivered_at"]


# ----------------------------------------------------------------- fan-out


def test_enabled_events_filter_what_each_endpoint_gets(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    stack.drain()
    with receiver() as held_only, receiver() as everything, receiver() as credit_hooks:
        held_id, held_secret = register(api, held_only.url, ["balance.held"])
        _, all_secret = register(api, everything.url, ["*"])
        _, credit_secret = register(api, credit_hooks.url, ["balance.credited", "balance.debited"])
        assert ledger.adjust(alice, "10").status_code == 200
        stack.drain()
        assert held_only.received == [] and deliveries(api, held_id) == []
        assert [e["type"] for e in verified(credit_hooks, credit_secret)] == ["balance.credited"]

        assert ledger.operation(alice, "hold", amount="4").status_code == 200
        bob = ledger.participant()
        stack.drain()
        assert [e["type"] for e in verified(held_only, held_secret)] == ["balance.held"]
        assert [e["type"] for e in verified(credit_hooks, credit_secret)] == ["balance.credited"]
        assert sorted(e["type"] for e in verified(everything, all_secret)) == [
            "balance.credited",
            "balance.held",
            "participant.created",
        ]
        (created,) = [e for e in verified(everything, all_secret) if e["type"] == "participant.created"]
        assert created["data"]["participant_id"] == bob


def test_every_endpoint_gets_the_same_notification(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    with receiver() as first, receiver() as second:
        first_id, first_secret = register(api, first.url, ["balance.credited"])
        second_id, second_secret = register(api, second.url, ["*", "balance.credited"])
        ledger.adjust(alice, "8")
        stack.drain()

        (one,) = verified(first, first_secret)
        (two,) = [e for e in verified(second, second_secret) if e["type"] == "balance.credited"]
        assert one["id"] == two["id"]
        assert first.received[0].headers["webhook-id"] == second.received[-1].headers["webhook-id"] == one["id"]
        assert first.received[0].body == second.received[-1].body  # the envelope is built once
        with pytest.raises(WebhookVerificationError):  # each endpoint signs with its own secret
            Webhook(second_secret).verify(first.received[0].body, first.received[0].headers)
        (a,) = deliveries(api, first_id)
        (b,) = [d for d in deliveries(api, second_id) if d["event_type"] == "balance.credited"]
        assert a["webhook_event_id"] == b["webhook_event_id"] == one["id"] and a["id"] != b["id"]


def test_a_rolled_back_operation_never_notifies(
    api: Api, stack: LocalStack, hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited", "balance.debited", "program.funded"])
    assert ledger.adjust(alice, "20").status_code == 200
    refused = ledger.adjust(alice, "25", type="DEBIT")
    assert refused.status_code == 422 and refused.json()["code"] == "insufficient_balance"
    ledger.fund("5")
    short = ledger.adjust(alice, "10", asset=ledger.cash)  # the wallet holds 5
    assert short.status_code == 422, short.text
    rule(
        api,
        ledger.program["id"],
        "event.type == 'redeem'",
        [
            {"type": "CREDIT", "asset_id": ledger.points["id"], "amount": "100"},
            {"type": "DEBIT", "asset_id": ledger.points["id"], "amount": "1000"},
        ],
    )
    event = send(api, ledger.program["id"], {"type": "redeem"}, external_id=None, participant_id=alice)
    assert processed(api, stack, event["id"])["status"] == "FAILED"
    stack.drain()

    got = verified(hooks, secret)
    assert sorted((e["type"], e["data"]["amount"]) for e in got) == [
        ("balance.credited", "20"),
        ("program.funded", "5.00"),
    ]
    assert len(deliveries(api, endpoint_id)) == 2


# ----------------------------------------------------------------- retries


def test_a_receiver_down_for_three_attempts_gets_every_notification(
    api: Api, stack: LocalStack, hooks: Receiver, clock: Clock
) -> None:
    ledger = make_ledger(api)
    endpoint_id, secret = register(api, hooks.url, ["*"])
    with switchable(hooks, down=503) as receiver_state:
        alice = ledger.participant()
        ledger.adjust(alice, "9")
        stack.drain()
        assert len(hooks.received) == 2
        for attempt in (2, 3, 4):
            rows = [delivery(api, d["id"]) for d in deliveries(api, endpoint_id)]
            assert {(r["status"], r["attempt_count"]) for r in rows} == {("PENDING", attempt - 1)}
            retry_round(stack)  # nothing is due yet
            assert len(hooks.received) == 2 * (attempt - 1)
            if attempt == 4:
                receiver_state["up"] = True
            clock.to(max(moment(r["next_attempt_at"]) for r in rows))
            retry_round(stack)
            assert len(hooks.received) == 2 * attempt

    envelopes = verified(hooks, secret)
    assert sorted({e["type"] for e in envelopes}) == ["balance.credited", "participant.created"]
    for envelope_id in {e["id"] for e in envelopes}:
        bodies = {got.body for got in hooks.received if got.headers["webhook-id"] == envelope_id}
        assert len(bodies) == 1  # the same bytes on every attempt
    rows = [delivery(api, d["id"]) for d in deliveries(api, endpoint_id)]
    assert len(rows) == 2
    for row in rows:
        assert (row["status"], row["attempt_count"], row["next_attempt_at"]) == ("DELIVERED", 4, None)
        assert row["last_response_status"] == 200 and row["delivered_at"]
    clock.advance(86400)
    retry_round(stack)
    assert len(hooks.received) == 8


def test_an_always_failing_receiver_fails_after_eight_attempts_on_the_schedule(
    api: Api, stack: LocalStack, hooks: Receiver, clock: Clock
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    hooks.answer = answer(500, body=b"internal trouble")
    ledger.adjust(alice, "1")
    stack.drain()

    ratios = []
    for attempt in range(1, 9):
        row = only_delivery(api, endpoint_id)
        assert row["attempt_count"] == attempt and len(hooks.received) == attempt
        assert row["error_code"] == "consumer_5xx" and row["last_response_status"] == 500
        assert row["last_response_body"] == "internal trouble"
        if attempt == 8:
            break
        assert row["status"] == "PENDING"
        gap = (moment(row["next_attempt_at"]) - moment(row["last_attempt_at"])).total_seconds()
        expected = BACKOFF[attempt - 1]
        assert expected * 0.9 - 0.01 <= gap <= expected * 1.1 + 0.01, (attempt, gap)
        ratios.append(gap / expected)
        clock.to(moment(row["next_attempt_at"]) - timedelta(seconds=3))
        retry_round(stack)  # a little early: not attempted
        assert len(hooks.received) == attempt
        clock.to(moment(row["next_attempt_at"]))
        retry_round(stack)

    assert row["status"] == "FAILED" and row["next_attempt_at"] is None and row["delivered_at"] is None
    assert any(abs(r - 1) > 1e-4 for r in ratios)  # jittered, not the bare schedule
    verified(hooks, secret)
    assert len({got.headers["webhook-id"] for got in hooks.received}) == 1
    clock.advance(24 * 3600)
    retry_round(stack)
    assert len(hooks.received) == 8 and only_delivery(api, endpoint_id)["status"] == "FAILED"


def test_a_redirect_is_a_failure_and_is_not_followed(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    with receiver() as elsewhere:
        hooks.answer = answer(302, {"Location": elsewhere.url})
        ledger.adjust(alice, "1")
        stack.drain()
        assert elsewhere.received == []
    assert len(hooks.received) == 1
    verified(hooks, secret)
    row = only_delivery(api, endpoint_id)
    assert (row["status"], row["attempt_count"]) == ("PENDING", 1)
    assert (row["error_code"], row["last_response_status"]) == ("consumer_3xx", 302)


def test_a_429_pauses_the_endpoint_for_its_retry_after(
    api: Api, stack: LocalStack, hooks: Receiver, clock: Clock
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    hooks.answer = lambda n: (429, {"Retry-After": "120"}, b"slow down") if n == 0 else (200, {}, b"ok")
    ledger.adjust(alice, "1")
    stack.drain()

    first = only_delivery(api, endpoint_id)
    assert (first["status"], first["error_code"], first["last_response_status"]) == ("PENDING", "rate_limited", 429)
    attempted = moment(first["last_attempt_at"])
    assert (moment(first["next_attempt_at"]) - attempted).total_seconds() >= 120
    row = stats(api, endpoint_id)
    assert row["blocked_reason"] == "rate_limited" and row["circuit_broken_until"] is None
    until = moment(row["rate_limited_until"])
    assert 119 <= (until - attempted).total_seconds() <= 121 and moment(row["blocked_until"]) == until

    # Past the ordinary 30 s backoff but inside the pause: nothing is sent, a new delivery waits.
    clock.to(attempted + timedelta(seconds=60))
    ledger.adjust(alice, "2")
    stack.drain()
    retry_round(stack)
    assert len(hooks.received) == 1
    waiting = [delivery(api, d["id"]) for d in deliveries(api, endpoint_id) if d["id"] != first["id"]]
    assert [(w["status"], w["attempt_count"]) for w in waiting] == [("PENDING", 0)]
    assert moment(waiting[0]["next_attempt_at"]) >= until
    assert stats(api, endpoint_id)["pending_count"] == 2

    clock.to(until)
    retry_round(stack)
    assert len(hooks.received) == 3
    verified(hooks, secret)
    rows = {d["id"]: delivery(api, d["id"]) for d in deliveries(api, endpoint_id)}
    assert (rows[first["id"]]["status"], rows[first["id"]]["attempt_count"]) == ("DELIVERED", 2)
    assert (rows[waiting[0]["id"]]["status"], rows[waiting[0]["id"]]["attempt_count"]) == ("DELIVERED", 1)
    after = stats(api, endpoint_id)
    assert after["blocked_reason"] is None and after["rate_limited_until"] is None and after["pending_count"] == 0


def test_410_gone_disables_the_endpoint(api: Api, stack: LocalStack, hooks: Receiver, clock: Clock) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    hooks.answer = answer(410, body=b"gone")
    ledger.adjust(alice, "1")
    stack.drain()

    assert len(hooks.received) == 1
    verified(hooks, secret)
    row = only_delivery(api, endpoint_id)
    assert (row["last_response_status"], row["error_code"], row["attempt_count"]) == (410, "consumer_4xx", 1)
    assert api.get(f"/v1/webhook-endpoints/{endpoint_id}").json()["status"] == "DISABLED"
    assert stats(api, endpoint_id)["status"] == "DISABLED"

    ledger.adjust(alice, "2")
    stack.drain()
    clock.advance(3600)
    retry_round(stack)
    assert len(hooks.received) == 1
    assert [d["id"] for d in deliveries(api, endpoint_id)] == [row["id"]]


# --------------------------------------------------------- circuit breaker


def _fail_ten(api: Api, ledger: Ledger, stack: LocalStack, alice: str) -> None:
    for amount in range(1, 11):
        assert ledger.adjust(alice, str(amount)).status_code == 200
    stack.drain()


def test_ten_consecutive_failures_open_the_circuit(api: Api, stack: LocalStack, hooks: Receiver, clock: Clock) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    with switchable(hooks) as receiver_state:
        ledger.adjust(alice, "1")
        stack.drain()
        assert stats(api, endpoint_id)["circuit_broken_until"] is None  # one failure is not ten
        for amount in range(2, 11):
            ledger.adjust(alice, str(amount))
        stack.drain()
        assert len(hooks.received) == 10
        opened = clock.now()
        row = stats(api, endpoint_id)
        assert row["blocked_reason"] == "circuit_broken" and row["degraded"] is True
        until = moment(row["circuit_broken_until"])
        assert 290 <= (until - opened).total_seconds() <= 305 and moment(row["blocked_until"]) == until
        assert (row["fail_24h"], row["success_24h"], row["pending_count"]) == (10, 0, 10)

        # While open: due retries and a new notification wait, their attempts not consumed.
        ledger.adjust(alice, "11")
        stack.drain()
        clock.advance(60)
        retry_round(stack)
        assert len(hooks.received) == 10
        rows = [delivery(api, d["id"]) for d in deliveries(api, endpoint_id)]
        assert sorted(r["attempt_count"] for r in rows) == [0] + [1] * 10
        assert all(moment(r["next_attempt_at"]) >= until for r in rows)

        receiver_state["up"] = True
        clock.to(until)
        retry_round(stack)

    assert len(hooks.received) == 21
    verified(hooks, secret)
    rows = [delivery(api, d["id"]) for d in deliveries(api, endpoint_id)]
    assert {r["status"] for r in rows} == {"DELIVERED"}
    assert sorted(r["attempt_count"] for r in rows) == [1] + [2] * 10
    closed = stats(api, endpoint_id)
    assert closed["circuit_broken_until"] is None and closed["blocked_reason"] is None
    assert closed["pending_count"] == 0 and closed["success_24h"] == 11

    # Closed and reset: ten new failures open it again for the first pause (5 min), not a doubled one.
    hooks.answer = answer(500)
    _fail_ten(api, ledger, stack, alice)
    reopened = stats(api, endpoint_id)
    assert reopened["blocked_reason"] == "circuit_broken"
    assert 290 <= (moment(reopened["circuit_broken_until"]) - clock.now()).total_seconds() <= 305


def test_a_failed_probe_reopens_the_circuit_for_longer(
    api: Api, stack: LocalStack, hooks: Receiver, clock: Clock
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, _ = register(api, hooks.url, ["balance.credited"])
    hooks.answer = answer(500)
    _fail_ten(api, ledger, stack, alice)
    until = moment(stats(api, endpoint_id)["circuit_broken_until"])

    clock.to(until)
    retry_round(stack)
    # The first attempt after the pause is a probe: its failure re-opens the circuit, doubled.
    assert len(hooks.received) == 11
    row = stats(api, endpoint_id)
    assert row["blocked_reason"] == "circuit_broken"
    assert 590 <= (moment(row["circuit_broken_until"]) - clock.now()).total_seconds() <= 605
    assert sorted(d["attempt_count"] for d in deliveries(api, endpoint_id)) == [1] * 9 + [2]


# ------------------------------------------------------ endpoints and safety


def test_archiving_fails_the_pending_deliveries(api: Api, stack: LocalStack, hooks: Receiver, clock: Clock) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, _ = register(api, hooks.url, ["balance.credited"])
    hooks.answer = answer(500)
    ledger.adjust(alice, "1")
    stack.drain()
    first = only_delivery(api, endpoint_id)
    assert (first["status"], first["attempt_count"]) == ("PENDING", 1)

    assert api.delete(f"/v1/webhook-endpoints/{endpoint_id}").status_code == 204
    ledger.adjust(alice, "2")  # after the archive: no delivery at all
    stack.drain()
    clock.to(moment(first["next_attempt_at"]))
    retry_round(stack)

    assert len(hooks.received) == 1
    row = only_delivery(api, endpoint_id)
    assert (row["status"], row["last_error"], row["attempt_count"]) == ("FAILED", "endpoint archived", 1)
    assert row["next_attempt_at"] is None


def test_the_destination_is_checked_again_at_delivery(
    api: Api, stack: LocalStack, hooks: Receiver, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    host = hooks.url.split("//", 1)[1].split(":", 1)[0]
    real_resolve = addresses.resolve
    rebound = {"on": True}

    def resolve(name: str, port: int) -> list[str]:
        return ["10.0.0.5"] if rebound["on"] and name == host else real_resolve(name, port)

    monkeypatch.setattr(addresses, "resolve", resolve)
    ledger.adjust(alice, "1")
    stack.drain()

    assert hooks.received == []
    row = only_delivery(api, endpoint_id)
    assert (row["status"], row["attempt_count"], row["error_code"]) == ("PENDING", 1, "destination_blocked")
    assert row["last_response_status"] is None and "non-public" in row["last_error"]

    rebound["on"] = False
    clock.to(moment(row["next_attempt_at"]))
    retry_round(stack)
    assert len(verified(hooks, secret)) == 1
    assert only_delivery(api, endpoint_id)["status"] == "DELIVERED"


def test_secrets_never_reach_the_logs(
    api: Api, stack: LocalStack, hooks: Receiver, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ledger = make_ledger(api)
    alice = ledger.participant()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    ledger.adjust(alice, "1")
    stack.drain()
    rotated = api.post(f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    ledger.adjust(alice, "2")
    stack.drain()
    stack.fire_schedule(RETRIES)

    first, second = hooks.received
    Webhook(secret).verify(first.body, first.headers)
    Webhook(new_secret).verify(second.body, second.headers)
    with pytest.raises(WebhookVerificationError):  # the old secret stopped at once
        Webhook(secret).verify(second.body, second.headers)
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "WebhookDelivered" in logged and "webhook retries queued" in logged  # the capture works
    for value in (secret, new_secret):
        assert value.startswith("whsec_") and new_secret != secret
        assert value.removeprefix("whsec_") not in logged
    readable = json.dumps(
        [
            api.get(f"/v1/webhook-endpoints/{endpoint_id}").json(),
            api.get("/v1/webhook-endpoints").json(),
            api.get("/v1/webhook-endpoints/delivery-stats").json(),
            [delivery(api, d["id"]) for d in deliveries(api, endpoint_id)],
        ]
    )
    assert secret.removeprefix("whsec_") not in readable and new_secret.removeprefix("whsec_") not in readable


def _recording(monkeypatch: pytest.MonkeyPatch, stack: LocalStack) -> list[dict[str, Any]]:
    """The stream records the dispatcher is invoked with, as Lambda hands them over."""
    function = stack.functions["StreamDispatchFunction"]
    real = function.invoke
    seen: list[dict[str, Any]] = []

    def invoke(event: Any) -> Any:
        seen.extend(event["Records"])
        return real(event)

    monkeypatch.setattr(function, "invoke", invoke)
    return seen


def test_a_redelivered_stream_batch_creates_no_duplicate(
    api: Api, stack: LocalStack, hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    stack.drain()
    endpoint_id, secret = register(api, hooks.url, ["balance.credited"])
    seen = _recording(monkeypatch, stack)
    entry = ledger.adjust(alice, "1").json()["journal_entry_id"]
    stack.drain()
    (inserted,) = [
        r
        for r in seen
        if r["eventName"] == "INSERT"
        and r["dynamodb"]["NewImage"].get("entity", {}).get("S") == "JOURNAL_ENTRY"
        and r["dynamodb"]["NewImage"]["id"]["S"] == entry
        and r["dynamodb"]["NewImage"]["SK"]["S"] == "#"
    ]
    queued = [
        r
        for r in seen
        if r["dynamodb"]["NewImage"].get("entity", {}).get("S") == "WEBHOOK_DELIVERY"
        and r["dynamodb"]["NewImage"]["organization_id"]["S"] == api.organization_id
        and r["dynamodb"]["NewImage"]["status"]["S"] == "PENDING"
    ]
    assert len(queued) == 1 and len(hooks.received) == 1

    dispatch = stack.functions["StreamDispatchFunction"]
    for _ in range(2):
        assert dispatch.invoke({"Records": [inserted, *queued]}) == {"batchItemFailures": []}
    stack.drain()

    assert len(deliveries(api, endpoint_id)) == 1
    assert len(verified(hooks, secret)) == 1
    assert only_delivery(api, endpoint_id)["attempt_count"] == 1
