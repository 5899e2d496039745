"""Event processing, a state change and the lot job apply once whatever DynamoDB call is faulted
(issue P6; the balance operations are swept in ``test_ledger_faults``).

Each case counts the calls of a clean run, then faults each call in turn with every mode of
``fault_injection`` (the lot job reads fewer due partitions, so that its run stays short). After the fault the work is re-run as its trigger would (SQS redelivers the
event's message, the client retries the request, the next schedule runs the job), and it must
have happened exactly once: one journal entry, one history record, one expiry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import EventStatus, Submission
from scrip.domain.ledger import EntityType, participant_account
from scrip.domain.lots import LotStatus
from scrip.domain.state import Owner, OwnerKind, StateType
from scrip.services import balances, event_processing, events, lot_jobs
from scrip.services import rules as rule_service
from scrip.services import state as state_service
from scrip.storage import events as event_store
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import state as state_store
from tests.integration import ledger_invariants
from tests.integration.fault_injection import Fault, faulted
from tests.integration.ledger_world import make_world
from tests.integration.processing import state_history


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _sweep(
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[int], None],
    run: Callable[[int], None],
    settle: Callable[[int], None],
    *,
    sample: Callable[[Sequence[str]], Iterator[int]] | None = None,
) -> None:
    """Count ``run``'s calls, then, after a clean ``prepare``, run it once per fault and call
    index; ``settle`` re-runs what the fault interrupted and checks the step happened once."""
    step = 0
    prepare(step)
    with faulted(monkeypatch) as counter:
        run(step)
    settle(step)
    indexes = list(sample(counter.calls) if sample else range(len(counter.calls)))
    writes = [i for i, name in enumerate(counter.calls) if name == "transact_write_items"]
    assert writes, counter.calls
    for fault in Fault:
        for fault_at in writes if fault is Fault.RAN_THEN_FAILED else indexes:
            step += 1
            prepare(step)
            with faulted(monkeypatch, fault_at, fault):
                try:
                    run(step)
                except Exception:
                    if fault is Fault.LOSE:
                        raise  # a lost answer is recovered, never an error
            settle(step)


# ------------------------------------------------------------ event processing


def test_an_event_credits_once_whatever_call_is_faulted(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, program, asset, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT)
    org = caller.organization_id
    rule_service.create_rule(
        caller,
        program_id=program,
        name="Earn",
        condition="event.type == 'purchase'",
        actions=[
            {"type": "CREDIT", "asset_id": asset, "amount": "10"},
            {"type": "TAG", "tag": "buyer"},
        ],
    )
    account = participant_account(participant)
    event_ids: dict[int, str] = {}

    def prepare(step: int) -> None:
        submission = Submission(
            program_id=program,
            idempotency_key=str(uuid.uuid4()),
            event_timestamp=datetime(2025, 3, 2, tzinfo=UTC),
            event_data={"type": "purchase"},
            participant_id=participant,
        )
        event_ids[step] = events.ingest(org, submission)[0].id

    def run(step: int) -> None:
        event_processing.process(org, event_ids[step])

    def settle(step: int) -> None:
        for _ in range(3):  # SQS redelivers until the event is settled
            if event_store.require(org, event_ids[step]).status is not EventStatus.PENDING:
                break
            event_processing.process(org, event_ids[step])
        event = event_store.require(org, event_ids[step])
        assert event.status is EventStatus.COMPLETED, (step, event.error_message)
        lines, _ = ledger_store.history_lines(org, account, asset_id=asset, limit=500)
        assert [line.event_id for line in lines].count(event.id) == 1, f"step {step}: not one entry"
        assert ledger_store.read_balance(org, account, asset).balance.available == 10 * (step + 1), step

    _sweep(monkeypatch, prepare, run, settle)
    ledger_invariants.check(org, [participant], asset, set(), lots=True)


# ------------------------------------------------------------ state change


def test_a_tag_is_added_once_whatever_call_is_faulted(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, _, _, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, participant)
    answers: dict[int, bool] = {}

    def prepare(step: int) -> None:
        pass

    def run(step: int) -> None:
        answers[step] = state_service.add_tag(caller, owner, f"tag-{step}")[1]

    def settle(step: int) -> None:
        if step not in answers:
            answers[step] = state_service.add_tag(caller, owner, f"tag-{step}")[1]  # the client's retry
        assert answers[step], f"step {step}: a new tag answered as already present"
        assert f"tag-{step}" in state_store.read(org, owner).tags
        history = state_history(org, owner, state_type=StateType.TAG, key=f"tag-{step}")
        assert len(history) == 1, f"step {step}: {len(history)} history records"

    _sweep(monkeypatch, prepare, run, settle)


# ------------------------------------------------------------ the lot job


def test_the_lot_job_expires_a_lot_once_whatever_call_is_faulted(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, program, asset, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT)
    org = caller.organization_id
    account = participant_account(participant)
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, participant)
    balances.adjust(
        caller, owner, program_id=program, asset_id=asset, type="CREDIT", amount=Decimal(100), description="s"
    )
    lots: dict[int, tuple[str, datetime]] = {}

    def prepare(step: int) -> None:
        expires_at = clock.now() + timedelta(minutes=1)
        _, (lot,) = balances.credit(
            caller, owner, program_id=program, asset_id=asset, amount=Decimal(7), expires_at=expires_at
        )
        lots[step] = (lot.id, expires_at)

    def run(step: int) -> None:
        lot_jobs.run_due(lots[step][1] + timedelta(seconds=1))

    def settle(step: int) -> None:
        lot_id, expires_at = lots[step]
        lot_jobs.run_due(expires_at + timedelta(seconds=1))  # the next scheduled run
        (lot,) = [lot for lot in lot_store.read(org, account, asset) if lot.id == lot_id]
        assert lot.status is LotStatus.EXPIRED and lot.remaining == 0, (step, lot)
        assert ledger_store.read_balance(org, account, asset).balance.available == 100, f"step {step}"

    # The job reads a partition per due shard per hour it looks back over: two shards over two
    # hours keep its run short enough to fault every call (the lots are written after the patch).
    monkeypatch.setattr(lot_jobs, "LOOKBACK", timedelta(hours=1))
    monkeypatch.setattr(lot_store, "DUE_SHARDS", 2)
    _sweep(monkeypatch, prepare, run, settle)
    ledger_invariants.check(org, [participant], asset, set(), lots=True)
