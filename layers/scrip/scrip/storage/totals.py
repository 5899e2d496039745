"""Totals of system accounts, derived from committed journal entries (decision 8).

``SYSTEM_ISSUANCE``, ``SYSTEM_BREAKAGE`` and ``SYSTEM_REDEMPTION`` take a posting in most
operations, so no operation writes them: the stream consumer adds each committed entry's
system postings to one of ``TOTAL_SHARDS`` items (chosen by entry id), once per entry (a marker
item claims the entry in the same transaction), and a read sums the shards.
"""

from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.conditions import Attr

from scrip.storage import keys, listing, transactions

TOTAL_SHARDS = 16


class AlreadyApplied(Exception):
    """The entry's postings were added before (a redelivered stream record)."""


def _total_key(org_id: str, account: str, asset_id: str, program_id: str | None, shard: int) -> dict[str, str]:
    return {"PK": keys.total(org_id, account, asset_id, program_id, shard), "SK": keys.ENTITY_SK}


def apply_writes(
    org_id: str, entry_id: str, deltas: dict[tuple[str, str, str | None], Decimal]
) -> list[transactions.Write]:
    """Claim ``entry_id`` and add its deltas ((account, asset, program) → amount)."""
    shard = keys.shard_of(entry_id, TOTAL_SHARDS)
    writes = [
        transactions.put(
            {"PK": keys.total_applied(org_id, entry_id), "SK": keys.ENTITY_SK, "entity": "TOTAL_APPLIED"},
            condition=Attr("PK").not_exists(),
            on_condition_failed=AlreadyApplied,
        )
    ]
    for (account, asset_id, program_id), amount in deltas.items():
        writes.append(
            transactions.Write(
                "Update",
                {
                    "Key": _total_key(org_id, account, asset_id, program_id, shard),
                    "UpdateExpression": "ADD balance :amount SET entity = :entity",
                    "ExpressionAttributeValues": {":amount": amount, ":entity": "TOTAL"},
                },
            )
        )
    return writes


def read(org_id: str, account: str, asset_id: str, program_id: str | None = None) -> Decimal:
    request_keys = [_total_key(org_id, account, asset_id, program_id, shard) for shard in range(TOTAL_SHARDS)]
    return sum((Decimal(i["balance"]) for i in listing.read_items(request_keys)), Decimal(0))
