"""Assets (01-platform §7): units of value and the settings fixed at creation."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from scrip.domain.amounts import check_scale, require_positive
from scrip.domain.errors import AssetArchived, Conflict, ValidationFailed

SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9]{1,16}$")


class InventoryMode(StrEnum):
    SIMPLE = "SIMPLE"
    LOT = "LOT"


class IssuancePolicy(StrEnum):
    UNLIMITED = "UNLIMITED"
    PREFUNDED = "PREFUNDED"


class AssetStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


@dataclass(frozen=True)
class Asset:
    organization_id: str
    id: str
    name: str
    symbol: str
    inventory_mode: InventoryMode
    issuance_policy: IssuancePolicy
    scale: int
    max_transaction_amount: Decimal | None
    status: AssetStatus
    program_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int = 1
    # Programs that have posted a journal entry in this asset: a link in this set is permanent
    # (01 §6.9.7). Grows only, written by the first posting of each program (services.posting).
    posted_program_ids: frozenset[str] = frozenset()

    def require_active(self) -> None:
        if self.status is AssetStatus.ARCHIVED:
            raise AssetArchived(self.id)


def symbol_key(symbol: str) -> str:
    """Symbols are unique per organization regardless of case; stored as given."""
    return symbol.upper()


def checked_max_transaction_amount(value: Decimal | None, scale: int) -> Decimal | None:
    if value is None:
        return None
    require_positive(value, field="max_transaction_amount")
    return check_scale(value, scale, field="max_transaction_amount")


def new_asset(
    *,
    organization_id: str,
    asset_id: str,
    program_id: str,
    name: str,
    symbol: str,
    inventory_mode: InventoryMode,
    issuance_policy: IssuancePolicy,
    scale: int,
    max_transaction_amount: Decimal | None,
    now: datetime,
) -> Asset:
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValidationFailed(
            "symbol must be 1-16 letters or digits",
            field="symbol",
            reason="pattern",
            expected="[A-Za-z0-9]{1,16}",
            received=symbol,
        )
    return Asset(
        organization_id=organization_id,
        id=asset_id,
        name=name,
        symbol=symbol,
        inventory_mode=inventory_mode,
        issuance_policy=issuance_policy,
        scale=scale,
        max_transaction_amount=checked_max_transaction_amount(max_transaction_amount, scale),
        status=AssetStatus.ACTIVE,
        program_ids=(program_id,),
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )


def apply_update(asset: Asset, changes: dict[str, Any], now: datetime) -> Asset:
    """Merge a PATCH body: only ``name``, ``status`` (``ARCHIVED`` only) and
    ``max_transaction_amount`` (``null`` clears) change; everything else is immutable (§7.3)."""
    updated = asset
    if "name" in changes:
        updated = replace(updated, name=changes["name"])
    if "max_transaction_amount" in changes:
        updated = replace(
            updated,
            max_transaction_amount=checked_max_transaction_amount(changes["max_transaction_amount"], asset.scale),
        )
    if "status" in changes:
        if changes["status"] != AssetStatus.ARCHIVED.value:
            raise ValidationFailed(
                "status accepts only ARCHIVED: archiving an asset is permanent",
                field="status",
                reason="enum",
                expected="ARCHIVED",
                received=changes["status"],
            )
        if asset.status is not AssetStatus.ARCHIVED:
            updated = replace(updated, status=AssetStatus.ARCHIVED, deleted_at=now)
    if updated == asset:
        return asset
    return replace(updated, updated_at=now)


def with_program_linked(asset: Asset, program_id: str, now: datetime) -> Asset:
    return replace(asset, program_ids=(*asset.program_ids, program_id), updated_at=now)


def with_program_unlinked(asset: Asset, program_id: str, now: datetime) -> Asset:
    """``asset`` without its link to ``program_id`` (01 §6.9.7), which it must have.

    [inferred] The last link stays: an asset is created in a program and is usable only
    through one, so an asset linked nowhere could never be credited or redeemed again. To move
    an asset, link the new program first; to retire it, archive it.
    """
    if asset.program_ids == (program_id,):
        raise Conflict(
            f"program {program_id} is the only program of asset {asset.id}; link another program first",
            details={"reason": "last_program"},
        )
    return replace(asset, program_ids=tuple(p for p in asset.program_ids if p != program_id), updated_at=now)
