"""Direct balance operations (04 §5): adjust, hold, release, forfeit, fund and burn.

Each checks the program, the asset and the owner as the spec's gates say (decisions 10, 11),
validates the amount against the asset's scale and ``max_transaction_amount``, then commits one
journal entry through ``services.posting``. Hold, release, forfeit and void hold take an optional
``idempotency_key``: the entry and the key's record commit together.

Each operation returns a result (``AdjustmentResult``, ``BalanceOperationResult``,
``WalletResult``) and never a response body: ``api/`` renders it. An idempotent operation takes
the renderer, because its record stores the body the first request answered, and a replay
answers that body unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, clock
from scrip.domain.assets import Asset, InventoryMode, IssuancePolicy
from scrip.domain.errors import UnprocessableError, ValidationFailed
from scrip.domain.idempotency import IdempotencyScope, IdempotentAnswer, StoredResponse, fingerprint
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
from scrip.domain.lots import (
    BUCKET_STATUS,
    Lot,
    LotChanges,
    LotFilters,
    LotOrigin,
    LotStatus,
    close,
    consume,
    eligible,
    move,
    new_lot,
    release,
)
from scrip.domain.organizations import Caller
from scrip.domain.programs import Program
from scrip.services.common import retry_on_stale
from scrip.services.posting import BALANCE_RETRY, Leg, Operation, Origin, Plan, commit, plan
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import idempotency, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store


@dataclass(frozen=True)
class BalanceOwner:
    """The participant or group an operation acts on (groups per program, 04 §5.1)."""

    entity_type: EntityType
    id: str

    def account(self, program_id: str) -> Account:
        if self.entity_type is EntityType.GROUP:
            return group_account(self.id, program_id)
        return participant_account(self.id)


@dataclass(frozen=True)
class AdjustmentResult:
    """A committed credit or debit (adjust, and the CREDIT and DEBIT rule actions)."""

    journal_entry_id: str
    operation: ActionType  # CREDIT or DEBIT
    amount: Decimal
    bucket: Bucket
    balance: Balance  # the owner's, after the entry
    asset: Asset
    program: Program


@dataclass(frozen=True)
class ProcessedLot:
    """What an operation took from one lot (``lots_processed``)."""

    lot_id: str
    amount: Decimal


@dataclass(frozen=True)
class BalanceOperationResult:
    """A committed hold, release, forfeit or void hold (04 §5.2-5.6)."""

    operation: ActionType
    amount_processed: Decimal
    asset: Asset
    program: Program
    reference_id: str | None
    journal_entry_id: str
    balance: Balance  # the owner's, after the entry
    lots_processed: tuple[ProcessedLot, ...] | None  # None for a SIMPLE-mode asset


@dataclass(frozen=True)
class WalletResult:
    """A fund or burn of a program wallet; no entry (and a zero balance) for an UNLIMITED asset."""

    journal_entry_id: str | None
    amount: Decimal
    balance: Balance  # the wallet's, after the entry
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


def require_balance_owner(caller: Caller, owner: BalanceOwner, *, financial: bool) -> None:
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


def _refuse_lot_fields(asset: Asset, filters: LotFilters) -> None:
    if asset.inventory_mode is InventoryMode.SIMPLE:
        given = {
            "lot_ids": filters.lot_ids,
            "earned_from": filters.earned_from,
            "earned_to": filters.earned_to,
            "reference_id": filters.reference_id,
        }
        for name, value in given.items():
            if value is not None:
                raise ValidationFailed(f"{name} applies to LOT-mode assets only", field=name, reason="lot_only")


@dataclass(frozen=True)
class Movement:
    """What an operation does to one owner's asset: ledger legs, lot changes, amount moved."""

    legs: list[Leg]
    moved: Decimal
    lots: LotChanges | None = None


