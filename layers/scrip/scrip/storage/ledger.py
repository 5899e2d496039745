"""Balances, journal entries and their history lines.

* A participant's balance of an asset is the item ``BALANCE#<asset>`` in the participant's
  partition (a group's: ``BALANCE#<program>#<asset>`` in the group's). It holds the three
  buckets, a ``version`` that guards every change, and the owner's hash chain head.
* A PREFUNDED program wallet is ``keys.WALLET_SHARDS`` sub-wallets in partitions of their own,
  so that concurrent credits of one program do not serialise on one item.
* System accounts have no item: their postings live in the journal entries (decision 8).
* A journal entry is one item with its postings; each non-system posting also writes a line
  in its owner's ``#LEDGER`` partition (statement, activity and wallet history), and the entry
  is copied into one of ``keys.JOURNAL_LIST_SHARDS`` organization list partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import NotFound
from scrip.domain.ledger import (
    GENESIS_HASH,
    Account,
    ActionType,
    Balance,
    Bucket,
    EntityType,
    JournalEntry,
    JournalFilters,
    Posting,
)
from scrip.storage import items, keys, listing, table, transactions, unit_of_work

BALANCE = keys.BALANCE_PREFIX


class StaleBalance(Exception):
    """A balance changed between our read and our write: read again and retry."""


@dataclass(frozen=True)
class BalanceRecord:
    balance: Balance
    version: int
    last_hash: str


EMPTY = BalanceRecord(Balance(), 0, GENESIS_HASH)


def _owner_partition(org_id: str, account: Account) -> str:
    if account.entity_type is EntityType.PARTICIPANT:
        return keys.participant(org_id, account.owner_id)
    if account.entity_type is EntityType.GROUP:
        return keys.group(org_id, account.owner_id)
    if account.entity_type is EntityType.PROGRAM:
        return keys.program(org_id, account.owner_id)
    raise ValueError("system accounts have no partition")


def _balance_key(org_id: str, account: Account, asset_id: str, shard: int | None) -> dict[str, str]:
    if account.entity_type is EntityType.PROGRAM:
        assert shard is not None
        return {"PK": keys.wallet(org_id, account.owner_id, asset_id, shard), "SK": keys.ENTITY_SK}
    program_id = account.program_id if account.entity_type is EntityType.GROUP else None
    return {"PK": _owner_partition(org_id, account), "SK": keys.balance(asset_id, program_id)}


def _record(item: dict[str, Any] | None) -> BalanceRecord:
    if item is None:
        return EMPTY
    balance = Balance(Decimal(item["available"]), Decimal(item["held"]), Decimal(item["deferred"]))
    return BalanceRecord(balance, int(item["version"]), str(item.get("last_entry_hash", GENESIS_HASH)))


def read_balance(org_id: str, account: Account, asset_id: str, shard: int | None = None) -> BalanceRecord:
    key = _balance_key(org_id, account, asset_id, shard)
    staged, item = unit_of_work.staged_image(key)
    if not staged:
        item = table.client().get_item(TableName=table.table_name(), Key=key, ConsistentRead=True).get("Item")
    return _record(item)


def read_wallet(org_id: str, program_id: str, asset_id: str) -> list[BalanceRecord]:
    """Every sub-wallet of a program's wallet for an asset, shard order."""
    account = Account(EntityType.PROGRAM, program_id, program_id)
    request_keys = [_balance_key(org_id, account, asset_id, shard) for shard in range(keys.WALLET_SHARDS)]
    found = {str(item["PK"]): item for item in listing.read_items(request_keys)}
    records = []
    for key in request_keys:
        staged, item = unit_of_work.staged_image(key)
        records.append(_record(item if staged else found.get(key["PK"])))
    return records


def owner_balances(org_id: str, account: Account) -> dict[str, Balance]:
    """All balances of a participant (by asset) or a group (by ``program#asset``)."""
    found = listing.read_all(_owner_partition(org_id, account), prefix=BALANCE)
    return {str(i["SK"])[len(BALANCE) :]: _record(i).balance for i in found}


def balance_write(
    org_id: str,
    account: Account,
    asset_id: str,
    before: BalanceRecord,
    after: Balance,
    last_hash: str,
    *,
    shard: int | None = None,
) -> transactions.Write:
    """Replace a balance record on condition that it is still ``before`` (by version)."""
    condition = Attr("PK").not_exists() if before.version == 0 else Attr("version").eq(before.version)
    item = {
        **_balance_key(org_id, account, asset_id, shard),
        "entity": "BALANCE",
        "entity_type": account.entity_type.value,
        "owner_id": account.owner_id,
        "program_id": account.program_id,
        "asset_id": asset_id,
        "available": after.available,
        "held": after.held,
        "deferred": after.deferred,
        "version": before.version + 1,
        "last_entry_hash": last_hash,
    }
    return transactions.put(item, condition=condition, on_condition_failed=StaleBalance)


