"""Redemptions (05 §2): the resource, its captured target and the lots it consumed.

A redemption debits a participant's AVAILABLE balance and credits the program's redemption
target as it was when the redemption was made (05 §2.1): the target is captured here, so a
later change of the program's target never moves value of an existing redemption or of its
reversals. The record also keeps what a reversal (05 §2.9) needs to be exact: the lots the
debit consumed with the amount taken from each (restored LIFO), and the cumulative reversed
amount and quantity that bound further reversals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from scrip.domain.amounts import format_amount
from scrip.domain.errors import UnprocessableError, ValidationFailed
from scrip.domain.ledger import (
    Account,
    EntityType,
    SystemAccount,
    group_account,
    participant_account,
    system_account,
)
from scrip.domain.programs import Program, RedemptionTargetType
from scrip.domain.rewards import RedemptionType, Reward, RewardStatus, RewardView


class RedemptionStatus(StrEnum):
    COMPLETED = "COMPLETED"
    PARTIALLY_REVERSED = "PARTIALLY_REVERSED"
    FULLY_REVERSED = "FULLY_REVERSED"


class RedemptionKind(StrEnum):
    """The reward's ``redemption_type`` at redemption time, or ``RAW`` for an amount redemption."""

    RAW = "RAW"
    UNIT_BASED = "UNIT_BASED"
    AMOUNT_BASED = "AMOUNT_BASED"


@dataclass(frozen=True)
class RedemptionTarget:
    """Where the redeemed value went: a system account, or a participant's or group's AVAILABLE
    (decision 17: a ``LEDGER_ENTITY`` names an existing participant or group)."""

    type: RedemptionTargetType
    entity_id: str | None = None
    entity_type: EntityType | None = None  # PARTICIPANT or GROUP, for LEDGER_ENTITY only

    def account(self, program_id: str) -> Account:
        if self.type is RedemptionTargetType.SYSTEM_BREAKAGE:
            return system_account(SystemAccount.SYSTEM_BREAKAGE)
        if self.type is RedemptionTargetType.LEDGER_ENTITY:
            assert self.entity_id is not None
            if self.entity_type is EntityType.GROUP:
                # A group's balances are per program: the redemption's program (02 §3.6.10).
                return group_account(self.entity_id, program_id)
            return participant_account(self.entity_id)
        return system_account(SystemAccount.SYSTEM_REDEMPTION)


def target_of(program: Program, entity_type: EntityType | None = None) -> RedemptionTarget:
    """The program's current target, as a redemption captures it; ``entity_type`` is what the
    entity was found to be when the program does not say (a target stored without its type)."""
    if program.redemption_target_type is RedemptionTargetType.LEDGER_ENTITY:
        found = program.redemption_target_entity_type or entity_type
        return RedemptionTarget(program.redemption_target_type, program.redemption_target_entity_id, found)
    return RedemptionTarget(program.redemption_target_type)


@dataclass(frozen=True)
class ConsumedLot:
    """What the redemption took from one lot; ``created_at`` with the id locates the lot again."""

    lot_id: str
    created_at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Redemption:
    organization_id: str
    id: str
    participant_id: str
    program_id: str
    asset_id: str
    scale: int  # the asset's, to render amounts without reading the asset
    kind: RedemptionKind
    amount: Decimal
    description: str
    journal_entry_id: str
    target: RedemptionTarget
    consumed_lots: tuple[ConsumedLot, ...]  # FIFO order; empty for a SIMPLE-mode asset
    reward_id: str | None
    quantity: int | None
    unit_cost: Decimal | None
    reversed_amount: Decimal
    reversed_quantity: int | None
    status: RedemptionStatus
    idempotency_key: str | None
    request_fingerprint: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def remaining_amount(self) -> Decimal:
        return self.amount - self.reversed_amount


def status_for(amount: Decimal, reversed_amount: Decimal) -> RedemptionStatus:
    """05 §2.2: nothing reversed, some, or all (amount and quantity are reversed together)."""
    if reversed_amount <= 0:
        return RedemptionStatus.COMPLETED
    if reversed_amount >= amount:
        return RedemptionStatus.FULLY_REVERSED
    return RedemptionStatus.PARTIALLY_REVERSED


def new_raw_redemption(
    *,
    organization_id: str,
    redemption_id: str,
    participant_id: str,
    program_id: str,
    asset_id: str,
    scale: int,
    amount: Decimal,
    description: str,
    journal_entry_id: str,
    target: RedemptionTarget,
    consumed_lots: tuple[ConsumedLot, ...],
    idempotency_key: str | None,
    request_fingerprint: str | None,
    now: datetime,
) -> Redemption:
    """An amount redemption (05 §2.5): no reward, quantity or unit cost."""
    return Redemption(
        organization_id=organization_id,
        id=redemption_id,
        participant_id=participant_id,
        program_id=program_id,
        asset_id=asset_id,
        scale=scale,
        kind=RedemptionKind.RAW,
        amount=amount,
        description=description,
        journal_entry_id=journal_entry_id,
        target=target,
        consumed_lots=consumed_lots,
        reward_id=None,
        quantity=None,
        unit_cost=None,
        reversed_amount=Decimal(0),
        reversed_quantity=None,
        status=RedemptionStatus.COMPLETED,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True)
