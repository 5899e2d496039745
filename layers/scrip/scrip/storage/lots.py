"""Lots, in a partition per owner and asset, sorted by creation (the FIFO order).

Lot writes ride in the transaction of the balance change they back, which is guarded by the
balance's version: two operations on one owner's asset cannot both rewrite its lots. Lots
with an expiry or maturity are also indexed by the hour they fall due, which is what the
scheduled job reads (``DUE#<kind>#<hour>#<shard>``, from a checkpoint per kind).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain.ledger import Account, EntityType
from scrip.domain.lots import Lot, LotOrigin, LotStatus
from scrip.storage import due_index, items, keys, listing, read_cache, table, transactions


def partition(org_id: str, account: Account, asset_id: str) -> str:
    if account.entity_type is EntityType.GROUP:
        return keys.group_lots(org_id, account.owner_id, str(account.program_id), asset_id)
    return keys.participant_lots(org_id, account.owner_id, asset_id)


def _sort_key(lot: Lot) -> str:
    return keys.chronological(items.timestamp(lot.created_at) or "", lot.id)


def _from_item(item: dict[str, Any]) -> Lot:
    created_at = items.moment(item["created_at"])
    assert created_at is not None
    return Lot(
        id=item["id"],
        asset_id=item["asset_id"],
        amount=Decimal(item["amount"]),
        remaining=Decimal(item["remaining"]),
        status=LotStatus(item["status"]),
        created_at=created_at,
        expires_at=items.moment(item.get("expires_at")),
        matures_at=items.moment(item.get("matures_at")),
        reference_id=item.get("reference_id"),
        origin=LotOrigin(item["origin"]),
        program_id=item.get("program_id"),
    )


def read(org_id: str, account: Account, asset_id: str) -> list[Lot]:
    """Every lot of the owner's asset, FIFO order."""
    return [_from_item(i) for i in read_cache.partition_items(partition(org_id, account, asset_id))]


DUE_SHARDS = keys.LOTS_DUE_SHARDS


def _due_partition(kind: str, moment: datetime, shard: int) -> str:
    return keys.lots_due(kind, moment.strftime("%Y-%m-%dT%H"), shard)


def put(org_id: str, account: Account, lot: Lot, *, expiry_due: datetime | None = None) -> list[transactions.Write]:
    """The lot's new state, plus its entry in the due index while it can still expire or mature.

    ``expiry_due``: the moment its EXPIRY entry is filed under, when not its ``expires_at``: a lot
    given back already expired (a redemption reversal) is filed now, in an hour the job has yet to
    read, since the job's checkpoint may have passed the hour it expired in."""
    lot_partition = partition(org_id, account, lot.asset_id)
    writes = [
        transactions.put(
            {
                "PK": lot_partition,
                "SK": _sort_key(lot),
                "entity": "LOT",
                "id": lot.id,
                "asset_id": lot.asset_id,
                "amount": lot.amount,
                "remaining": lot.remaining,
                "status": lot.status.value,
                "created_at": items.timestamp(lot.created_at),
                "expires_at": items.timestamp(lot.expires_at),
                "matures_at": items.timestamp(lot.matures_at),
                "reference_id": lot.reference_id,
                "origin": lot.origin.value,
                "program_id": lot.program_id,
                "owner_type": account.entity_type.value,
                "owner_id": account.owner_id,
                "owner_program_id": account.program_id,
            }
        )
    ]
    live = lot.status in (LotStatus.AVAILABLE, LotStatus.HELD, LotStatus.DEFERRED) and lot.remaining > 0
    for kind, moment in (
        ("EXPIRY", expiry_due or lot.expires_at),
        ("MATURITY", lot.matures_at if lot.status is LotStatus.DEFERRED else None),
    ):
        if moment is None:
            continue
        due_key = {
            "PK": _due_partition(kind, moment, keys.shard_of(lot.id, DUE_SHARDS)),
            "SK": keys.due_entry(items.timestamp(moment) or "", lot_partition, _sort_key(lot)),
        }
        if live:
            writes.append(
                transactions.put(
                    {
                        **due_key,
                        "entity": "DUE",
                        "organization_id": org_id,
                        "lot_partition": lot_partition,
                        "lot_sort_key": _sort_key(lot),
                    }
                )
            )
        else:
            writes.append(transactions.delete(due_key))
    return writes


def due(kind: str, hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Index entries of one hour bucket (every shard) that fall due at or before ``until``."""
    limit = items.timestamp(until) or ""
    return [
        entry
        for shard in range(DUE_SHARDS)
        for entry in listing.read_up_to(_due_partition(kind, hour, shard), keys.due_entries_up_to(limit))
        if keys.due_time(str(entry["SK"])) <= limit
    ]


def owner_of(entry: dict[str, Any]) -> tuple[str, Account, str]:
    """(organization, account, asset) of a due index entry, from its lot item."""
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": entry["lot_partition"], "SK": entry["lot_sort_key"]},
        ConsistentRead=True,
    )
    item = got["Item"]
    account = Account(EntityType(item["owner_type"]), item["owner_id"], item.get("owner_program_id"))
    return str(entry["organization_id"]), account, str(item["asset_id"])


def delete_due(entry: dict[str, Any]) -> transactions.Write:
    return transactions.delete({"PK": entry["PK"], "SK": entry["SK"]})


def due_checkpoint(kind: str) -> datetime | None:
    """The first hour of ``kind``'s due index not yet known to be empty (None before the first run)."""
    return due_index.checkpoint(keys.lots_due_checkpoint(kind))


def save_due_checkpoint(kind: str, hour: datetime) -> None:
    due_index.save_checkpoint(keys.lots_due_checkpoint(kind), hour)


def without_repeats(writes: list[transactions.Write]) -> list[transactions.Write]:
    """The first write of each item: a transaction may not touch an item twice."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for write in writes:
        key = write.params.get("Key") or write.params["Item"]
        identity = (str(key["PK"]), str(key["SK"]))
        if identity not in seen:
            seen.add(identity)
            kept.append(write)
    return kept
