"""Rewards catalog (05 §1): the reward, its validation rules and its status machine.

The status a client sets (``DRAFT``, ``ACTIVE``, ``ARCHIVED``) is stored; ``OUT_OF_STOCK`` is
derived from the inventory (§1.2): an ``ACTIVE`` reward whose ``redeemed_count`` has reached its
``max_total`` *is* out of stock, and is ``ACTIVE`` again the moment a reversal gives a unit back
or a PATCH raises or clears the cap. Deriving it means no redemption has to rewrite the reward
(and its list entries) to flip a status, and the status can never disagree with the counter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from scrip.domain.amounts import check_scale, require_positive
from scrip.domain.errors import ValidationFailed


class RewardStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    ARCHIVED = "ARCHIVED"


class RedemptionType(StrEnum):
    UNIT_BASED = "UNIT_BASED"
    AMOUNT_BASED = "AMOUNT_BASED"


IMMUTABLE_FIELDS = ("redemption_type", "asset_id")
_CAPS = ("max_total", "max_per_participant")


def stored_status(requested: RewardStatus) -> RewardStatus:
    """What is stored for a status a client sends: ``OUT_OF_STOCK`` is the system's to show, so
    sending it means "redeemable while stock remains", i.e. ``ACTIVE`` [inferred]."""
    return RewardStatus.ACTIVE if requested is RewardStatus.OUT_OF_STOCK else requested


def effective_status(stored: RewardStatus, max_total: int | None, redeemed_count: int) -> RewardStatus:
    """The status the API shows (§1.2): automatic moves touch only ``ACTIVE`` rewards."""
    if stored is RewardStatus.ACTIVE and max_total is not None and redeemed_count >= max_total:
        return RewardStatus.OUT_OF_STOCK
    return stored


@dataclass(frozen=True)
class Reward:
    """A catalog item; ``status`` is the stored (client) status, see ``effective_status``."""

    organization_id: str
    program_id: str
    id: str
    name: str
    description: str | None
    category: str | None
    redemption_type: RedemptionType
    asset_id: str
    asset_scale: int  # the asset's scale (fixed per asset): unit_cost is checked and rendered with it
    unit_cost: Decimal
    max_total: int | None
    max_per_participant: int | None
    status: RewardStatus
    available_from: datetime | None
    available_until: datetime | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True)
class RewardView:
    """A reward with its inventory as read: what the API renders."""

    reward: Reward
    redeemed_count: int

    @property
    def status(self) -> RewardStatus:
        return effective_status(self.reward.status, self.reward.max_total, self.redeemed_count)


def _check(reward: Reward) -> Reward:
    """The rules of §1.1 that span fields, checked on the reward as it will be stored."""
    require_positive(reward.unit_cost, field="unit_cost")
    check_scale(reward.unit_cost, reward.asset_scale, field="unit_cost")
    if reward.redemption_type is RedemptionType.AMOUNT_BASED:
        for cap in _CAPS:
            if getattr(reward, cap) is not None:
                raise ValidationFailed(f"{cap} applies only to UNIT_BASED rewards", field=cap, reason="not_allowed")
    if (
        reward.available_from is not None
        and reward.available_until is not None
        and reward.available_until < reward.available_from
    ):
        raise ValidationFailed(
            "available_until must not be before available_from", field="available_until", reason="before_start"
        )
    return reward


def new_reward(
    *,
    organization_id: str,
    program_id: str,
    reward_id: str,
    scale: int,
    now: datetime,
    name: str,
    redemption_type: RedemptionType,
    asset_id: str,
    unit_cost: Decimal,
    status: RewardStatus,
    description: str | None = None,
    category: str | None = None,
    max_total: int | None = None,
    max_per_participant: int | None = None,
    available_from: datetime | None = None,
    available_until: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Reward:
    reward = Reward(
        organization_id=organization_id,
        program_id=program_id,
        id=reward_id,
        name=name,
        description=description,
        category=category,
        redemption_type=redemption_type,
        asset_id=asset_id,
        asset_scale=scale,
        unit_cost=unit_cost,
        max_total=max_total,
        max_per_participant=max_per_participant,
        status=stored_status(status),
        available_from=available_from,
        available_until=available_until,
        metadata=dict(metadata or {}),
        created_at=now,
        updated_at=now,
    )
    return _check(reward)


_UPDATABLE = (
    "name",
    "description",
    "category",
    "unit_cost",
    "max_total",
    "max_per_participant",
    "available_from",
    "available_until",
    "metadata",
)


def apply_update(reward: Reward, changes: dict[str, Any], now: datetime) -> Reward:
    """Merge a PATCH body (only the fields present; null clears a nullable field) into ``reward``.

    ``redemption_type`` and ``asset_id`` are immutable: a body naming either is refused whatever
    its value [inferred, §1.1]. ``metadata`` is replaced wholesale. Returns ``reward`` itself when
    nothing changes.
    """
    for field in IMMUTABLE_FIELDS:
        if field in changes:
            raise ValidationFailed(f"{field} cannot be changed after creation", field=field, reason="immutable")
    updated = reward
    for field in _UPDATABLE:
        if field in changes:
            updated = replace(updated, **{field: changes[field]})
    if changes.get("status") is not None:
        updated = replace(updated, status=stored_status(RewardStatus(changes["status"])))
    if updated == reward:
        return reward
    return replace(_check(updated), updated_at=now)
