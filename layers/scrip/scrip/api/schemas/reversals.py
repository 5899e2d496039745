"""Redemption reversal schemas (05 §2.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, StrictInt

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel
from scrip.api.schemas.ledger import Description, IdempotencyKey

if TYPE_CHECKING:
    from scrip.domain.reversals import Reversal


class ReversalRequest(RequestModel):
    """A full or partial reversal (05 §2.9.2); neither amount nor quantity: whatever remains."""

    reason: Description = Field(
        description="1-500 characters: why the value goes back (kept for disputes and audits); also the journal "
        "entry's description [inferred]"
    )
    amount: DecimalString | None = Field(
        default=None,
        description="Raw and AMOUNT_BASED redemptions only: the part to reverse, positive, at most the asset's scale "
        "(else 400 invalid_scale). A UNIT_BASED redemption, or amount together with quantity: 400. More than "
        "amount - reversed_amount: 422 reversal_exceeds_remaining",
    )
    quantity: StrictInt | None = Field(
        default=None,
        description="UNIT_BASED catalog redemptions only: units to reverse, at least 1; they return quantity x "
        "the unit_cost stored on the redemption (the last units return exactly what remains). Another kind: 400. "
        "More than quantity - reversed_quantity: 422 reversal_exceeds_remaining",
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="Scoped to the redemption's program [inferred]. The same key and payload answers 200 with the "
        "original reversal, before the bounds are checked again; another payload is 409 idempotency_conflict",
    )


class ReversalResponse(ApiModel):
    """The Reversal resource (05 §2.9.1)."""

    id: str
    redemption_id: str
    amount: str = Field(description="Credited back to the participant, at the asset's scale")
    quantity: int | None = Field(description="Units reversed; UNIT_BASED catalog redemptions only")
    reason: str
    journal_entry_id: str = Field(description="The REDEMPTION_REVERSAL journal entry that moved the value")
    created_at: str

    @classmethod
    def of(cls, reversal: Reversal) -> ReversalResponse:
        from scrip.services.reversals import resource

        return cls.model_validate(resource(reversal))
