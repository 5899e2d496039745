"""Redemption schemas (05 §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from uuid import UUID

from pydantic import Field

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
