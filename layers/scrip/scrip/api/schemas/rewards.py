"""Rewards catalog schemas (05 §1)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator
from pydantic.types import StrictInt

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel, Rfc3339
from scrip.domain.amounts import format_amount
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.rewards import RedemptionType, RewardStatus, RewardView

MAX_METADATA_BYTES = 8192

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=1000)]
Category = Annotated[str, StringConstraints(max_length=100)]
Cap = Annotated[StrictInt, Field(ge=1)]


_STATUS_TEXT = (
    "DRAFT, ACTIVE or ARCHIVED. OUT_OF_STOCK is the system's [inferred]: it is shown while a capped "
    "reward's redeemed_count is at or above max_total, and sending it means ACTIVE (redeemable whenever "
    "stock remains)."
)
_CAP_TEXT = "UNIT_BASED only (a non-null value on AMOUNT_BASED is 400 validation_error); at least 1; null = unlimited."
_METADATA_TEXT = (
    f"Any JSON object, replaced wholesale on update; at most {MAX_METADATA_BYTES} bytes as JSON [inferred]."
)


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    # Bounded so that the reward and its two list copies stay far below DynamoDB's 400 KB.
    if len(json.dumps(value, separators=(",", ":"), allow_nan=False)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


class RewardCreate(RequestModel):
    name: Name = Field(description="Unique within the program, ignoring case [inferred]; a duplicate is 409 conflict.")
    description: Description | None = None
    category: Category | None = None
    redemption_type: RedemptionType = Field(description="Immutable.")
    asset_id: UUID = Field(description="Immutable; must be linked to the program (else 422 asset_not_linked).")
    unit_cost: DecimalString = Field(
        description="> 0, within the asset's scale (else 400 invalid_scale). UNIT_BASED: price per unit; "
        "AMOUNT_BASED: minimum redeemable amount."
    )
    max_total: Cap | None = Field(default=None, description=f"Global inventory cap (units). {_CAP_TEXT}")
    max_per_participant: Cap | None = Field(default=None, description=f"Per-participant cap (units). {_CAP_TEXT}")
    status: RewardStatus = Field(description=_STATUS_TEXT)
    available_from: Rfc3339 | None = Field(default=None, description="Start of the redemption window; null = none.")
    available_until: Rfc3339 | None = Field(
        default=None, description="End of the redemption window; null = none; not before available_from (else 400)."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description=_METADATA_TEXT)

    _metadata = field_validator("metadata")(_bounded_metadata)


class RewardUpdate(RequestModel):
    """Partial update: only the fields sent change; nullable fields take null to clear."""

    name: Name = None  # type: ignore[assignment]  # absent ≠ null: null is rejected
    description: Description | None = None
    category: Category | None = None
    unit_cost: DecimalString = None  # type: ignore[assignment]
    max_total: Cap | None = Field(
        default=None,
        description=f"{_CAP_TEXT} Lowering it to redeemed_count or below shows OUT_OF_STOCK; raising or "
        "clearing it shows ACTIVE again (§1.2).",
    )
    max_per_participant: Cap | None = Field(default=None, description=_CAP_TEXT)
    status: RewardStatus = Field(default=None, description=_STATUS_TEXT)  # type: ignore[assignment]
    available_from: Rfc3339 | None = None
    available_until: Rfc3339 | None = None
    metadata: dict[str, Any] = Field(default=None, description=_METADATA_TEXT)  # type: ignore[arg-type]
    redemption_type: Any = Field(default=None, description="Immutable: sending it is 400 validation_error.")
    asset_id: Any = Field(default=None, description="Immutable: sending it is 400 validation_error.")

    _metadata = field_validator("metadata")(_bounded_metadata)


class RewardResponse(ApiModel):
    id: str
    program_id: str
    name: str
    description: str | None
    category: str | None
    redemption_type: RedemptionType
    asset_id: str
    unit_cost: str = Field(description="Decimal string with the asset's scale")
    max_total: int | None
    max_per_participant: int | None
    redeemed_count: int = Field(description="Units redeemed, net of reversals")
    status: RewardStatus
    available_from: str | None
    available_until: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, view: RewardView) -> RewardResponse:
        reward = view.reward
        return cls(
            id=reward.id,
            program_id=reward.program_id,
            name=reward.name,
            description=reward.description,
            category=reward.category,
            redemption_type=reward.redemption_type,
            asset_id=reward.asset_id,
            unit_cost=format_amount(reward.unit_cost, reward.asset_scale),
            max_total=reward.max_total,
            max_per_participant=reward.max_per_participant,
            redeemed_count=view.redeemed_count,
            status=view.status,
            available_from=to_rfc3339_or_none(reward.available_from),
            available_until=to_rfc3339_or_none(reward.available_until),
            metadata=reward.metadata,
            created_at=to_rfc3339(reward.created_at),
            updated_at=to_rfc3339(reward.updated_at),
        )


SortBy = Literal["created_at", "name"]
SortDir = Literal["asc", "desc"]