def _execute(
    caller: Caller,
    program: Program,
    asset: Asset,
    account: Account,
    action: ActionType,
    description: str | None,
    build: Callable[[Balance, list[Lot]], Movement],
    *,
    reference_id: str | None = None,
    allow_negative: bool = False,
    origin: Origin | None = None,
) -> Callable[[], tuple[Plan, Movement]]:
    """A re-plannable attempt: read the owner's balance (and lots), build, plan the commit."""
    org = caller.organization_id

    def attempt() -> tuple[Plan, Movement]:
        record = ledger_store.read_balance(org, account, asset.id)
        lots = lot_store.read(org, account, asset.id) if asset.inventory_mode is InventoryMode.LOT else []
        movement = build(record.balance, lots)
        lot_writes: list[transactions.Write] = []
        if movement.lots is not None:
            for lot in [*movement.lots.changed, *movement.lots.new]:
                lot_writes.extend(lot_store.put(org, account, lot))
        operation = Operation(
            org,
            program,
            asset,
            action,
            movement.legs,
            description,
            origin or Origin(api_key_id=caller.api_key_id),
            reference_id=reference_id,
            allow_negative=frozenset({account}) if allow_negative else frozenset(),
            extra_writes=lot_writes,
            balance_versions={account: record.version},
        )
        return plan(operation), movement

    return attempt


def _commit[T](attempt: Callable[[], tuple[Plan, T]]) -> tuple[Plan, T]:
    """Plan and write until no balance the plan read changed meanwhile."""

    def once() -> tuple[Plan, T]:
        planned, result = attempt()
        transactions.write(planned.writes)
        return planned, result

    return retry_on_stale(once, BALANCE_RETRY)


def _insufficient(bucket: Bucket, present: Decimal, requested: Decimal | None, asset: Asset) -> InsufficientBalance:
    return InsufficientBalance(
        f"{bucket.value} balance is insufficient",
        available=present,
        requested=requested or Decimal(0),
        scale=asset.scale,
    )


def _credit_movement(
    account: Account,
    source: Account,
    asset: Asset,
    program: Program,
    amount: Decimal,
    bucket: Bucket,
    balance: Balance,
    **lot_fields: Any,
) -> Movement:
    legs = [Leg(source, Bucket.AVAILABLE, -amount), Leg(account, bucket, amount)]
    if asset.inventory_mode is not InventoryMode.LOT:
        return Movement(legs, amount)
    lot_bucket = bucket
    lot_amount = amount
    lot = new_lot(
        asset_id=asset.id, amount=amount, now=clock.now(), bucket=lot_bucket, program_id=program.id, **lot_fields
    )
    if lot.status is LotStatus.DEFERRED:
        legs = [Leg(source, Bucket.AVAILABLE, -amount), Leg(account, Bucket.DEFERRED, amount)]
    elif lot.status is LotStatus.AVAILABLE and balance.available < 0:
        # An overdraft is repaid first: only the excess becomes a lot (04 §8.5).
        lot_amount = amount + balance.available
    if lot_amount <= 0:
        return Movement(legs, amount, LotChanges([], [], [], Decimal(0)))
    lot = replace(lot, amount=lot_amount, remaining=lot_amount)
    return Movement(legs, amount, LotChanges([], [lot], [], lot_amount))


# ------------------------------------------------------------------ adjust


