"""Every balance operation applies exactly once whatever DynamoDB call fails or loses its answer
(04 §2.5 invariant 7; issue P6).

Each operation is run once to count its DynamoDB calls, then, for every fault mode of
``fault_injection`` and every call index, once more with that call faulted. Afterwards either
the operation raised and nothing happened (and a clean retry applies it once), or it answered
and happened exactly once (its balance and wallet change is one application's), its answer
naming a committed journal entry. One world serves an operation's whole sweep: each step is
judged by its own before and after, and the entry count and the ledger invariants (lots
included) are checked after each fault mode's sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.errors import Conflict, PayloadTooLarge
from scrip.domain.idempotency import IdempotencyScope, StoredResponse
from scrip.domain.ledger import ActionType, Balance, Bucket, EntityType, participant_account
from scrip.domain.lots import LotFilters
from scrip.domain.organizations import Caller
from scrip.services import balances
from scrip.storage import idempotency, table
from scrip.storage import ledger as ledger_store
from tests.integration import ledger_invariants
from tests.integration.fault_injection import Fault, cancelled_by_conflict, faulted
from tests.integration.ledger_world import make_world


@dataclass(frozen=True)
class World:
    caller: Caller
    program: str
    asset: str
    participant: str
    mode: InventoryMode

    @property
    def owner(self) -> balances.BalanceOwner:
        return balances.BalanceOwner(EntityType.PARTICIPANT, self.participant)

    def balance(self) -> Balance:
        return ledger_store.read_balance(
            self.caller.organization_id, participant_account(self.participant), self.asset
        ).balance

    def holdings(self) -> tuple[Decimal, ...]:
        """What the operations move: the participant's three buckets and the program wallet."""
        wallet = ledger_store.read_wallet(self.caller.organization_id, self.program, self.asset)
        balance = self.balance()
        return (
            balance.available,
            balance.held,
            balance.deferred,
            sum((r.balance.available for r in wallet), Decimal(0)),
        )

    def entries(self) -> int:
        return len(ledger_invariants.all_entries(self.caller.organization_id))

    def check(self) -> None:
        ledger_invariants.check(
            self.caller.organization_id,
            [self.participant],
            self.asset,
            set(),
            self.program,
            lots=self.mode is InventoryMode.LOT,
        )


def _world(stack: Any, mode: InventoryMode) -> World:
    caller, program, asset, (participant,) = make_world(stack, IssuancePolicy.PREFUNDED, mode)
    world = World(caller, program, asset, participant, mode)
    balances.fund_or_burn(caller, program, asset, burn=False, amount=Decimal(100_000), description=None)
    balances.adjust(
        caller, world.owner, program_id=program, asset_id=asset, type="CREDIT", amount=Decimal(5000), description="s"
    )
    _operation(world, ActionType.HOLD, 0, None, amount=Decimal(2000))
    return world


def _operation(
    world: World, action: ActionType, step: int, key: str | None, *, amount: Decimal | None = Decimal(7)
) -> str | None:
    reference = f"r{step}" if action is ActionType.VOID_HOLD else None
    answer = balances.idempotent_balance_operation(
        world.caller,
        world.owner,
        action,
        program_id=world.program,
        asset_id=world.asset,
        description="t",
        amount=None if action is ActionType.VOID_HOLD else amount,
        idempotency_key=key,
        request={"amount": str(amount), "reference_id": reference} if key else {},
        render=lambda result: StoredResponse(200, {"journal_entry_id": result.journal_entry_id}),
        filters=LotFilters(reference_id=reference) if reference else None,
    )
    return str(answer.response.body["journal_entry_id"])


def _adjust(type: str) -> Callable[[World, int, str | None], str | None]:
    def run(world: World, step: int, key: str | None) -> str | None:
        return balances.adjust(
            world.caller,
            world.owner,
            program_id=world.program,
            asset_id=world.asset,
            type=type,
            amount=Decimal(7),
            description="t",
        ).journal_entry_id

    return run


def _wallet(burn: bool) -> Callable[[World, int, str | None], str | None]:
    def run(world: World, step: int, key: str | None) -> str | None:
        return balances.fund_or_burn(
            world.caller, world.program, world.asset, burn=burn, amount=Decimal(7), description=None
        ).journal_entry_id

    return run


def _action(action: ActionType) -> Callable[[World, int, str | None], str | None]:
    return lambda world, step, key: _operation(world, action, step, key)


def _provisional_credit(world: World, step: int) -> None:
    """What a void hold voids: a provisional HELD credit carrying the step's reference."""
    balances.credit(
        world.caller,
        world.owner,
        program_id=world.program,
        asset_id=world.asset,
        amount=Decimal(7),
        bucket=Bucket.HELD,
        reference_id=f"r{step}",
    )


