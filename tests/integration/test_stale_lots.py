"""Lots read before a concurrent commit never reach the ledger (the race CI once caught).

A lot write carries no condition of its own: it is guarded by the owner's balance version.
So the version that guards the commit must be the one read *before* the lots. Here a second
writer commits between an attempt's read of the lots and its plan; the attempt must start
over instead of planning from stale lots (which raised InsufficientBalance in the expiry job,
and could have rewritten lots another operation had just changed).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.ledger import ActionType, EntityType, participant_account
from scrip.services import balances, lot_jobs
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from tests.integration import ledger_invariants
from tests.integration.ledger_world import make_world


def _interleave(monkeypatch: pytest.MonkeyPatch, between: Any) -> list[int]:
    """Run ``between`` once, right after the first lot read of the next attempt."""
    real_read = lot_store.read
    calls: list[int] = []

    def read(*args: Any, **kwargs: Any) -> Any:
        found = real_read(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            between()
        return found

    monkeypatch.setattr(lot_store, "read", read)
    return calls


def test_an_expiry_run_that_read_lots_before_another_run_committed_starts_over(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, program, asset, (alice,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT)
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    soon = clock.now() + timedelta(minutes=5)
    for amount in (9, 4):
        balances.credit(caller, owner, program_id=program, asset_id=asset, amount=Decimal(amount), expires_at=soon)
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", "600")
    other_run: list[lot_jobs.JobReport] = []
    calls = _interleave(monkeypatch, lambda: other_run.append(lot_jobs.run_due()))

    lot_jobs.run_due()  # must not raise, must not expire anything twice

    assert len(calls) >= 3  # the first attempt read stale lots and was planned again
    account = participant_account(alice)
    assert ledger_store.read_balance(caller.organization_id, account, asset).balance.available == 0
    lines, _ = ledger_store.history_lines(caller.organization_id, account, asset_id=asset, limit=50)
    assert sum(1 for line in lines if line.amount < 0) == 1  # one expiration entry, not two
    ledger_invariants.check(caller.organization_id, [alice], asset, set(), lots=True)


def test_a_debit_planned_from_lots_read_before_a_hold_committed_starts_over(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, program, asset, (alice,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT)
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    balances.credit(caller, owner, program_id=program, asset_id=asset, amount=Decimal(10))

    def concurrent_hold() -> None:
        balances.balance_operation(
            caller, owner, ActionType.HOLD, program_id=program, asset_id=asset, description="hold", amount=Decimal(6)
        )

    calls = _interleave(monkeypatch, concurrent_hold)
    # Planned from the stale lots (one lot of 10, all AVAILABLE) this debit would rewrite the
    # lot as 7 AVAILABLE over the hold's split: lots would no longer back the buckets.
    balances.adjust(
        caller, owner, program_id=program, asset_id=asset, type="DEBIT", amount=Decimal(3), description="debit"
    )

    assert len(calls) >= 3  # the debit's first plan was stale and was made again
    record = ledger_store.read_balance(caller.organization_id, participant_account(alice), asset)
    assert (record.balance.available, record.balance.held) == (1, 6)
    ledger_invariants.check(caller.organization_id, [alice], asset, set(), lots=True)
