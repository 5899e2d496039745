"""Invariants of the ledger (04 §2.5), checked against everything an organization committed.

``check`` replays an organization's whole journal. ``Tally`` is the same replay fed one entry
at a time, so a long random run can check what each step touched without reading the whole
journal again (``check_owner``, ``check_wallet``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from scrip.domain.ledger import (
    GENESIS_HASH,
    Account,
    Balance,
    Bucket,
    JournalEntry,
    JournalFilters,
    participant_account,
    seal,
    wallet_account,
)
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


@dataclass
class Tally:
    """Postings summed per (account, asset, bucket), and the hash at the head of each chain."""

    sums: dict[tuple[Account, str, Bucket], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    heads: dict[tuple[Account, str], str] = field(default_factory=dict)

    def add(self, entry: JournalEntry) -> None:
        # 1. every entry balances, with at least two postings, all of one asset
        assert len(entry.postings) >= 2, entry
        assert sum((p.amount for p in entry.postings), Decimal(0)) == 0, entry
        assets = {p.asset_id for p in entry.postings}
        assert len(assets) == 1, entry
        # 2. each entry extends its owner's hash chain (one chain per owner and asset)
        chain = (entry.primary_account, assets.pop())
        previous = self.heads.get(chain, GENESIS_HASH)
        assert entry.prev_hash == previous, f"entry {entry.id} does not follow the head of {chain}"
        assert seal(entry, previous).entry_hash == entry.entry_hash, f"entry {entry.id} is not sealed"
        self.heads[chain] = entry.entry_hash
        for posting in entry.postings:
            self.sums[(posting.account, posting.asset_id, posting.bucket)] += posting.amount

    def of(self, account: Account, asset_id: str, bucket: Bucket) -> Decimal:
        return self.sums.get((account, asset_id, bucket), Decimal(0))


def check_owner(
    organization_id: str, tally: Tally, participant: str, asset_id: str, *, overdraft: bool, lots: bool
) -> Balance:
    """3. the stored balance is the sum of its postings; 4. nothing negative unless allowed;
    5. lots back their buckets. Returns the stored balance."""
    account = participant_account(participant)
    record = ledger_store.read_balance(organization_id, account, asset_id)
    stored = record.balance
    for bucket in Bucket:
        assert stored.of(bucket) == tally.of(account, asset_id, bucket), (participant, bucket, stored)
        if stored.of(bucket) < 0:
            assert bucket is Bucket.AVAILABLE and overdraft, (participant, bucket, stored)
    assert record.last_hash == tally.heads.get((account, asset_id), GENESIS_HASH), participant
    if lots:
        # AVAILABLE lots add up to AVAILABLE (0 while overdrawn), HELD lots to HELD, etc.
        owned = lot_store.read(organization_id, account, asset_id)
        for bucket, status in BUCKET_STATUS.items():
            backing = sum((lot.remaining for lot in owned if lot.status is status), Decimal(0))
            assert backing == max(stored.of(bucket), Decimal(0)), (participant, bucket, backing, stored)
    return stored


def check_wallet(organization_id: str, tally: Tally, program_id: str, asset_id: str) -> Decimal:
    """The sub-wallets add up to the wallet's postings and none is negative; returns the total."""
    wallet = wallet_account(program_id)
    records = ledger_store.read_wallet(organization_id, program_id, asset_id)
    total = sum((r.balance.available for r in records), Decimal(0))
    assert total == tally.of(wallet, asset_id, Bucket.AVAILABLE), (total, program_id)
    assert all(r.balance.available >= 0 for r in records), records
    assert records[0].last_hash == tally.heads.get((wallet, asset_id), GENESIS_HASH)
    return total


def check(
    organization_id: str,
    participants: list[str],
    asset_id: str,
    overdraft_allowed: set[str],
    wallet_program: str | None = None,
    *,
    lots: bool = False,
) -> Tally:
    """Every invariant, from the organization's whole journal; returns the replayed tally."""
    tally = Tally()
    for entry in all_entries(organization_id):
        tally.add(entry)
    for participant in participants:
        check_owner(
            organization_id, tally, participant, asset_id, overdraft=participant in overdraft_allowed, lots=lots
        )
    if wallet_program is not None:
        check_wallet(organization_id, tally, wallet_program, asset_id)
    return tally