def adjust(
    caller: Caller,
    owner: BalanceOwner,
    *,
    program_id: str,
    asset_id: str,
    type: str,
    amount: Decimal,
    description: str,
    bucket: Bucket = Bucket.AVAILABLE,
    allow_negative: bool = False,
    origin: Origin | None = None,
) -> AdjustmentResult:
    """A manual credit or debit (04 §5.1); not idempotent, as the spec documents."""
    program, asset = load_context(caller, program_id, asset_id)
    require_balance_owner(caller, owner, financial=True)
    checked_amount(amount, asset, ceiling=True)
    account = owner.account(program.id)
    source = issuance_source(asset, program)
    overdraft = allow_negative and type == "DEBIT" and bucket is Bucket.AVAILABLE

    def build(balance: Balance, lots: list[Lot]) -> Movement:
        if type == "CREDIT":
            return _credit_movement(
                account,
                source,
                asset,
                program,
                amount,
                bucket,
                balance,
                expires_at=None,
                matures_at=None,
                reference_id=None,
            )
        legs = [Leg(account, bucket, -amount), Leg(source, Bucket.AVAILABLE, amount)]
        if asset.inventory_mode is not InventoryMode.LOT:
            return Movement(legs, amount)
        candidates = eligible(lots, BUCKET_STATUS[bucket], LotFilters(), clock.now())
        covered = sum((lot.remaining for lot in candidates), Decimal(0))
        if covered < amount and not overdraft:
            raise _insufficient(bucket, covered, amount, asset)
        return Movement(legs, amount, consume(candidates, None if covered < amount else amount))

    action = ActionType.CREDIT if type == "CREDIT" else ActionType.DEBIT
    planned, _ = _commit(
        _execute(caller, program, asset, account, action, description, build, allow_negative=overdraft, origin=origin)
    )
    return AdjustmentResult(planned.entry.id, action, amount, bucket, planned.balances[account], asset, program)


def credit(
    caller: Caller,
    owner: BalanceOwner,
    *,
    program_id: str,
    asset_id: str,
    amount: Decimal,
    description: str | None = None,
    bucket: Bucket = Bucket.AVAILABLE,
    expires_at: datetime | None = None,
    matures_at: datetime | None = None,
    reference_id: str | None = None,
    origin: Origin | None = None,
) -> tuple[AdjustmentResult, list[Lot]]:
    """A credit with the lot options of the CREDIT rule action (04 §6.1): expiry, maturity,
    provisional HELD credit with a reference. Used by the rules engine; adjust has none of them.
    The reference stamps the journal entry; only a HELD (provisional) lot is stamped with it."""
    program, asset = load_context(caller, program_id, asset_id)
    require_balance_owner(caller, owner, financial=True)
    checked_amount(amount, asset, ceiling=True)
    if asset.inventory_mode is InventoryMode.SIMPLE and (expires_at or matures_at or reference_id):
        raise ValidationFailed(
            "expires_at, matures_at and reference_id apply to LOT-mode assets only", reason="lot_only"
        )
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("expires_at must be in the future", field="expires_at", reason="past")
    account = owner.account(program.id)
    source = issuance_source(asset, program)

    def build(balance: Balance, lots: list[Lot]) -> Movement:
        return _credit_movement(
            account,
            source,
            asset,
            program,
            amount,
            bucket,
            balance,
            expires_at=expires_at,
            matures_at=matures_at,
            reference_id=reference_id if bucket is Bucket.HELD else None,
        )

    planned, movement = _commit(
        _execute(
            caller,
            program,
            asset,
            account,
            ActionType.CREDIT,
            description,
            build,
            reference_id=reference_id,
            origin=origin,
        )
    )
    created = movement.lots.new if movement.lots else []
    result = AdjustmentResult(
        planned.entry.id, ActionType.CREDIT, amount, bucket, planned.balances[account], asset, program
    )
    return result, created


# ------------------------------------------------- hold, release, forfeit

_FAMILIES = {
    ActionType.HOLD: "hold",
    ActionType.RELEASE: "release",
    ActionType.FORFEIT: "forfeit",
    ActionType.VOID_HOLD: "void_hold",
}
_SOURCE = {ActionType.HOLD: Bucket.AVAILABLE, ActionType.RELEASE: Bucket.HELD, ActionType.VOID_HOLD: Bucket.HELD}


def _simple_movement(
    action: ActionType, account: Account, balance: Balance, amount: Decimal | None, bucket: Bucket, asset: Asset
) -> Movement:
    present = max(balance.of(bucket), Decimal(0))
    if amount is None:
        moved = present  # omitted: the whole relevant balance
    elif action is ActionType.RELEASE:
        moved = min(amount, present)  # release is "up to"
    else:
        moved = amount  # hold and forfeit are all or nothing
    if moved <= 0 or moved > present:
        raise _insufficient(bucket, present, amount, asset)
    return Movement(_legs(action, account, bucket, moved), moved)


