"""Redemptions (05 §2): the resource, its captured target and the lots it consumed.

A redemption debits a participant's AVAILABLE balance and credits the program's redemption
target as it was when the redemption was made (05 §2.1): the target is captured here, so a
later change of the program's target never moves value of an existing redemption or of its
reversals. The record also keeps what a reversal (05 §2.9) needs to be exact: the lots the
debit consumed with the amount taken from each (restored LIFO), and the cumulative reversed
amount and quantity that bound further reversals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from scrip.domain.ledger import (
    Account,
    EntityType,
    SystemAccount,
    group_account,
    participant_account,
    system_account,
)
from scrip.domain.programs import Program, RedemptionTargetType


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
