"""Totals of system accounts, derived from committed journal entries (decision 8).

``SYSTEM_ISSUANCE``, ``SYSTEM_BREAKAGE`` and ``SYSTEM_REDEMPTION`` take a posting in most
operations, so no operation writes them: the stream consumer adds committed entries' system
postings to one of ``TOTAL_SHARDS`` items per total, once per entry (a marker item claims each
entry in the same transaction), and a read sums the shards.

One transaction applies several entries (a stream batch's): a marker per entry and one ``ADD``
per total it touches, on one shard chosen by the first entry's id. Per entry that is the
marker's 2 write units plus the updates shared by the batch, instead of 6.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from boto3.dynamodb.conditions import Attr

from scrip.storage import keys, listing, transactions

TOTAL_SHARDS = 16
# A marker only has to outlive the stream records that could bring its entry again: a stream
# keeps records for 24 hours, so after a week the marker is dead weight and TTL removes it.
MARKER_RETENTION_SECONDS = 7 * 24 * 3600

# (organization, system account, asset, program or None) → amount
TotalKey = tuple[str, str, str, str | None]


class AlreadyApplied(Exception):
    """An entry's postings were added before (a redelivered stream record)."""


def _total_key(org_id: str, account: str, asset_id: str, program_id: str | None, shard: int) -> dict[str, str]:
    return {"PK": keys.total(org_id, account, asset_id, program_id, shard), "SK": keys.ENTITY_SK}


def apply_writes(claims: Sequence[tuple[str, str]], deltas: dict[TotalKey, Decimal]) -> list[transactions.Write]:
    """Claim each (organization, entry id) of ``claims`` and add ``deltas``, their sum.

    The transaction is cancelled (``AlreadyApplied``) if any entry was claimed before; it then
    changes nothing, and the caller applies the entries one by one.
    """
    shard = keys.shard_of(claims[0][1], TOTAL_SHARDS)
    expires = int(time.time()) + MARKER_RETENTION_SECONDS
    writes = [
        transactions.put(
            {
                "PK": keys.total_applied(org_id, entry_id),
                "SK": keys.ENTITY_SK,
                "entity": "TOTAL_APPLIED",
                "expires_at_epoch": expires,
            },
            condition=Attr("PK").not_exists(),
            on_condition_failed=AlreadyApplied,
        )
        for org_id, entry_id in claims
    ]
    for (org_id, account, asset_id, program_id), amount in deltas.items():
        if amount == 0:
            continue  # entries that cancel out: their markers are enough
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