class CatalogTerms:
    """What a catalog item redemption (05 §2.6) takes: its cost, and what the record keeps."""

    reward_id: str
    kind: RedemptionKind
    amount: Decimal  # debited: quantity x unit_cost (UNIT_BASED), the requested amount (AMOUNT_BASED)
    quantity: int | None  # UNIT_BASED only
    unit_cost: Decimal  # the reward's unit_cost now (AMOUNT_BASED: its minimum)


def require_redeemable(view: RewardView, now: datetime) -> None:
    """05 §2.6 steps 3-4: the reward is ``ACTIVE`` (as shown, so a sold-out one is refused as
    such) and ``now`` lies inside its availability window, both bounds inclusive [inferred]."""
    reward = view.reward
    status = view.status
    if status is RewardStatus.OUT_OF_STOCK:
        raise UnprocessableError(
            "reward_out_of_stock", f"reward {reward.id} is out of stock", details={"reward_id": reward.id}
        )
    if status is not RewardStatus.ACTIVE:
        raise UnprocessableError(
            "reward_not_available",
            f"reward {reward.id} is {status.value}, not ACTIVE",
            details={"reward_id": reward.id, "status": status.value},
        )
    if (reward.available_from is not None and now < reward.available_from) or (
        reward.available_until is not None and now > reward.available_until
    ):
        raise UnprocessableError(
            "reward_not_available",
            f"reward {reward.id} is not available at this time",
            details={"reward_id": reward.id, "reason": "outside_availability_window"},
        )


def catalog_terms(reward: Reward, *, quantity: int | None, amount: Decimal | None) -> CatalogTerms:
    """05 §2.6 steps 5 and 7: the input the reward's type allows, and the cost.

    The amount's own checks (scale, the asset's ceiling) are the caller's, as for any amount;
    ``amount_below_minimum`` is checked after the scale, so a malformed amount answers 400 first.
    """
    if reward.redemption_type is RedemptionType.UNIT_BASED:
        if amount is not None:
            raise ValidationFailed(
                "amount is not accepted for a UNIT_BASED reward", field="amount", reason="not_allowed"
            )
        units = 1 if quantity is None else quantity
        return CatalogTerms(reward.id, RedemptionKind.UNIT_BASED, units * reward.unit_cost, units, reward.unit_cost)
    if quantity is not None:
        raise ValidationFailed(
            "quantity is not accepted for an AMOUNT_BASED reward", field="quantity", reason="not_allowed"
        )
    if amount is None:
        raise ValidationFailed("amount is required for an AMOUNT_BASED reward", field="amount", reason="required")
    return CatalogTerms(reward.id, RedemptionKind.AMOUNT_BASED, amount, None, reward.unit_cost)


def require_minimum(terms: CatalogTerms, scale: int) -> None:
    """An AMOUNT_BASED redemption takes at least the reward's ``unit_cost`` (05 §2.6 step 5)."""
    if terms.kind is RedemptionKind.AMOUNT_BASED and terms.amount < terms.unit_cost:
        minimum = format_amount(terms.unit_cost, scale)
        raise UnprocessableError(
            "amount_below_minimum",
            f"amount is below the reward's minimum of {minimum}",
            details={"minimum": minimum, "requested": format_amount(terms.amount, scale)},
        )


def with_catalog_terms(redemption: Redemption, terms: CatalogTerms) -> Redemption:
    """An item redemption: the raw record with the reward, its type, quantity and unit cost;
    ``reversed_quantity`` starts at 0 where a quantity is tracked (05 §2.2)."""
    return replace(
        redemption,
        kind=terms.kind,
        reward_id=terms.reward_id,
        quantity=terms.quantity,
        unit_cost=terms.unit_cost,
        reversed_quantity=0 if terms.quantity is not None else None,
    )


def require_within_caps(reward: Reward, *, redeemed_count: int, held: int, quantity: int) -> None:
    """05 §2.6 step 6, on the counts as read (the inventory writes re-check them atomically):
    ``max_total`` against every unit redeemed, ``max_per_participant`` against the units this
    participant holds (redeemed, net of reversals)."""
    if reward.max_total is not None and redeemed_count + quantity > reward.max_total:
        raise UnprocessableError(
            "inventory_exceeded",
            f"reward {reward.id} has {max(reward.max_total - redeemed_count, 0)} units left, {quantity} requested",
            details={"remaining": max(reward.max_total - redeemed_count, 0), "requested": quantity},
        )
    cap = reward.max_per_participant
    if cap is not None and held + quantity > cap:
        raise UnprocessableError(
            "participant_limit_exceeded",
            f"the participant holds {held} units of reward {reward.id}, at most {cap} allowed",
            details={"max_per_participant": cap, "held": held, "requested": quantity},
        )
