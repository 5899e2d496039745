"""Asset use cases (01-platform §6.7, §7)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from scrip.domain import assets as asset_rules
from scrip.domain import clock, ids
from scrip.domain.assets import Asset, AssetStatus, InventoryMode, IssuancePolicy
from scrip.domain.errors import Conflict, NotFound
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.rules import RuleStatus
from scrip.services.common import retry_on_stale
from scrip.storage import assets as asset_store
from scrip.storage import programs as program_store
from scrip.storage import rewards as reward_store
from scrip.storage import rules as rule_store


def create_asset(
    caller: Caller,
    *,
    program_id: str,
    name: str,
    symbol: str,
    inventory_mode: InventoryMode,
    issuance_policy: IssuancePolicy,
    scale: int,
    max_transaction_amount: Decimal | None = None,
) -> Asset:
    asset = asset_rules.new_asset(
        organization_id=caller.organization_id,
        asset_id=ids.new_id(),
        program_id=program_id,
        name=name,
        symbol=symbol,
        inventory_mode=inventory_mode,
        issuance_policy=issuance_policy,
        scale=scale,
        max_transaction_amount=max_transaction_amount,
        now=clock.now(),
    )
    asset_store.create(asset)  # checks the program exists in the same transaction
    return asset


def get_asset(caller: Caller, asset_id: str) -> Asset:
    return asset_store.require(caller.organization_id, asset_id)


def update_asset(caller: Caller, asset_id: str, changes: dict[str, Any]) -> Asset:
    def attempt() -> Asset:
        current = asset_store.require(caller.organization_id, asset_id)
        updated = asset_rules.apply_update(current, changes, clock.now())
        if updated is current:
            return current
        updated = replace(updated, version=current.version + 1)
        asset_store.save(current, updated)
        return updated

    return retry_on_stale(attempt, asset_store.StaleAsset)


def link_asset(caller: Caller, program_id: str, asset_id: str) -> Asset:
    program_store.require(caller.organization_id, program_id)

    def attempt() -> Asset:
        current = asset_store.require(caller.organization_id, asset_id)
        current.require_active()
        updated = asset_rules.with_program_linked(current, program_id, clock.now())
        updated = replace(updated, version=current.version + 1)
        asset_store.link(current, updated, program_id)
        return updated

    return retry_on_stale(attempt, asset_store.StaleAsset)


def unlink_asset(caller: Caller, program_id: str, asset_id: str) -> None:
    """Remove an asset's link to a program (01 §6.7, §6.9.7), refused with ``409 conflict``
    once the link is in use.

    In use means: the program has posted a journal entry in the asset (balances, lots, the
    wallet and group balances of the program all come from entries, so none of them exists
    either), or a rule of the program that is not archived names the asset in an action or a
    budget (it would fail every event it matches), or a reward of the program that is not
    archived is priced in the asset (it could never be redeemed again), or it is the asset's
    last program.

    Entries: the asset item records the programs that have posted in it (one read, no journal
    query). The first posting of a program bumps the asset's version in its own transaction and
    is conditioned on the link; the unlink is a put conditioned on the version it read. So a
    first posting racing the unlink either commits first (the unlink fails its condition,
    re-reads and refuses) or finds the link gone (``422 asset_not_linked``): never both.
    A rule or a reward written through the program in the instant between the checks and the
    unlink is not seen; each checks the link when it is written, an administrator's rare
    operation, and a stale one fails at use with ``asset_not_linked``.
    """
    org = caller.organization_id
    program_store.require(org, program_id)

    def attempt() -> None:
        current = asset_store.require(org, asset_id)
        if program_id not in current.program_ids:
            raise NotFound(f"asset {asset_id} is not linked to program {program_id}")
        updated = asset_rules.with_program_unlinked(current, program_id, clock.now())  # the last link stays
        _refuse_while_in_use(org, program_id, current)
        asset_store.unlink(current, replace(updated, version=current.version + 1), program_id)

    retry_on_stale(attempt, asset_store.StaleAsset)


def _refuse_while_in_use(org: str, program_id: str, asset: Asset) -> None:
    if program_id in asset.posted_program_ids:
        raise Conflict(
            f"ledger entries exist for asset {asset.id} in program {program_id}: the link is permanent",
            details={"reason": "ledger_entries_exist"},
        )
    referencing = [
        rule.id
        for rule in rule_store.program_rules(org, program_id)
        if rule.status is not RuleStatus.ARCHIVED
        and any(str(part.get("asset_id")) == asset.id for part in [*rule.actions, *rule.budgets])
    ]
    if referencing:
        raise Conflict(
            f"rules of program {program_id} use asset {asset.id}; archive them or change their actions first",
            details={"reason": "rules_reference_asset", "rule_ids": referencing},
        )
    priced = reward_store.priced_in(org, program_id, asset.id)
    if priced:
        raise Conflict(
            f"rewards of program {program_id} are priced in asset {asset.id}; archive them first",
            details={"reason": "rewards_priced_in_asset", "reward_ids": priced},
        )


def list_assets(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    program_id: str | None,
    status: AssetStatus | None,
    search: str | None,
) -> Page[Asset]:
    scope = scope_signature("assets", caller.organization_id, program_id, status, search)
    after = decode_cursor(cursor, scope) if cursor else None
    if program_id is None:
        assets, resume_after = asset_store.list_page(
            caller.organization_id, limit=limit, after=after, status=status, search=search
        )
        return Page(assets, encode_cursor(resume_after, scope) if resume_after else None)
    return _linked_assets(caller, program_id, limit=limit, after=after, scope=scope, status=status, search=search)


def list_program_assets(caller: Caller, program_id: str, *, limit: int, cursor: str | None) -> Page[Asset]:
    program_store.require(caller.organization_id, program_id)
    scope = scope_signature("program-assets", caller.organization_id, program_id)
    after = decode_cursor(cursor, scope) if cursor else None
    return _linked_assets(caller, program_id, limit=limit, after=after, scope=scope, status=None, search=None)


def _matches(asset: Asset, status: AssetStatus | None, search: str | None) -> bool:
    if status is not None and asset.status is not status:
        return False
    if search:
        needle = search.lower()
        return needle in asset.name.lower() or needle in asset.symbol.lower()
    return True


def _linked_assets(
    caller: Caller,
    program_id: str,
    *,
    limit: int,
    after: str | None,
    scope: str,
    status: AssetStatus | None,
    search: str | None,
) -> Page[Asset]:
    """Walk the program's link entries, keeping the assets that pass the filters.

    The cursor is the sort key of the last link entry returned, so paging stays keyset-stable
    although the filters apply to the assets read after the entries; ``has_more`` is only
    claimed once a further matching asset has been seen.
    """
    page: list[Asset] = []
    position, last_returned = after, after
    while True:
        entries, more = asset_store.linked_entries(caller.organization_id, program_id, limit=limit, after=position)
        assets = asset_store.get_many(caller.organization_id, [asset_id for _, asset_id in entries])
        for sort_key, asset_id in entries:
            position = sort_key
            asset = assets.get(asset_id)
            if asset is None or not _matches(asset, status, search):
                continue
            if len(page) == limit:
                assert last_returned is not None
                return Page(page, encode_cursor(last_returned, scope))
            page.append(asset)
            last_returned = sort_key
        if not more:
            return Page(page, None)