def _legs(
    action: ActionType, account: Account, bucket: Bucket, moved: Decimal, source: Account | None = None
) -> list[Leg]:
    if action is ActionType.FORFEIT:
        return [
            Leg(account, bucket, -moved),
            Leg(system_account(SystemAccount.SYSTEM_BREAKAGE), Bucket.AVAILABLE, moved),
        ]
    if action is ActionType.VOID_HOLD:
        assert source is not None
        return [Leg(account, Bucket.HELD, -moved), Leg(source, Bucket.AVAILABLE, moved)]
    target = Bucket.HELD if action is ActionType.HOLD else Bucket.AVAILABLE
    return [Leg(account, bucket, -moved), Leg(account, target, moved)]


def _lot_movement(
    action: ActionType,
    account: Account,
    lots: list[Lot],
    amount: Decimal | None,
    bucket: Bucket,
    filters: LotFilters,
    asset: Asset,
    source: Account,
    reference: str | None,
    available: Decimal,
) -> Movement:
    now = clock.now()
    if action is ActionType.VOID_HOLD:
        provisional = [
            lot for lot in eligible(lots, LotStatus.HELD, filters, now) if lot.origin is LotOrigin.CREDIT_HELD
        ]
        if not provisional:
            raise UnprocessableError(
                "no_matching_lots", f"no provisional HELD lots carry reference_id {filters.reference_id!r}"
            )
        changes = close(provisional, LotStatus.CONSUMED)
        return Movement(_legs(action, account, bucket, changes.moved, source), changes.moved, changes)
    candidates = eligible(lots, BUCKET_STATUS[bucket], filters, now)
    present = sum((lot.remaining for lot in candidates), Decimal(0))
    if action is ActionType.RELEASE and amount is not None:
        amount = min(amount, present)
    if present == 0 or (amount is not None and amount > present):
        raise _insufficient(bucket, present, amount, asset)
    if action is ActionType.FORFEIT:
        changes = consume(candidates, amount)
    elif action is ActionType.RELEASE:
        changes = release(candidates, amount, overdraft=max(-available, Decimal(0)))
    else:
        target = LotStatus.HELD if action is ActionType.HOLD else LotStatus.AVAILABLE
        changes = move(candidates, amount, target, reference)
    return Movement(_legs(action, account, bucket, changes.moved), changes.moved, changes)


def _operation_attempt(
    caller: Caller,
    owner: BalanceOwner,
    action: ActionType,
    *,
    program_id: str,
    asset_id: str,
    description: str,
    amount: Decimal | None,
    bucket: Bucket | None,
    filters: LotFilters | None,
    origin: Origin | None,
) -> tuple[Program, Callable[[], tuple[Plan, BalanceOperationResult]]]:
    """Check a hold, release, forfeit or void hold, and return its re-plannable attempt."""
    exempt = action in (ActionType.FORFEIT, ActionType.VOID_HOLD)  # allowed on inactive programs and owners
    program, asset = load_context(caller, program_id, asset_id, require_active_program=not exempt)
    require_balance_owner(caller, owner, financial=not exempt)
    if amount is not None:
        checked_amount(amount, asset)
    lot_filters = filters or LotFilters()
    _refuse_lot_fields(asset, lot_filters)
    if action is ActionType.VOID_HOLD and asset.inventory_mode is not InventoryMode.LOT:
        raise ValidationFailed("void hold applies to LOT-mode assets only", field="asset_id", reason="lot_only")
    account = owner.account(program.id)
    source_bucket = (
        bucket if action is ActionType.FORFEIT and bucket is not None else _SOURCE.get(action, Bucket.AVAILABLE)
    )
    reference = lot_filters.reference_id
    if action is ActionType.HOLD:
        # A hold stamps its lots with the reference; release and void hold select by it.
        lot_filters = replace(lot_filters, reference_id=None)

    def build(balance: Balance, lots: list[Lot]) -> Movement:
        if asset.inventory_mode is InventoryMode.LOT:
            return _lot_movement(
                action,
                account,
                lots,
                amount,
                source_bucket,
                lot_filters,
                asset,
                issuance_source(asset, program),
                reference,
                balance.available,
            )
        return _simple_movement(action, account, balance, amount, source_bucket, asset)

    execute = _execute(
        caller, program, asset, account, action, description, build, reference_id=reference, origin=origin
    )

    def attempt() -> tuple[Plan, BalanceOperationResult]:
        planned, movement = execute()
        lots = movement.lots
        result = BalanceOperationResult(
            operation=action,
            amount_processed=movement.moved,
            asset=asset,
            program=program,
            reference_id=planned.entry.reference_id,
            journal_entry_id=planned.entry.id,
            balance=planned.balances[account],
            lots_processed=None if lots is None else tuple(ProcessedLot(i, taken) for i, taken in lots.processed),
        )
        return planned, result

    return program, attempt


