"""Reading the ledger (04 §3-4): balances, journal entries, statements and histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from scrip.domain.assets import Asset, InventoryMode, IssuancePolicy
from scrip.domain.errors import ValidationFailed
from scrip.domain.ledger import (
    Account,
    Balance,
    Bucket,
    JournalEntry,
    JournalFilters,
    group_account,
    participant_account,
    wallet_account,
)
from scrip.domain.lots import Lot, LotStatus
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage.ledger import LedgerLine


@dataclass(frozen=True)
class AssetBalance:
    asset: Asset
    balance: Balance


def _assets(org: str, asset_ids: list[str]) -> dict[str, Asset]:
    return asset_store.get_many(org, asset_ids)


def participant_balances(caller: Caller, participant_id: str, asset_id: str | None = None) -> list[AssetBalance]:
    org = caller.organization_id
    participant_store.require(org, participant_id)
    balances = ledger_store.owner_balances(org, participant_account(participant_id))
    if asset_id is not None:
        balances = {a: b for a, b in balances.items() if a == asset_id}
    assets = _assets(org, sorted(balances))
    return [AssetBalance(assets[a], balances[a]) for a in sorted(balances) if a in assets]


def group_totals(caller: Caller, group_id: str, program_id: str | None = None) -> list[tuple[Asset, Decimal]]:
    """Each asset's total (available + held + deferred) over the group's program balances."""
    org = caller.organization_id
    group_store.require(org, group_id)
    totals: dict[str, Decimal] = {}
    for key, balance in ledger_store.owner_balances(org, group_account(group_id, "")).items():
        balance_program, _, asset_id = key.partition("#")
        if program_id is not None and balance_program != program_id:
            continue
        totals[asset_id] = totals.get(asset_id, Decimal(0)) + balance.available + balance.held + balance.deferred
    assets = _assets(org, sorted(totals))
    return [(assets[a], totals[a]) for a in sorted(totals) if a in assets]


def program_wallets(
    caller: Caller, program_id: str, asset_id: str | None, *, limit: int, cursor: str | None
) -> Page[AssetBalance]:
    """One row per linked PREFUNDED asset (UNLIMITED assets bypass the wallet, 01 §6.9.10)."""
    org = caller.organization_id
    program_store.require(org, program_id)
    scope = scope_signature("program-balance", org, program_id, asset_id)
    after = decode_cursor(cursor, scope) if cursor else None
    rows: list[AssetBalance] = []
    candidates = asset_store.get_many(org, _linked_asset_ids(org, program_id)).values()
    linked = sorted(
        (
            a
            for a in candidates
            if a.issuance_policy is IssuancePolicy.PREFUNDED
            and (asset_id is None or a.id == asset_id)
            and (after is None or a.id > after)
        ),
        key=lambda a: a.id,
    )
    for asset in linked[: limit + 1]:
        records = ledger_store.read_wallet(org, program_id, asset.id)
        total = Balance(
            sum((r.balance.available for r in records), Decimal(0)),
            sum((r.balance.held for r in records), Decimal(0)),
            sum((r.balance.deferred for r in records), Decimal(0)),
        )
        rows.append(AssetBalance(asset, total))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].asset.id, scope) if more and rows else None)


def _linked_asset_ids(org: str, program_id: str) -> list[str]:
    found, after = [], None
    while True:
        entries, more = asset_store.linked_entries(org, program_id, limit=200, after=after)
        found += [asset_id for _, asset_id in entries]
        if not more or not entries:
            return found
        after = entries[-1][0]


def get_journal_entry(caller: Caller, entry_id: str) -> JournalEntry:
    return ledger_store.get_entry(caller.organization_id, entry_id)


def list_journal_entries(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    filters: JournalFilters,
    external_id: str | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
) -> Page[JournalEntry]:
    org = caller.organization_id
    owners = [v for v in (filters.participant_id, filters.group_id, external_id) if v is not None]
    if len(owners) > 1:
        raise ValidationFailed(
            "give at most one of participant_id, group_id and external_id", field="participant_id", reason="exclusive"
        )
    if external_id is not None:
        found = participant_store.find_id_by_external_id(org, external_id)
        if found is None:
            return Page([], None)
        filters = JournalFilters(**{**filters.__dict__, "participant_id": found})
    scope = scope_signature("journal", org, filters, min_amount, max_amount)
    after = decode_cursor(cursor, scope) if cursor else None
    page: list[JournalEntry] = []
    while True:
        # Amount bounds apply to any posting of an entry: checked here, after the read.
        entries, resume = ledger_store.journal_page(org, filters, limit=limit, after=after)
        for entry in entries:
            if _amount_matches(entry, min_amount, max_amount):
                page.append(entry)
                if len(page) == limit:
                    more = resume is not None or entry is not entries[-1]
                    position = ledger_store.journal_sort_key(entry)
                    return Page(page, encode_cursor(position, scope) if more else None)
        if resume is None:
            return Page(page, None)
        after = resume


def _amount_matches(entry: JournalEntry, low: Decimal | None, high: Decimal | None) -> bool:
    if low is None and high is None:
        return True
    return any((low is None or p.amount >= low) and (high is None or p.amount <= high) for p in entry.postings)


@dataclass(frozen=True)
class StatementRow:
    line: LedgerLine
    running_balance: Decimal


@dataclass(frozen=True)
class Statement:
    asset: Asset
    bucket: Bucket | None
    opening_balance: Decimal
    closing_balance: Decimal
    rows: list[StatementRow]
    next_cursor: str | None


def statement(
    caller: Caller,
    participant_id: str,
    *,
    asset_id: str,
    bucket: Bucket | None,
    created_from: datetime | None,
    created_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> Statement:
    """Rows in the window with running balances computed over the full history (04 §3.4)."""
    org = caller.organization_id
    participant_store.require(org, participant_id)
    asset = asset_store.require(org, asset_id)
    lines, _ = ledger_store.history_lines(org, participant_account(participant_id), asset_id=asset_id, bucket=bucket)
    running, opening = Decimal(0), Decimal(0)
    window: list[StatementRow] = []
    for line in lines:
        if created_from is not None and line.created_at < created_from:
            opening += line.amount
            running += line.amount
            continue
        if created_to is not None and line.created_at > created_to:
            break
        running += line.amount
        window.append(StatementRow(line, running))
    closing = running
    scope = scope_signature("statement", org, participant_id, asset_id, bucket, created_from, created_to)
    after = decode_cursor(cursor, scope) if cursor else None
    remaining = [row for row in window if after is None or row.line.sort_key > after]
    page = remaining[:limit]
    more = len(remaining) > limit
    return Statement(
        asset, bucket, opening, closing, page, encode_cursor(page[-1].line.sort_key, scope) if more and page else None
    )


def account_history(
    caller: Caller,
    account: Account,
    *,
    limit: int,
    cursor: str | None,
    asset_id: str | None = None,
    bucket: Bucket | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    event_from: datetime | None = None,
    event_to: datetime | None = None,
) -> Page[LedgerLine]:
    """Ledger lines of a participant or a program wallet, oldest first (04 §3.3, §3.5)."""
    org = caller.organization_id
    if account == wallet_account(account.owner_id):
        program_store.require(org, account.owner_id)
    else:
        participant_store.require(org, account.owner_id)
    scope = scope_signature("history", org, account, asset_id, bucket, created_from, created_to, event_from, event_to)
    lines, resume = ledger_store.history_lines(
        org,
        account,
        asset_id=asset_id,
        bucket=bucket,
        created_from=created_from,
        created_to=created_to,
        event_from=event_from,
        event_to=event_to,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
    )
    return Page(lines, encode_cursor(resume, scope) if resume else None)


def participant_lots(
    caller: Caller,
    participant_id: str,
    *,
    asset_id: str,
    program_id: str | None = None,
    status: LotStatus | None = None,
    expires_before: datetime | None = None,
    expires_after: datetime | None = None,
    reference_id: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[Asset, Page[Lot]]:
    """A participant's lots of a LOT-mode asset in FIFO order (04 §8.9)."""
    org = caller.organization_id
    participant_store.require(org, participant_id)
    asset = asset_store.require(org, asset_id)
    if asset.inventory_mode is not InventoryMode.LOT:
        raise ValidationFailed("lots exist for LOT-mode assets only", field="asset_id", reason="not_lot_mode")
    scope = scope_signature(
        "lots", org, participant_id, asset_id, program_id, status, expires_before, expires_after, reference_id
    )
    after = decode_cursor(cursor, scope) if cursor else None
    # The balance read finishes a COMMITTED staged transfer the participant is still owed (its
    # lots come with its legs): no reader sees the transfer's entry without the lots.
    ledger_store.read_balance(org, participant_account(participant_id), asset_id)
    selected = [
        lot
        for lot in lot_store.read(org, participant_account(participant_id), asset_id)
        if (program_id is None or lot.program_id == program_id)
        and (status is None or lot.status is status)
        and (expires_before is None or (lot.expires_at is not None and lot.expires_at < expires_before))
        and (expires_after is None or (lot.expires_at is not None and lot.expires_at > expires_after))
        and (reference_id is None or lot.reference_id == reference_id)
    ]
    selected.sort(key=lambda lot: lot.fifo_key)
    keyed = [(f"{lot.created_at.isoformat()}#{lot.id}", lot) for lot in selected]
    remaining = [(k, lot) for k, lot in keyed if after is None or k > after]
    page = remaining[:limit]
    more = len(remaining) > limit
    return asset, Page([lot for _, lot in page], encode_cursor(page[-1][0], scope) if more and page else None)
