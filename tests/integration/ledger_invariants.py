"""Invariants of the ledger (04 §2.5), checked against everything an organization committed."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from scrip.domain.ledger import Account, Bucket, EntityType, JournalEntry, JournalFilters, verify_chain
from scrip.domain.lots import BUCKET_STATUS
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store


def all_entries(organization_id: str) -> list[JournalEntry]:
    entries: list[JournalEntry] = []
    after = None
    while True:
        page, after = ledger_store.journal_page(organization_id, JournalFilters(), limit=200, after=after)
        entries.extend(page)
        if after is None:
            return sorted(entries, key=lambda e: (e.created_at, e.id))


def check(
    organization_id: str,
    participants: list[str],
    asset_id: str,
    overdraft_allowed: set[str],
    wallet_program: str | None = None,
    *,
    lots: bool = False,
) -> None:
    entries = all_entries(organization_id)
    sums: dict[tuple[Account, Bucket], Decimal] = defaultdict(Decimal)
    chains: dict[Account, list[JournalEntry]] = defaultdict(list)
    for entry in entries:
        # 1. every entry balances, with at least two postings
        assert len(entry.postings) >= 2
        assert sum((p.amount for p in entry.postings), Decimal(0)) == 0, entry
        for posting in entry.postings:
            sums[(posting.account, posting.bucket)] += posting.amount
        chains[entry.primary_account].append(entry)
    # 2. the hash chain of every owner verifies
    for account, chain in chains.items():
        assert verify_chain(chain), f"chain of {account} does not verify"
    # 3. stored balances are the sums of their postings; 4. nothing negative unless allowed
    for participant in participants:
        account = Account(EntityType.PARTICIPANT, participant)
        stored = ledger_store.read_balance(organization_id, account, asset_id).balance
        for bucket in Bucket:
            assert stored.of(bucket) == sums[(account, bucket)], (participant, bucket)
            if stored.of(bucket) < 0:
                assert bucket is Bucket.AVAILABLE and participant in overdraft_allowed, (participant, bucket)
        # 5. lots back their buckets: AVAILABLE lots add up to AVAILABLE (0 while overdrawn), etc.
        if lots:
            owned = lot_store.read(organization_id, account, asset_id)
            for bucket, status in BUCKET_STATUS.items():
                backing = sum((lot.remaining for lot in owned if lot.status is status), Decimal(0))
                assert backing == max(stored.of(bucket), Decimal(0)), (participant, bucket, backing, stored)
        # 5. lots back their buckets: AVAILABLE lots add up to AVAILABLE (0 while overdrawn), etc.
        if lots:
            owned = lot_store.read(organization_id, account, asset_id)
            for bucket, status in BUCKET_STATUS.items():
                backing = sum((lot.remaining for lot in owned if lot.status is status), Decimal(0))
                assert backing == max(stored.of(bucket), Decimal(0)), (participant, bucket, backing, stored)
    if wallet_program is not None:
        wallet = Account(EntityType.PROGRAM, wallet_program, wallet_program)
        records = ledger_store.read_wallet(organization_id, wallet_program, asset_id)
        total = sum((r.balance.available for r in records), Decimal(0))
        assert total == sums[(wallet, Bucket.AVAILABLE)]
        assert all(r.balance.available >= 0 for r in records)
