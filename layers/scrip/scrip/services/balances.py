"""Direct balance operations (04 §5): adjust, hold, release, forfeit, fund and burn.

Each checks the program, the asset and the owner as the spec's gates say (decisions 10, 11),
validates the amount against the asset's scale and ``max_transaction_amount``, then commits one
journal entry through ``services.posting``. Hold, release and forfeit take an optional
``idempotency_key``: the entry and the key's record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scrip.domain import amounts
from scrip.domain.assets import Asset, InventoryMode, IssuancePolicy
from scrip.domain.errors import UnprocessableError, ValidationFailed
from scrip.domain.idempotency import IdempotencyScope, StoredResponse, fingerprint
from scrip.domain.ledger import (
    Account,
    ActionType,
    Balance,
    Bucket,
    EntityType,
    InsufficientBalance,
    SystemAccount,
    group_account,
    participant_account,
    system_account,
    wallet_account,
)
from scrip.domain.organizations import Caller
from scrip.domain.programs import Program
from scrip.services.posting import Leg, Operation, Origin, Plan, commit, plan, retry_stale
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import idempotency, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store


@dataclass(frozen=True)
class Owner:
    """The participant or group an operation acts on (groups per program, 04 §5.1)."""

    entity_type: EntityType
    id: str

    def account(self, program_id: str) -> Account:
        if self.entity_type is EntityType.GROUP:
            return group_account(self.id, program_id)
        return participant_account(self.id)


@dataclass(frozen=True)
class Outcome:
    journal_entry_id: str | None
    amount: Decimal
    balance: Balance
    asset: Asset
    program: Program


def issuance_source(asset: Asset, program: Program) -> Account:
    """Where credited value comes from and plain debits return to (04 §2.3)."""
    if asset.issuance_policy is IssuancePolicy.PREFUNDED:
        return wallet_account(program.id)
    return system_account(SystemAccount.SYSTEM_ISSUANCE)


def load_context(
    caller: Caller, program_id: str, asset_id: str, *, require_active_program: bool = True
) -> tuple[Program, Asset]:
    """The program and asset of an operation, with decision 11's gates."""
    org = caller.organization_id
    program = program_store.require(org, program_id)
    asset = asset_store.require(org, asset_id)
    if require_active_program:
        program.require_active()
    if program.id not in asset.program_ids:
        raise UnprocessableError("asset_not_linked", f"asset {asset.id} is not linked to program {program.id}")
    asset.require_active()
    return program, asset


def require_owner(caller: Caller, owner: Owner, *, financial: bool) -> None:
    """The owner exists; a financial operation also needs an ACTIVE participant (decision 10)."""
    org = caller.organization_id
    if owner.entity_type is EntityType.GROUP:
        group_store.require(org, owner.id).require_active()
        return
    participant = participant_store.require(org, owner.id)
    if financial:
        participant.require_active()


def checked_amount(value: Decimal, asset: Asset, *, field: str = "amount", ceiling: bool = False) -> Decimal:
    amounts.require_positive(value, field=field)
    amounts.check_scale(value, asset.scale, field=field)
    limit = asset.max_transaction_amount
    if ceiling and limit is not None and value > limit:
        raise UnprocessableError(
            "max_transaction_amount_exceeded",
            f"{field} exceeds the asset's max_transaction_amount of {amounts.format_amount(limit, asset.scale)}",
            details={"max_transaction_amount": amounts.format_amount(limit, asset.scale)},
        )
    return value


def _refuse_lot_fields(asset: Asset, fields: dict[str, Any]) -> None:
    if asset.inventory_mode is InventoryMode.SIMPLE:
        for name in ("lot_ids", "earned_from", "earned_to", "reference_id"):
            if fields.get(name) is not None:
                raise ValidationFailed(f"{name} applies to LOT-mode assets only", field=name, reason="lot_only")
    elif asset.inventory_mode is InventoryMode.LOT:
        raise UnprocessableError(
            "lot_operations_unavailable",
            "balance operations on LOT-mode assets are not available yet in this deployment",
        )


# ------------------------------------------------------------------ adjust


def adjust(
    caller: Caller,
    owner: Owner,
    *,
    program_id: str,
    asset_id: str,
    type: str,
    amount: Decimal,
    description: str,
    bucket: Bucket = Bucket.AVAILABLE,
    allow_negative: bool = False,
) -> Outcome:
    """A manual credit or debit (04 §5.1); not idempotent, as the spec documents."""
    program, asset = load_context(caller, program_id, asset_id)
    require_owner(caller, owner, financial=True)
    checked_amount(amount, asset, ceiling=True)
    _refuse_lot_fields(asset, {})
    account = owner.account(program.id)
    source = issuance_source(asset, program)
    if type == "CREDIT":
        legs = [Leg(source, Bucket.AVAILABLE, -amount), Leg(account, bucket, amount)]
        action = ActionType.CREDIT
    else:
        legs = [Leg(account, bucket, -amount), Leg(source, Bucket.AVAILABLE, amount)]
        action = ActionType.DEBIT
    negative = frozenset({account}) if allow_negative and type == "DEBIT" else frozenset()
    committed = commit(
        Operation(
            caller.organization_id,
            program,
            asset,
            action,
            legs,
            description,
            Origin(api_key_id=caller.api_key_id),
            allow_negative=negative,
        )
    )
    return Outcome(committed.entry.id, amount, committed.balances[account], asset, program)


# ------------------------------------------------- hold, release, forfeit

