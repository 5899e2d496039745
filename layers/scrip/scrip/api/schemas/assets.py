"""Asset schemas (01-platform §7)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt, StringConstraints

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel
from scrip.domain.amounts import MAX_SCALE, format_amount
from scrip.domain.assets import Asset, AssetStatus, InventoryMode, IssuancePolicy
from scrip.domain.clock import to_rfc3339

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+$")]


class AssetCreate(RequestModel):
    program_id: UUID = Field(description="Program the asset is linked to at creation")
    name: Name
    symbol: Symbol = Field(description="Unique per organization, compared case-insensitively; stored as given")
    inventory_mode: InventoryMode
    issuance_policy: IssuancePolicy
    scale: Annotated[StrictInt, Field(ge=0, le=MAX_SCALE)]
    max_transaction_amount: DecimalString | None = Field(
        default=None, description="Positive, at most `scale` decimals (else 400 invalid_scale)"
    )


class AssetUpdate(RequestModel):
    """Only these fields change; `symbol`, `inventory_mode`, `issuance_policy` and `scale` are immutable and ignored."""

    name: Name = None  # type: ignore[assignment]  # absent ≠ null: null is rejected
    status: AssetStatus = Field(default=None, description="Only ARCHIVED: archiving is permanent")  # type: ignore[assignment]
    max_transaction_amount: DecimalString | None = Field(default=None, description="A string sets it, null clears it")


class AssetLink(RequestModel):
    asset_id: UUID


class AssetResponse(ApiModel):
    id: str
    name: str
    symbol: str
    inventory_mode: InventoryMode
    issuance_policy: IssuancePolicy
    scale: int
    max_transaction_amount: str | None
    status: AssetStatus
    program_ids: list[str]
    created_at: str
    updated_at: str
    deleted_at: str | None

    @classmethod
    def of(cls, asset: Asset) -> AssetResponse:
        limit = asset.max_transaction_amount
        return cls(
            id=asset.id,
            name=asset.name,
            symbol=asset.symbol,
            inventory_mode=asset.inventory_mode,
            issuance_policy=asset.issuance_policy,
            scale=asset.scale,
            max_transaction_amount=format_amount(limit, asset.scale) if limit is not None else None,
            status=asset.status,
            program_ids=list(asset.program_ids),
            created_at=to_rfc3339(asset.created_at),
            updated_at=to_rfc3339(asset.updated_at),
            deleted_at=to_rfc3339(asset.deleted_at) if asset.deleted_at else None,
        )
