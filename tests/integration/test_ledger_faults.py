"""A failure at any AWS call leaves nothing half-written (04 §2.5 invariant 7).

Each operation is run once to count the DynamoDB calls it makes, then once per call with that
call failing: afterwards the ledger must be exactly as before (no entry, no balance change, no
idempotency record), and a clean retry must succeed once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.idempotency import IdempotencyScope
from scrip.domain.ledger import ActionType, EntityType, participant_account
from scrip.domain.organizations import Caller
from scrip.services import balances
from scrip.storage import idempotency, table
from scrip.storage import ledger as ledger_store
from tests.integration import ledger_invariants
from tests.integration.ledger_world import make_world


class FailingClient:
    """Delegates to the real client, failing the ``fail_at``-th call (counting from 0)."""

    def __init__(self, real: Any, fail_at: int | None) -> None:
        self.real, self.fail_at, self.calls = real, fail_at, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            index = self.calls
            self.calls += 1
            if index == self.fail_at:
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, name)
            return method(*args, **kwargs)

        return call


def _world(stack: Any, policy: IssuancePolicy, mode: InventoryMode) -> tuple[Caller, str, str, str]:
    caller, program, asset, (participant,) = make_world(stack, policy, mode)
    owner = balances.Owner(EntityType.PARTICIPANT, participant)
    if policy is IssuancePolicy.PREFUNDED:
        balances.fund_or_burn(caller, program, asset, burn=False, amount=Decimal(100), description=None)
    balances.adjust(
        caller, owner, program_id=program, asset_id=asset, type="CREDIT", amount=Decimal(50), description="seed"
    )
    return caller, program, asset, participant


OPERATIONS: dict[str, Callable[[Caller, str, str, str], Any]] = {
    "adjust credit": lambda c, p, a, x: balances.adjust(
        c,
        balances.Owner(EntityType.PARTICIPANT, x),
        program_id=p,
        asset_id=a,
        type="CREDIT",
        amount=Decimal(7),
        description="t",
    ),
    "adjust debit": lambda c, p, a, x: balances.adjust(
        c,
        balances.Owner(EntityType.PARTICIPANT, x),
        program_id=p,
        asset_id=a,
        type="DEBIT",
        amount=Decimal(7),
        description="t",
    ),
    "idempotent hold": lambda c, p, a, x: balances.balance_operation(
        c,
        balances.Owner(EntityType.PARTICIPANT, x),
        ActionType.HOLD,
        program_id=p,
        asset_id=a,
        description="t",
        amount=Decimal(7),
        idempotency_key="fault-hold",
        request={"amount": Decimal(7)},
    ),
    "burn": lambda c, p, a, x: balances.fund_or_burn(c, p, a, burn=True, amount=Decimal(7), description=None),
}


@pytest.mark.parametrize("mode", [InventoryMode.SIMPLE, InventoryMode.LOT])
@pytest.mark.parametrize("policy", [IssuancePolicy.UNLIMITED, IssuancePolicy.PREFUNDED])
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_failing_each_call_in_turn_leaves_no_partial_state(
    stack, monkeypatch: pytest.MonkeyPatch, policy: IssuancePolicy, name: str, mode: InventoryMode
) -> None:  # type: ignore[no-untyped-def]
    if name == "burn" and policy is IssuancePolicy.UNLIMITED:
        pytest.skip("burning an UNLIMITED asset writes nothing")
    operation = OPERATIONS[name]
    real = table.client()
    counter = FailingClient(real, None)
    caller, program, asset, participant = _world(stack, policy, mode)
    monkeypatch.setattr(table, "client", lambda: counter)
    operation(caller, program, asset, participant)
    total_calls = counter.calls
    assert total_calls >= 2

    for fail_at in range(total_calls):
        monkeypatch.setattr(table, "client", lambda: real)
        caller, program, asset, participant = _world(stack, policy, mode)
        before_entries = len(ledger_invariants.all_entries(caller.organization_id))
        before = ledger_store.read_balance(caller.organization_id, participant_account(participant), asset).balance
        failing = FailingClient(real, fail_at)
        monkeypatch.setattr(table, "client", lambda failing=failing: failing)
        with pytest.raises(ClientError):
            operation(caller, program, asset, participant)
        monkeypatch.setattr(table, "client", lambda: real)
        assert len(ledger_invariants.all_entries(caller.organization_id)) == before_entries, (
            f"an entry survived call {fail_at}"
        )
        assert (
            ledger_store.read_balance(caller.organization_id, participant_account(participant), asset).balance == before
        )
        assert idempotency.find(IdempotencyScope(caller.organization_id, program, "hold", "fault-hold")) is None
        ledger_invariants.check(
            caller.organization_id, [participant], asset, set(), program if policy is IssuancePolicy.PREFUNDED else None
        )
        # the retry after the failure applies the operation exactly once
        operation(caller, program, asset, participant)
        assert len(ledger_invariants.all_entries(caller.organization_id)) == before_entries + 1