def balance_operation(
    caller: Caller,
    owner: BalanceOwner,
    action: ActionType,
    *,
    program_id: str,
    asset_id: str,
    description: str,
    amount: Decimal | None = None,
    bucket: Bucket | None = None,
    filters: LotFilters | None = None,
    origin: Origin | None = None,
) -> BalanceOperationResult:
    """Hold, release, forfeit or void hold (04 §5.2-5.6) without an idempotency key."""
    _, attempt = _operation_attempt(
        caller,
        owner,
        action,
        program_id=program_id,
        asset_id=asset_id,
        description=description,
        amount=amount,
        bucket=bucket,
        filters=filters,
        origin=origin,
    )
    return _commit(attempt)[1]


def idempotent_balance_operation(
    caller: Caller,
    owner: BalanceOwner,
    action: ActionType,
    *,
    idempotency_key: str | None,
    request: Mapping[str, Any],
    render: Callable[[BalanceOperationResult], StoredResponse],
    program_id: str,
    asset_id: str,
    description: str,
    amount: Decimal | None = None,
    bucket: Bucket | None = None,
    filters: LotFilters | None = None,
) -> IdempotentAnswer:
    """Hold, release, forfeit or void hold as a request asked it, with its optional key.

    ``render`` makes the response; with a key, that response commits in the key's record,
    and the same key with the same ``request`` answers it again without executing.
    """
    program, attempt = _operation_attempt(
        caller,
        owner,
        action,
        program_id=program_id,
        asset_id=asset_id,
        description=description,
        amount=amount,
        bucket=bucket,
        filters=filters,
        origin=None,
    )
    if idempotency_key is None:
        return IdempotentAnswer(render(_commit(attempt)[1]), replayed=False)

    scope = IdempotencyScope(caller.organization_id, program.id, _FAMILIES[action], idempotency_key)
    digest = fingerprint({"owner": owner.id, "owner_type": owner.entity_type.value, **request})

    def prepare_writes() -> tuple[list[transactions.Write], StoredResponse]:
        planned, result = attempt()
        return planned.writes, render(result)

    return retry_on_stale(lambda: idempotency.run_once(scope, digest, prepare_writes), BALANCE_RETRY)


# -------------------------------------------------------------- wallets


def fund_or_burn(
    caller: Caller, program_id: str, asset_id: str, *, burn: bool, amount: Decimal, description: str | None
) -> WalletResult:
    """Move value into (fund) or out of (burn) a PREFUNDED program wallet (04 §5.7)."""
    program, asset = load_context(caller, program_id, asset_id)
    checked_amount(amount, asset)
    wallet = wallet_account(program.id)
    if asset.issuance_policy is IssuancePolicy.UNLIMITED:
        # Decision 18: a 200 no-op, no journal entry, no webhook.
        return WalletResult(None, amount, Balance(), asset, program)
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
    return WalletResult(committed.entry.id, amount, committed.balances[wallet], asset, program)
