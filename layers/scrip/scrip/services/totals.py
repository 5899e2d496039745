"""System-account totals (decision 8), kept by the table's stream consumer."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from scrip.domain.ledger import EntityType
from scrip.storage import totals as total_store
from scrip.storage import transactions


def apply_committed_entry(image: dict[str, Any]) -> bool:
    """Add a committed journal entry's system postings to the totals; False if already done.

    ``image`` is the entry item as the stream delivers it (plain Python values). Totals are
    kept per asset, overall and per program the posting is attributed to.
    """
    deltas: dict[tuple[str, str, str | None], Decimal] = defaultdict(Decimal)
    for posting in image["postings"]:
        if posting["entity_type"] != EntityType.SYSTEM.value:
            continue
        amount = Decimal(posting["amount"])
        deltas[(posting["owner_id"], posting["asset_id"], None)] += amount
        if posting.get("program_id"):
            deltas[(posting["owner_id"], posting["asset_id"], posting["program_id"])] += amount
    if not deltas:
        return False
    try:
        transactions.write(total_store.apply_writes(image["organization_id"], image["id"], deltas))
    except total_store.AlreadyApplied:
        return False
    return True


def system_total(organization_id: str, account: str, asset_id: str, program_id: str | None = None) -> Decimal:
    return total_store.read(organization_id, account, asset_id, program_id)
