"""Assets, their organization-wide symbol, and their links to programs.

The asset item carries ``program_ids``; each link is also an item in the program's
``ASSETS`` partition (sorted like the asset list) so that a program's assets, and the asset
list filtered by program, page with one query. Link entries are small (no copy of the asset):
an asset may be linked to many programs, and a copy in each would make every asset update a
transaction over all of them.

``posted_program_ids`` (a string set on the asset item) names the programs that have posted in
the asset, so that unlinking knows whether the link is in use from the asset item alone, with
no journal read. The first posting of a program adds it (``first_posting``), in the posting's
own transaction, conditioned on the link still being there and bumping ``version``: an unlink
(a put conditioned on the version it read) that read the asset before that posting is refused
and re-reads, and a posting planned before an unlink committed is refused. A later full put of
the asset (PATCH, link) writes back the set it read under the same version condition, so the
set is never dropped.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.assets import Asset, AssetStatus, InventoryMode, IssuancePolicy, symbol_key
from scrip.domain.errors import Conflict, NotFound, UnprocessableError
from scrip.storage import items, keys, listing, read_cache, transactions, unit_of_work


def _key(org_id: str, asset_id: str) -> dict[str, str]:
    return {"PK": keys.asset(org_id, asset_id), "SK": keys.ENTITY_SK}


def _attributes(asset: Asset) -> dict[str, Any]:
    return {
        "entity": "ASSET",
        "organization_id": asset.organization_id,
        "id": asset.id,
        "name": asset.name,
        "name_lower": asset.name.lower(),
        "symbol": asset.symbol,
        "symbol_lower": asset.symbol.lower(),
        "inventory_mode": asset.inventory_mode.value,
        "issuance_policy": asset.issuance_policy.value,
        "scale": asset.scale,
        "max_transaction_amount": asset.max_transaction_amount,
        "status": asset.status.value,
        "program_ids": list(asset.program_ids),
        "created_at": items.timestamp(asset.created_at),
        "updated_at": items.timestamp(asset.updated_at),
        "deleted_at": items.timestamp(asset.deleted_at),
        "version": asset.version,
        # A string set (ADD-able); DynamoDB keeps no empty set, so none until the first posting.
        "posted_program_ids": set(asset.posted_program_ids) or None,
    }


def _from_item(item: dict[str, Any]) -> Asset:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Asset(
        organization_id=item["organization_id"],
        id=item["id"],
        name=item["name"],
        symbol=item["symbol"],
        inventory_mode=InventoryMode(item["inventory_mode"]),
        issuance_policy=IssuancePolicy(item["issuance_policy"]),
        scale=int(item["scale"]),
        max_transaction_amount=items.decimal_or_none(item.get("max_transaction_amount")),
        status=AssetStatus(item["status"]),
        program_ids=tuple(item.get("program_ids", [])),
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=items.moment(item.get("deleted_at")),
        version=int(item["version"]),
        posted_program_ids=frozenset(item.get("posted_program_ids", ())),
    )


def _sort_key(asset: Asset) -> str:
    created_at = items.timestamp(asset.created_at)
    assert created_at is not None
    return keys.chronological(created_at, asset.id)


def _list_entry(asset: Asset) -> transactions.Write:
    return transactions.put(
        {"PK": keys.assets_by_created(asset.organization_id), "SK": _sort_key(asset), **_attributes(asset)}
    )


def _link_entry(asset: Asset, program_id: str) -> dict[str, Any]:
    return {
        "PK": keys.program_assets(asset.organization_id, program_id),
        "SK": _sort_key(asset),
        "entity": "PROGRAM_ASSET",
        "asset_id": asset.id,
        "program_id": program_id,
    }


class StaleAsset(Exception):
    """Another writer changed the asset between our read and our write."""


def _program_exists(org_id: str, program_id: str) -> transactions.Write:
    return transactions.condition_check(
        {"PK": keys.program(org_id, program_id), "SK": keys.ENTITY_SK},
        Attr("PK").exists(),
        lambda: NotFound(f"program {program_id} not found"),
    )


def create(asset: Asset) -> None:
    """The asset, its symbol claim, its list entry and its first link, all or nothing."""
    (program_id,) = asset.program_ids
    transactions.write(
        [
            _program_exists(asset.organization_id, program_id),
            transactions.put({**_key(asset.organization_id, asset.id), **_attributes(asset)}, proves_commit=True),
            transactions.put(
                {
                    "PK": keys.asset_symbol(asset.organization_id, symbol_key(asset.symbol)),
                    "SK": keys.ENTITY_SK,
                    "entity": "ASSET_SYMBOL",
                    "asset_id": asset.id,
                },
                condition=Attr("PK").not_exists(),
                on_condition_failed=lambda: Conflict(
                    f"an asset with symbol {asset.symbol!r} already exists", details={"field": "symbol"}
                ),
            ),
            _list_entry(asset),
            transactions.put(_link_entry(asset, program_id)),
        ]
    )


def get(org_id: str, asset_id: str) -> Asset | None:
    item = read_cache.get_item(_key(org_id, asset_id))
    return _from_item(item) if item else None


def require(org_id: str, asset_id: str) -> Asset:
    asset = get(org_id, asset_id)
    if asset is None:
        raise NotFound(f"asset {asset_id} not found")
    return asset


def _versioned_put(previous: Asset, updated: Asset) -> transactions.Write:
    return transactions.put(
        {**_key(updated.organization_id, updated.id), **_attributes(updated)},
        condition=Attr("version").eq(previous.version),
        on_condition_failed=StaleAsset,
    )


def save(previous: Asset, updated: Asset) -> None:
    transactions.write([_versioned_put(previous, updated), _list_entry(updated)])


def link(previous: Asset, updated: Asset, program_id: str) -> None:
    """Add the link entry; an existing one means the asset was already linked (409)."""
    transactions.write(
        [
            _program_exists(updated.organization_id, program_id),
            transactions.put(
                _link_entry(updated, program_id),
                condition=Attr("PK").not_exists(),
                on_condition_failed=lambda: Conflict(f"asset {updated.id} is already linked to program {program_id}"),
            ),
            _versioned_put(previous, updated),
            _list_entry(updated),
        ]
    )


def unlink(previous: Asset, updated: Asset, program_id: str) -> None:
    """Remove the link entry and the program from ``program_ids`` together.

    A link entry already gone means a concurrent unlink won: the link is unknown (404).
    """
    transactions.write(
        [
            transactions.delete(
                {"PK": keys.program_assets(updated.organization_id, program_id), "SK": _sort_key(updated)},
                condition=Attr("PK").exists(),
                on_condition_failed=lambda: NotFound(f"asset {updated.id} is not linked to program {program_id}"),
            ),
            _versioned_put(previous, updated),
            _list_entry(updated),
        ]
    )


def first_posting(asset: Asset, program_id: str) -> transactions.Write | None:
    """The write that records ``program_id`` as having posted in ``asset``, for the transaction
    of a posting, or None when there is nothing to record.

    Nothing when the asset as read already has it (the common path: no write, no cost) or when
    the unit of work collecting this posting already holds the write (an event's second action
    in the same program and asset). Conditioned on the link: an unlink committed after the
    posting read the asset refuses the posting (``422 asset_not_linked``).
    """
    if program_id in asset.posted_program_ids:
        return None
    key = _key(asset.organization_id, asset.id)
    unit = unit_of_work.current()
    if unit is not None and (key["PK"], key["SK"]) in unit.writes:
        return None
    return transactions.Write(
        "Update",
        {
            "Key": key,
            "UpdateExpression": "ADD #posted :program, #version :one",
            "ConditionExpression": "contains(#linked, :program_id)",
            "ExpressionAttributeNames": {
                "#posted": "posted_program_ids",
                "#version": "version",
                "#linked": "program_ids",
            },
            "ExpressionAttributeValues": {":program": {program_id}, ":one": 1, ":program_id": program_id},
        },
        lambda: UnprocessableError("asset_not_linked", f"asset {asset.id} is not linked to program {program_id}"),
    )


def linked_entries(
    org_id: str, program_id: str, *, limit: int, after: str | None
) -> tuple[list[tuple[str, str]], bool]:
    """(sort key, asset id) of the assets linked to a program, newest asset first."""
    found, has_more = listing.read_page(
        keys.program_assets(org_id, program_id), limit=limit, after=after, descending=True
    )
    return [(i["SK"], i["asset_id"]) for i in found], has_more


def get_many(org_id: str, asset_ids: list[str]) -> dict[str, Asset]:
    """Assets by id in one round trip per 100 ids (``BatchGetItem``'s limit)."""
    found = [_from_item(i) for i in read_cache.get_items([_key(org_id, a) for a in asset_ids])]
    return {asset.id: asset for asset in found}


def list_page(
    org_id: str, *, limit: int, after: str | None, status: AssetStatus | None, search: str | None
) -> tuple[list[Asset], str | None]:
    item_filter: Any = None
    if status is not None:
        item_filter = Attr("status").eq(status.value)
    if search:
        needle = search.lower()
        matches = Attr("name_lower").contains(needle) | Attr("symbol_lower").contains(needle)
        item_filter = matches if item_filter is None else item_filter & matches
    found, has_more = listing.read_page(
        keys.assets_by_created(org_id), limit=limit, after=after, descending=True, item_filter=item_filter
    )
    return [_from_item(i) for i in found], (found[-1]["SK"] if found and has_more else None)