_FAMILIES = {ActionType.HOLD: "hold", ActionType.RELEASE: "release", ActionType.FORFEIT: "forfeit"}


def _operation_legs(
    action: ActionType, account: Account, balance: Balance, amount: Decimal | None, bucket: Bucket | None, asset: Asset
) -> tuple[list[Leg], Decimal]:
    """The legs of a hold, release or forfeit against the owner's current balance."""
    if action is ActionType.HOLD:
        source, target = Bucket.AVAILABLE, Bucket.HELD
    elif action is ActionType.RELEASE:
        source, target = Bucket.HELD, Bucket.AVAILABLE
    else:
        assert bucket is not None
        source, target = bucket, Bucket.AVAILABLE
    present = max(balance.of(source), Decimal(0))
    if amount is None:
        moved = present  # omitted: the whole relevant balance
    elif action is ActionType.RELEASE:
        moved = min(amount, present)  # release is "up to"
    else:
        moved = amount  # hold and forfeit are all or nothing
    if moved <= 0 or moved > present:
        raise InsufficientBalance(
            f"{source.value} balance is insufficient",
            available=present,
            requested=amount or Decimal(0),
            scale=asset.scale,
        )
    if action is ActionType.FORFEIT:
        return [
            Leg(account, source, -moved),
            Leg(system_account(SystemAccount.SYSTEM_BREAKAGE), Bucket.AVAILABLE, moved),
        ], moved
    return [Leg(account, source, -moved), Leg(account, target, moved)], moved


def balance_operation(
    caller: Caller,
    owner: Owner,
    action: ActionType,
    *,
    program_id: str,
    asset_id: str,
    description: str,
    amount: Decimal | None = None,
    bucket: Bucket | None = None,
    idempotency_key: str | None = None,
    request: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Hold, release or forfeit (04 §5.2-5.5): the response body and whether it is a replay."""
    exempt = action is ActionType.FORFEIT  # forfeit is allowed on inactive programs and owners
    program, asset = load_context(caller, program_id, asset_id, require_active_program=not exempt)
    require_owner(caller, owner, financial=not exempt)
    if amount is not None:
        checked_amount(amount, asset)
    _refuse_lot_fields(asset, request or {})
    account = owner.account(program.id)
    org = caller.organization_id

    def prepare() -> tuple[Plan, dict[str, Any]]:
        current = ledger_store.read_balance(org, account, asset.id).balance
        legs, moved = _operation_legs(action, account, current, amount, bucket, asset)
        planned = plan(Operation(org, program, asset, action, legs, description, Origin(api_key_id=caller.api_key_id)))
        return planned, operation_body(action, planned, account, moved, asset, program)

    if idempotency_key is None:

        def once() -> dict[str, Any]:
            planned, body = prepare()
            transactions.write(planned.writes)
            return body

        return retry_stale(once), False

    scope = IdempotencyScope(org, program.id, _FAMILIES[action], idempotency_key)
    digest = fingerprint({"owner": owner.id, "owner_type": owner.entity_type.value, **(request or {})})

    def idempotent() -> idempotency.Outcome:
        def prepare_writes() -> tuple[list[Any], StoredResponse]:
            planned, body = prepare()
            return planned.writes, StoredResponse(200, body)

        return idempotency.run_once(scope, digest, prepare_writes)

    outcome = retry_stale(idempotent)
    return dict(outcome.response.body), outcome.replayed


def operation_body(
    action: ActionType, planned: Plan, account: Account, moved: Decimal, asset: Asset, program: Program
) -> dict[str, Any]:
    balance = planned.balances[account]
    text = amounts.format_amount(moved, asset.scale)
    return {
        "operation": action.value,
        "amount_processed": text,
        "asset_id": asset.id,
        "program_id": program.id,
        "reference_id": planned.entry.reference_id,
        "journal_entry_id": planned.entry.id,
        "balance": balance_body(balance, asset),
        "message": f"Processed {text}",
    }


def balance_body(balance: Balance, asset: Asset) -> dict[str, str]:
    return {
        "available": amounts.format_amount(balance.available, asset.scale),
        "held": amounts.format_amount(balance.held, asset.scale),
        "deferred": amounts.format_amount(balance.deferred, asset.scale),
    }


# -------------------------------------------------------------- wallets


def fund_or_burn(
    caller: Caller, program_id: str, asset_id: str, *, burn: bool, amount: Decimal, description: str | None
) -> Outcome:
    """Move value into (fund) or out of (burn) a PREFUNDED program wallet (04 §5.7)."""
    program, asset = load_context(caller, program_id, asset_id)
    checked_amount(amount, asset)
    wallet = wallet_account(program.id)
    if asset.issuance_policy is IssuancePolicy.UNLIMITED:
        # Decision 18: a 200 no-op, no journal entry, no webhook.
        return Outcome(None, amount, Balance(), asset, program)
    if burn:
        legs = [
            Leg(wallet, Bucket.AVAILABLE, -amount),
            Leg(system_account(SystemAccount.SYSTEM_BREAKAGE), Bucket.AVAILABLE, amount),
        ]
        action = ActionType.BURN
    else:
        legs = [
            Leg(system_account(SystemAccount.SYSTEM_ISSUANCE), Bucket.AVAILABLE, -amount),
            Leg(wallet, Bucket.AVAILABLE, amount),
        ]
        action = ActionType.FUND
    committed = commit(
        Operation(
            caller.organization_id, program, asset, action, legs, description, Origin(api_key_id=caller.api_key_id)
        )
    )
    return Outcome(committed.entry.id, amount, committed.balances[wallet], asset, program)