# ------------------------------------------------------------- journal


def _posting_item(posting: Posting) -> dict[str, Any]:
    account = posting.account
    return {
        "id": posting.id,
        "amount": posting.amount,
        "asset_id": posting.asset_id,
        "asset_symbol": posting.asset_symbol,
        "bucket": posting.bucket.value,
        "entity_type": account.entity_type.value,
        "owner_id": account.owner_id,
        "account_program_id": account.program_id,
        "program_id": posting.program_id,
    }


def _posting_from_item(item: dict[str, Any]) -> Posting:
    return Posting(
        id=item["id"],
        account=Account(EntityType(item["entity_type"]), item["owner_id"], item.get("account_program_id")),
        asset_id=item["asset_id"],
        asset_symbol=item["asset_symbol"],
        bucket=Bucket(item["bucket"]),
        amount=Decimal(item["amount"]),
        program_id=item.get("program_id"),
    )


def _entry_attributes(entry: JournalEntry, event_timestamp: datetime | None) -> dict[str, Any]:
    postings = entry.postings
    return {
        "entity": "JOURNAL_ENTRY",
        "id": entry.id,
        "organization_id": entry.organization_id,
        "action_type": entry.action_type.value,
        "description": entry.description,
        "program_id": entry.program_id,
        "program_name": entry.program_name,
        "event_id": entry.event_id,
        "rule_id": entry.rule_id,
        "reference_id": entry.reference_id,
        "created_by_api_key_id": entry.created_by_api_key_id,
        "created_at": items.timestamp(entry.created_at),
        "event_timestamp": items.timestamp(event_timestamp or entry.created_at),
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "scale": entry.scale,
        "postings": [_posting_item(p) for p in postings],
        # Flattened for list filters (an entry matches when any posting does).
        "asset_id": postings[0].asset_id,
        "participant_ids": sorted(
            {p.account.owner_id for p in postings if p.account.entity_type is EntityType.PARTICIPANT}
        )
        or None,
        "group_ids": sorted({p.account.owner_id for p in postings if p.account.entity_type is EntityType.GROUP})
        or None,
        "buckets": sorted({p.bucket.value for p in postings if not p.account.is_system}) or None,
    }


def entry_from_item(item: dict[str, Any]) -> JournalEntry:
    created_at = items.moment(item["created_at"])
    assert created_at is not None
    return JournalEntry(
        id=item["id"],
        organization_id=item["organization_id"],
        action_type=ActionType(item["action_type"]),
        description=item.get("description"),
        program_id=item.get("program_id"),
        program_name=item.get("program_name"),
        event_id=item.get("event_id"),
        rule_id=item.get("rule_id"),
        reference_id=item.get("reference_id"),
        created_by_api_key_id=item.get("created_by_api_key_id"),
        created_at=created_at,
        postings=tuple(_posting_from_item(p) for p in item["postings"]),
        prev_hash=item["prev_hash"],
        entry_hash=item["entry_hash"],
        scale=int(item["scale"]),
    )


def entry_writes(entry: JournalEntry, event_timestamp: datetime | None = None) -> list[transactions.Write]:
    """The entry, a history line per non-system account, and its organization list line."""
    org = entry.organization_id
    attributes = _entry_attributes(entry, event_timestamp)
    created_at = attributes["created_at"]
    writes = [
        # The entry's fresh id makes it the proof that a re-sent transaction already committed.
        transactions.put(
            {"PK": keys.journal_entry(org, entry.id), "SK": keys.ENTITY_SK, **attributes}, proves_commit=True
        ),
        transactions.put(
            {
                "PK": keys.journal_list(org, keys.shard_of(entry.id, keys.JOURNAL_LIST_SHARDS)),
                "SK": keys.list_sort_key(created_at, entry.id),
                **attributes,
            }
        ),
    ]
    for index, posting in enumerate(entry.postings):
        if posting.account.is_system:
            continue
        writes.append(
            transactions.put(
                {
                    "PK": _history_partition(org, posting.account, entry.id),
                    # The posting's place in the entry keeps an entry's lines in posting order.
                    "SK": keys.ledger_line(created_at, entry.id, index),
                    "entity": "LEDGER_LINE",
                    "journal_entry_id": entry.id,
                    "posting_id": posting.id,
                    "action_type": entry.action_type.value,
                    "amount": posting.amount,
                    "asset_id": posting.asset_id,
                    "bucket": posting.bucket.value,
                    "account_program_id": posting.account.program_id,
                    "description": entry.description,
                    "event_id": entry.event_id,
                    "event_timestamp": attributes["event_timestamp"],
                    "has_event": entry.event_id is not None,
                    "created_by_api_key_id": entry.created_by_api_key_id,
                    "created_at": created_at,
                    "scale": entry.scale,
                }
            )
        )
    return writes


