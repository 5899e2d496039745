"""The progress item of a transfer too large for one transaction (05 §3.1, issue P9).

Its journal entry, the source's side and this item commit first, in one transaction; each
later transaction applies the next recipient legs and moves ``applied`` on, on condition that
it is still what was read. So a leg applies exactly once whoever drives the transfer (the
request, its replay, or the stream after a crash), and ``applied`` always says how far it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.storage import keys, table, transactions

PENDING, COMPLETED = "PENDING", "COMPLETED"


class StaleProgress(Exception):
    """Another driver applied legs meanwhile: read the progress again."""


@dataclass(frozen=True)
class Progress:
    organization_id: str
    journal_entry_id: str
    applied: int  # recipient legs applied, in posting order
    legs: int
    status: str


def _key(org_id: str, entry_id: str) -> dict[str, str]:
    return {"PK": keys.transfer_progress(org_id, entry_id), "SK": keys.ENTITY_SK}


def _item(progress: Progress) -> dict[str, Any]:
    return {
        **_key(progress.organization_id, progress.journal_entry_id),
        "entity": "TRANSFER_PROGRESS",
        "organization_id": progress.organization_id,
        "journal_entry_id": progress.journal_entry_id,
        "applied": progress.applied,
        "legs": progress.legs,
        "status": progress.status,
    }


def start_write(org_id: str, entry_id: str, legs: int) -> transactions.Write:
    return transactions.put(_item(Progress(org_id, entry_id, 0, legs, PENDING)), condition=Attr("PK").not_exists())


def advance_write(before: Progress, applied: int) -> transactions.Write:
    """Record ``applied`` legs, on condition that no other driver moved it since ``before``."""
    after = Progress(
        before.organization_id,
        before.journal_entry_id,
        applied,
        before.legs,
        COMPLETED if applied >= before.legs else PENDING,
    )
    return transactions.put(
        _item(after), condition=Attr("applied").eq(before.applied), on_condition_failed=StaleProgress
    )


def from_item(item: dict[str, Any]) -> Progress:
    return Progress(
        str(item["organization_id"]),
        str(item["journal_entry_id"]),
        int(item["applied"]),
        int(item["legs"]),
        str(item["status"]),
    )


def get(org_id: str, entry_id: str) -> Progress | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, entry_id), ConsistentRead=True)
    item = got.get("Item")
    return from_item(item) if item else None
