"""Rewards catalog use cases (05 §1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scrip.domain import clock, ids
from scrip.domain import rewards as reward_rules
from scrip.domain.assets import Asset
from scrip.domain.errors import UnprocessableError
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.rewards import RewardStatus, RewardView
from scrip.services.common import retry_on_stale
from scrip.storage import assets as asset_store
from scrip.storage import programs as program_store
from scrip.storage import rewards as reward_store


def _linked_asset(org_id: str, program_id: str, asset_id: str) -> Asset:
    """The asset the price is in: an unknown asset is as unlinked as another program's (422)."""
    asset = asset_store.get(org_id, asset_id)
    if asset is None or program_id not in asset.program_ids:
        raise UnprocessableError("asset_not_linked", f"asset {asset_id} is not linked to program {program_id}")
    return asset


def create_reward(caller: Caller, program_id: str, fields: dict[str, Any]) -> RewardView:
    org_id = caller.organization_id
    program_store.require(org_id, program_id)  # 404 before the body's business rules
    asset = _linked_asset(org_id, program_id, str(fields["asset_id"]))
    reward = reward_rules.new_reward(
        organization_id=org_id,
        program_id=program_id,
        reward_id=ids.new_id(),
        scale=asset.scale,
        now=clock.now(),
        **{**fields, "asset_id": asset.id},
    )
    reward_store.create(reward)  # the program's existence is checked again in the transaction
    return RewardView(reward, 0)


def get_reward(caller: Caller, program_id: str, reward_id: str) -> RewardView:
    return reward_store.require(caller.organization_id, program_id, reward_id)


def update_reward(caller: Caller, program_id: str, reward_id: str, changes: dict[str, Any]) -> RewardView:
    org_id = caller.organization_id

    def attempt() -> RewardView:
        current = reward_store.require(org_id, program_id, reward_id)
        updated = reward_rules.apply_update(current.reward, changes, clock.now())
        if updated is current.reward:
            return current
        return reward_store.save(current, replace(updated, version=current.reward.version + 1))

    return retry_on_stale(attempt, reward_store.StaleReward)


def list_rewards(
    caller: Caller,
    program_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: RewardStatus | None,
    include_archived: bool,
    search: str | None,
    sort_by: str,
    sort_dir: str,
) -> Page[RewardView]:
    org_id = caller.organization_id
    program_store.require(org_id, program_id)
    if status is not None:
        statuses: set[RewardStatus] | None = {status}  # an explicit ARCHIVED lists archived rewards
    elif include_archived:
        statuses = None
    else:
        statuses = set(RewardStatus) - {RewardStatus.ARCHIVED}
    scope = scope_signature("rewards", org_id, program_id, status, include_archived, search, sort_by, sort_dir)
    after = decode_cursor(cursor, scope) if cursor else None
    views, resume_after = reward_store.list_page(
        org_id,
        program_id,
        sort_by=sort_by,
        descending=sort_dir == "desc",
        limit=limit,
        after=after,
        statuses=statuses,
        search=search,
    )
    return Page(views, encode_cursor(resume_after, scope) if resume_after else None)
