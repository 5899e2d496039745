"""Random sequences of ledger operations, with the ledger's invariants checked after every step.

In the style of TigerBeetle's and Formance's tests: whatever the sequence, every entry
balances, stored balances equal their postings, nothing overdraws unless allowed, and every
owner's hash chain verifies.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.errors import ApiError
from scrip.domain.ledger import ActionType, Bucket, EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances
from tests.integration import ledger_invariants
from tests.integration.ledger_world import make_world

OPERATIONS = ["credit", "debit", "clawback", "hold", "release", "forfeit_available", "forfeit_held"]
WALLET_OPERATIONS = ["fund", "burn", "credit", "debit", "hold", "release"]
amounts = st.integers(min_value=1, max_value=60).map(lambda n: Decimal(n) / 4)  # scale 2, exact


def _setup(policy: IssuancePolicy, stack, mode: InventoryMode) -> tuple[Caller, str, str, list[str]]:  # type: ignore[no-untyped-def]
    return make_world(stack, policy, mode, participants=2, scale=2)


def _apply(
    caller: Caller, program: str, asset: str, participant: str, operation: str, amount: Decimal, overdrafts: set[str]
) -> None:
    owner = balances.Owner(EntityType.PARTICIPANT, participant)
    common = {"program_id": program, "asset_id": asset, "description": operation}
    if operation in ("credit", "debit", "clawback"):
        kind = "CREDIT" if operation == "credit" else "DEBIT"
        balances.adjust(caller, owner, type=kind, amount=amount, allow_negative=operation == "clawback", **common)
        if operation == "clawback":
            overdrafts.add(participant)
    elif operation in ("fund", "burn"):
        balances.fund_or_burn(caller, program, asset, burn=operation == "burn", amount=amount, description=None)
    else:
        action = {"hold": ActionType.HOLD, "release": ActionType.RELEASE}.get(operation, ActionType.FORFEIT)
        bucket = (
            Bucket.HELD
            if operation == "forfeit_held"
            else (Bucket.AVAILABLE if operation == "forfeit_available" else None)
        )
        balances.balance_operation(caller, owner, action, amount=amount, bucket=bucket, **common)


@pytest.mark.parametrize("mode", [InventoryMode.SIMPLE, InventoryMode.LOT])
@pytest.mark.parametrize("policy", [IssuancePolicy.UNLIMITED, IssuancePolicy.PREFUNDED])
def test_random_operation_sequences_keep_the_invariants(stack, policy: IssuancePolicy, mode: InventoryMode) -> None:  # type: ignore[no-untyped-def]
    names = OPERATIONS if policy is IssuancePolicy.UNLIMITED else WALLET_OPERATIONS

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(st.tuples(st.sampled_from(names), st.integers(0, 1), amounts), min_size=1, max_size=12))
    def run(steps: list[tuple[str, int, Decimal]]) -> None:
        caller, program, asset, people = _setup(policy, stack, mode)
        overdrafts: set[str] = set()
        wallet = program if policy is IssuancePolicy.PREFUNDED else None
        for operation, who, amount in steps:
            try:
                _apply(caller, program, asset, people[who], operation, amount, overdrafts)
            except ApiError as error:
                assert error.status == 422 and error.code == "insufficient_balance", error
            ledger_invariants.check(
                caller.organization_id, people, asset, overdrafts, wallet, lots=mode is InventoryMode.LOT
            )

    run()
