"""Redemption schemas (05 §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from pydantic import Field, StrictInt

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel
from scrip.api.schemas.ledger import Description, IdempotencyKey

if TYPE_CHECKING:
    # Annotations only: the handler module that renders imports the service anyway.
    from scrip.domain.redemptions import Redemption


class AmountRedemptionRequest(RequestModel):
    """An amount (raw) redemption (05 §2.5)."""

    program_id: UUID = Field(description="The program the redemption runs through; it must be ACTIVE")
    asset_id: UUID = Field(description="Linked to the program; its AVAILABLE balance is debited")
    amount: DecimalString = Field(
        description="Positive; at most the asset's scale decimals (else 400 invalid_scale); at most the asset's "
        "max_transaction_amount (else 422 max_transaction_amount_exceeded)"
    )
    description: Description = Field(description="1-500 characters; also the journal entry's description")
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="Scoped to program_id. The same key and payload answers 200 with the original redemption, "
        "before any precondition is checked again; another payload is 409 idempotency_conflict",
    )


class ItemRedemptionRequest(RequestModel):
    """A catalog item redemption (05 §2.6)."""

    program_id: UUID = Field(description="The program the redemption runs through; it must be ACTIVE")
    reward_id: UUID = Field(description="The catalog item; a reward of another program is 404 not_found")
    quantity: Annotated[StrictInt, Field(ge=1)] | None = Field(
        default=None,
        description="Units to redeem, UNIT_BASED rewards only; default 1. Sent for an AMOUNT_BASED reward: 400 "
        "validation_error [inferred]",
    )
    amount: DecimalString | None = Field(
        default=None,
        description="AMOUNT_BASED rewards only, and required for them (else 400 validation_error); at least the "
        "reward's unit_cost (else 422 amount_below_minimum), at most the asset's scale decimals (400 invalid_scale). "
        "Sent for a UNIT_BASED reward, whose amount is quantity x unit_cost: 400 validation_error [inferred]",
    )
    description: Description | None = Field(
        default=None,
        description="1-500 characters when present; the journal entry's description. Default \"Redeemed: <reward "
        'name>" [inferred]',
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="Scoped to program_id, shared with amount redemptions. The same key and payload answers 200 with "
        "the original redemption, before any precondition is checked again; another payload (or an amount "
        "redemption's key) is 409 idempotency_conflict",
    )


class RedemptionResponse(ApiModel):
    """The Redemption resource (05 §2.2)."""

    id: str
    participant_id: str
    program_id: str
    asset_id: str
    amount: str = Field(description="Total debited from the participant, at the asset's scale")
    description: str
    journal_entry_id: str = Field(description="The REDEMPTION journal entry that moved the value")
    reward_id: str | None = Field(description="The catalog item; null for an amount redemption")
    quantity: int | None = Field(description="Units redeemed; UNIT_BASED catalog redemptions only")
    unit_cost: str | None = Field(description="Per-unit cost captured at redemption time; catalog redemptions only")
    reversed_amount: str = Field(description="Cumulative amount reversed so far")
    reversed_quantity: int | None = Field(description="Cumulative units reversed; UNIT_BASED catalog redemptions only")
    status: Literal["COMPLETED", "PARTIALLY_REVERSED", "FULLY_REVERSED"]
    created_at: str
    updated_at: str = Field(description="Changes when a reversal is applied")

    @classmethod
    def of(cls, redemption: Redemption) -> RedemptionResponse:
        from scrip.services.redemptions import resource

        return cls.model_validate(resource(redemption))