OPERATIONS: dict[str, Callable[[World, int, str | None], str | None]] = {
    "adjust credit": _adjust("CREDIT"),
    "adjust debit": _adjust("DEBIT"),
    "hold": _action(ActionType.HOLD),
    "release": _action(ActionType.RELEASE),
    "forfeit": _action(ActionType.FORFEIT),
    "void hold": _action(ActionType.VOID_HOLD),
    "fund": _wallet(burn=False),
    "burn": _wallet(burn=True),
}
_KEYED = {"hold": "hold", "release": "release", "forfeit": "forfeit", "void hold": "void_hold"}
_CASES = [
    pytest.param(name, mode, keyed, id=f"{name}-{mode.value}{'-key' if keyed else ''}")
    for name in OPERATIONS
    for mode in (InventoryMode.SIMPLE, InventoryMode.LOT)
    for keyed in (False, True)
    # the key changes only the idempotency record, not how the ledger is written: one mode each
    if (not keyed or (name in _KEYED and (mode is InventoryMode.LOT) == (name in ("release", "void hold"))))
    and (name != "void hold" or mode is InventoryMode.LOT)  # void hold is LOT-only
    and (name not in ("fund", "burn") or mode is InventoryMode.SIMPLE)  # a wallet has no lots
]


@pytest.mark.parametrize(("name", "mode", "keyed"), _CASES)
def test_every_fault_at_every_call_applies_the_operation_once(
    stack: Any, monkeypatch: pytest.MonkeyPatch, name: str, mode: InventoryMode, keyed: bool
) -> None:
    world = _world(stack, mode)
    operation = OPERATIONS[name]
    step, expected_entries = 0, world.entries()

    def prepare() -> str | None:
        nonlocal step, expected_entries
        step += 1
        if name == "void hold":
            _provisional_credit(world, step)
            expected_entries += 1
        return f"k{step}" if keyed else None

    key = prepare()
    before = world.holdings()
    with faulted(monkeypatch) as counter:
        operation(world, step, key)
    expected_entries += 1
    calls = counter.calls
    delta = _difference(world.holdings(), before)
    assert any(delta)
    write = calls.index("transact_write_items")

    for fault in Fault:
        # The SDK gives up only after the write ran: faulting a read that way is a plain failure.
        indexes = [write] if fault is Fault.RAN_THEN_FAILED else range(len(calls))
        for fault_at in indexes:
            key = prepare()
            before = world.holdings()
            where = f"{fault.value} at call {fault_at} of {calls}"
            raised: Exception | None = None
            with faulted(monkeypatch, fault_at, fault) as client:
                try:
                    answered = operation(world, step, key)
                except Exception as error:  # noqa: BLE001 - any failure is acceptable if nothing happened
                    answered, raised = None, error
            assert client.faulted == calls[fault_at], where
            if raised is not None:
                assert fault is not Fault.LOSE, f"{where}: a lost answer must not fail the operation ({raised!r})"
                assert world.holdings() == before, f"{where}: failed, yet it moved value"
                if keyed:
                    scope = IdempotencyScope(world.caller.organization_id, world.program, _KEYED[name], str(key))
                    assert idempotency.find(scope) is None, where
                answered = operation(world, step, key)  # the caller's retry
            expected_entries += 1
            assert _difference(world.holdings(), before) == delta, f"{where}: applied more or less than once"
            assert answered is not None
            assert ledger_store.get_entry(world.caller.organization_id, answered).id == answered, where
        # Every invariant is a running sum that no later step repairs, so checking once per sweep
        # catches a break at any of its steps (and keeps the sweep's cost to one read per call).
        assert world.entries() == expected_entries, f"{fault.value}: an operation left a second entry"
        world.check()


def _difference(after: tuple[Decimal, ...], before: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    return tuple(a - b for a, b in zip(after, before, strict=True))


# ------------------------------------------------------------ conflicts and sizes


def test_a_transaction_that_keeps_conflicting_is_a_409(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world = _world(stack, InventoryMode.SIMPLE)
    entries = world.entries()
    real = table.client()

    class Conflicting:
        """Every transaction is cancelled by a conflicting one, however often it is retried."""

        def transact_write_items(self, **request: Any) -> None:
            raise cancelled_by_conflict(len(request["TransactItems"]))

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(table, "client", lambda: Conflicting())
    with pytest.raises(Conflict) as raised:
        _adjust("CREDIT")(world, 0, None)
    monkeypatch.setattr(table, "client", lambda: real)
    assert raised.value.status == 409 and raised.value.code == "conflict"
    assert world.entries() == entries


def test_an_item_over_400_kb_is_payload_too_large(stack: Any) -> None:
    world = _world(stack, InventoryMode.SIMPLE)
    with pytest.raises(PayloadTooLarge) as raised:
        balances.adjust(
            world.caller,
            world.owner,
            program_id=world.program,
            asset_id=world.asset,
            type="CREDIT",
            amount=Decimal(7),
            description="x" * 420_000,
        )
    assert raised.value.status == 413 and raised.value.code == "payload_too_large"