def _history_partitions(org_id: str, account: Account) -> list[str]:
    """Where an account's ledger lines live. A program wallet takes a line from every credit
    its program draws, so its lines are sharded like the wallet itself."""
    owner = _owner_partition(org_id, account)
    if account.entity_type is EntityType.PROGRAM:
        return [keys.wallet_history(owner, shard) for shard in range(keys.WALLET_SHARDS)]
    return [keys.ledger_history(owner)]


def _history_partition(org_id: str, account: Account, entry_id: str) -> str:
    partitions = _history_partitions(org_id, account)
    return partitions[keys.shard_of(entry_id, len(partitions))]


def get_entry(org_id: str, entry_id: str) -> JournalEntry:
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": keys.journal_entry(org_id, entry_id), "SK": keys.ENTITY_SK},
        ConsistentRead=True,
    )
    item = got.get("Item")
    if item is None:
        raise NotFound(f"journal entry {entry_id} not found")
    return entry_from_item(item)


def journal_sort_key(entry: JournalEntry) -> str:
    return keys.list_sort_key(items.timestamp(entry.created_at), entry.id)


def journal_page(
    org_id: str, filters: JournalFilters, *, limit: int, after: str | None
) -> tuple[list[JournalEntry], str | None]:
    conditions = []
    for attribute in ("program_id", "event_id", "rule_id", "asset_id", "reference_id"):
        value = getattr(filters, attribute)
        if value is not None:
            conditions.append(Attr(attribute).eq(value))
    if filters.action_type is not None:
        conditions.append(Attr("action_type").eq(filters.action_type.value))
    if filters.participant_id is not None:
        conditions.append(Attr("participant_ids").contains(filters.participant_id))
    if filters.group_id is not None:
        conditions.append(Attr("group_ids").contains(filters.group_id))
    if filters.bucket is not None:
        conditions.append(Attr("buckets").contains(filters.bucket.value))
    conditions += listing.within("created_at", filters.created_from, filters.created_to)
    item_filter = listing.all_of(conditions)
    partitions = [keys.journal_list(org_id, shard) for shard in range(keys.JOURNAL_LIST_SHARDS)]
    found, more = listing.read_merged_page(
        partitions, limit=limit, after=after, descending=True, item_filter=item_filter
    )
    return [entry_from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)


@dataclass(frozen=True)
class LedgerLine:
    journal_entry_id: str
    posting_id: str
    action_type: ActionType
    amount: Decimal
    asset_id: str
    bucket: Bucket
    account_program_id: str | None
    description: str | None
    event_id: str | None
    event_timestamp: datetime | None
    created_by_api_key_id: str | None
    created_at: datetime
    sort_key: str
    scale: int


def _line(item: dict[str, Any]) -> LedgerLine:
    created_at = items.moment(item["created_at"])
    assert created_at is not None
    return LedgerLine(
        journal_entry_id=item["journal_entry_id"],
        posting_id=item["posting_id"],
        action_type=ActionType(item["action_type"]),
        amount=Decimal(item["amount"]),
        asset_id=item["asset_id"],
        bucket=Bucket(item["bucket"]),
        account_program_id=item.get("account_program_id"),
        description=item.get("description"),
        event_id=item.get("event_id"),
        event_timestamp=items.moment(item.get("event_timestamp")) if item.get("has_event") else None,
        created_by_api_key_id=item.get("created_by_api_key_id"),
        created_at=created_at,
        sort_key=str(item["SK"]),
        scale=int(item.get("scale", 0)),
    )


def history_lines(
    org_id: str,
    account: Account,
    *,
    asset_id: str | None = None,
    bucket: Bucket | None = None,
    program_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    event_from: datetime | None = None,
    event_to: datetime | None = None,
    limit: int | None = None,
    after: str | None = None,
    descending: bool = False,
) -> tuple[list[LedgerLine], str | None]:
    """An owner's ledger lines in time order (oldest first unless ``descending``)."""
    conditions = []
    if asset_id is not None:
        conditions.append(Attr("asset_id").eq(asset_id))
    if bucket is not None:
        conditions.append(Attr("bucket").eq(bucket.value))
    if program_id is not None:
        conditions.append(Attr("account_program_id").eq(program_id))
    conditions += listing.within("created_at", created_from, created_to)
    conditions += listing.within("event_timestamp", event_from, event_to)
    item_filter = listing.all_of(conditions)
    partitions = _history_partitions(org_id, account)
    if limit is None:
        found = [item for partition in partitions for item in listing.read_all(partition, item_filter=item_filter)]
        found.sort(key=lambda item: str(item["SK"]), reverse=descending)
        return [_line(i) for i in found], None
    page, more = listing.read_merged_page(
        partitions, limit=limit, after=after, descending=descending, item_filter=item_filter
    )
    return [_line(i) for i in page], (str(page[-1]["SK"]) if page and more else None)
