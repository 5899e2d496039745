"""Balances, journal entries and their history lines.

* A participant's balance of an asset is the item ``BALANCE#<asset>`` in the participant's
  partition (a group's: ``BALANCE#<program>#<asset>`` in the group's). It holds the three
  buckets, a ``version`` that guards every change, and the owner's hash chain head.
* A PREFUNDED program wallet is ``keys.WALLET_SHARDS`` sub-wallets in partitions of their own,
  so that concurrent credits of one program do not serialise on one item.
* System accounts have no item: their postings live in the journal entries (decision 8).
* A journal entry is one item with its postings (compact, under 1 KB for a credit); each
  non-system posting also writes a line in its owner's ``#LEDGER`` partition (statement,
  activity and wallet history), and the entry a small line (its id and what the list filters
  on) in one of ``keys.JOURNAL_LIST_SHARDS`` organization list partitions.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.domain import clock
from scrip.domain import transfers as rules
from scrip.domain.assets import InventoryMode
from scrip.domain.errors import NotFound
from scrip.domain.ledger import (
    Account,
    ActionType,
    Balance,
    Bucket,
    EntityType,
    JournalEntry,
    JournalFilters,
    Posting,
)
from scrip.storage import assets as asset_store
from scrip.storage import items, keys, listing, read_cache, table, transactions
from scrip.storage import lots as lot_store
from scrip.storage import transfers as transfer_store
from scrip.storage.balance_items import (
    BalanceRecord,
    StaleBalance,
    balance_key,
    balance_write,
    owner_partition,
    read_balance_as_stored,
    record_of,
    unmark_write,
)

# The balance item lives one layer down (storage.transfers builds on it); re-exported here.
__all__ = [
    "BalanceRecord",
    "StaleBalance",
    "balance_key",
    "balance_write",
    "owner_partition",
    "read_balance_as_stored",
    "record_of",
    "unmark_write",
]

BALANCE = keys.BALANCE_PREFIX


def read_balance(org_id: str, account: Account, asset_id: str, shard: int | None = None) -> BalanceRecord:
    """The balance as every reader must see it: a staged transfer already COMMITTED that still
    owes it a credit is finished first (no extra read when nothing is incoming)."""
    key = balance_key(org_id, account, asset_id, shard)
    record = record_of(read_cache.get_item(key))
    if record.incoming and settle_incoming(org_id, account, asset_id, record.incoming):
        read_cache.forget({key["PK"]})
        record = record_of(read_cache.get_item(key))
    return record


def read_wallet(org_id: str, program_id: str, asset_id: str) -> list[BalanceRecord]:
    """Every sub-wallet of a program's wallet for an asset, shard order."""
    account = Account(EntityType.PROGRAM, program_id, program_id)
    request_keys = [balance_key(org_id, account, asset_id, shard) for shard in range(keys.WALLET_SHARDS)]
    found = {str(item["PK"]): item for item in read_cache.get_items(request_keys)}  # staged images applied
    return [record_of(found.get(key["PK"])) for key in request_keys]


def owner_balances(org_id: str, account: Account) -> dict[str, Balance]:
    """All balances of a participant (by asset) or a group (by ``program#asset``), every
    COMMITTED staged transfer they are owed finished first (see ``read_balance``)."""
    partition = owner_partition(org_id, account)
    found = read_cache.partition_items(partition, prefix=BALANCE)
    changed = False
    for item in found:
        record = record_of(item)
        if record.incoming:
            # A group's balances are per program: the item names its own account.
            owner = Account(account.entity_type, account.owner_id, item.get("program_id"))
            changed |= settle_incoming(org_id, owner, str(item["asset_id"]), record.incoming)
    if changed:
        read_cache.forget({partition})
        found = read_cache.partition_items(partition, prefix=BALANCE)
    # An item only a pending transfer's marker created has no entry yet: not a balance to show.
    return {str(i["SK"])[len(BALANCE) :]: record_of(i).balance for i in found if "last_entry_hash" in i}


# ------------------------------------------------------------- journal


# Attribute names inside a stored posting. A credit's entry holds two or three postings, and
# with full names they alone took half a KB: short names, and the fields a posting shares with
# its entry left out, keep the entry item under 1 KB (2 write units in a transaction, not 4).
_ID, _AMOUNT, _BUCKET, _TYPE, _OWNER = "i", "a", "b", "t", "o"
_ACCOUNT_PROGRAM, _PROGRAM, _ASSET, _SYMBOL = "ap", "p", "s", "y"


def _posting_item(posting: Posting, entry: JournalEntry, asset_id: str, asset_symbol: str) -> dict[str, Any]:
    account = posting.account
    item: dict[str, Any] = {
        _ID: posting.id,
        _AMOUNT: posting.amount,
        _BUCKET: posting.bucket.value,
        _TYPE: account.entity_type.value,
        _OWNER: account.owner_id,
    }
    if account.program_id is not None:
        item[_ACCOUNT_PROGRAM] = account.program_id
    if posting.program_id != entry.program_id:
        item[_PROGRAM] = posting.program_id  # None stays: "no program", not "the entry's"
    if posting.asset_id != asset_id:
        item[_ASSET] = posting.asset_id
    if posting.asset_symbol != asset_symbol:
        item[_SYMBOL] = posting.asset_symbol
    return item


def _posting_from_item(item: dict[str, Any], entry: dict[str, Any]) -> Posting:
    if _ID not in item:  # written before the compact layout: full names, nothing inherited
        return Posting(
            id=item["id"],
            account=Account(EntityType(item["entity_type"]), item["owner_id"], item.get("account_program_id")),
            asset_id=item["asset_id"],
            asset_symbol=item["asset_symbol"],
            bucket=Bucket(item["bucket"]),
            amount=Decimal(item["amount"]),
            program_id=item.get("program_id"),
        )
    return Posting(
        id=item[_ID],
        account=Account(EntityType(item[_TYPE]), item[_OWNER], item.get(_ACCOUNT_PROGRAM)),
        asset_id=item.get(_ASSET, entry["asset_id"]),
        asset_symbol=item.get(_SYMBOL, entry["asset_symbol"]),
        bucket=Bucket(item[_BUCKET]),
        amount=Decimal(item[_AMOUNT]),
        program_id=item[_PROGRAM] if _PROGRAM in item else entry.get("program_id"),
    )


def _entry_attributes(entry: JournalEntry) -> dict[str, Any]:
    """The entry item: the entry once, its postings compact (see ``_posting_item``)."""
    first = entry.postings[0]
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
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "scale": entry.scale,
        "asset_id": first.asset_id,
        "asset_symbol": first.asset_symbol,
        "postings": [_posting_item(p, entry, first.asset_id, first.asset_symbol) for p in entry.postings],
    }


def _list_line(entry: JournalEntry, created_at: str) -> dict[str, Any]:
    """The entry's line in the organization journal list: what ``journal_page`` filters on and
    the entry's id, no more (about 450 bytes, 2 write units). A page reads the entries
    themselves with one ``BatchGetItem``; a full copy here cost 4 units per entry."""
    postings = entry.postings
    return {
        "entity": "JOURNAL_LIST",  # not JOURNAL_ENTRY: the totals' stream filter must not match it
        "id": entry.id,
        "program_id": entry.program_id,
        "event_id": entry.event_id,
        "rule_id": entry.rule_id,
        "reference_id": entry.reference_id,
        "action_type": entry.action_type.value,
        "created_at": created_at,
        # Flattened for the list filters (an entry matches when any posting does).
        "asset_id": postings[0].asset_id,
        "participant_ids": sorted(
            {p.account.owner_id for p in postings if p.account.entity_type is EntityType.PARTICIPANT}
        )
        or None,
        "group_ids": sorted({p.account.owner_id for p in postings if p.account.entity_type is EntityType.GROUP})
        or None,
        "buckets": sorted({p.bucket.value for p in postings if not p.account.is_system}) or None,
    }


def is_entry_item(item: dict[str, Any]) -> bool:
    """Whether ``item`` (an item or a stream image) is a journal entry's own item."""
    return item.get("entity") == "JOURNAL_ENTRY" and item.get("SK") == keys.ENTITY_SK


def entry_from_item(item: dict[str, Any]) -> JournalEntry:
    """The entry from its item (or its stream image), in either stored layout."""
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
        postings=tuple(_posting_from_item(p, item) for p in item["postings"]),
        prev_hash=item["prev_hash"],
        entry_hash=item["entry_hash"],
        scale=int(item["scale"]),
    )


def entry_writes(entry: JournalEntry, event_timestamp: datetime | None = None) -> list[transactions.Write]:
    """The entry, a history line per non-system account, and its organization list line."""
    org = entry.organization_id
    created_at = items.timestamp(entry.created_at)
    assert created_at is not None
    # The history lines' event time (their filters use it); the entry itself does not keep it.
    event_time = items.timestamp(event_timestamp or entry.created_at)
    writes = [
        # The entry's fresh id makes it the proof that a re-sent transaction already committed.
        transactions.put(
            {"PK": keys.journal_entry(org, entry.id), "SK": keys.ENTITY_SK, **_entry_attributes(entry)},
            proves_commit=True,
        ),
        transactions.put(
            {
                "PK": keys.journal_list(org, keys.shard_of(entry.id, keys.JOURNAL_LIST_SHARDS)),
                "SK": keys.list_sort_key(created_at, entry.id),
                **_list_line(entry, created_at),
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
                    "event_timestamp": event_time,
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
    owner = owner_partition(org_id, account)
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
    lines, more = listing.read_merged_page(
        partitions, limit=limit, after=after, descending=True, item_filter=item_filter
    )
    # The lines select and order the page; the entries themselves come in one BatchGetItem.
    entry_keys = [{"PK": keys.journal_entry(org_id, str(line["id"])), "SK": keys.ENTITY_SK} for line in lines]
    found = {str(item["id"]): item for item in listing.read_items(entry_keys)}
    entries = [entry_from_item(found[str(line["id"])]) for line in lines if str(line["id"]) in found]
    return entries, (str(lines[-1]["SK"]) if lines and more else None)


def _list_bounds(start: datetime | None, end: datetime, end_inclusive: bool) -> tuple[str, str]:
    """Inclusive sort-key bounds of the journal list lines created in [start, end] (or [start, end)).

    A line's sort key is ``<created_at>#<id>`` with fixed-width timestamps: every line created
    at or after ``start`` sorts at or after the bare timestamp, and every line created before
    ``end`` sorts before the bare ``end`` timestamp (its own lines after it)."""
    low = items.timestamp(start) if start is not None else "0"
    high = items.timestamp(end)
    assert low is not None and high is not None
    return low, (high + "#~" if end_inclusive else high)


def _query_list_lines(org_id: str, condition: Any, **extra: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for shard in range(keys.JOURNAL_LIST_SHARDS):
        params: dict[str, Any] = {
            "TableName": table.table_name(),
            "KeyConditionExpression": Key("PK").eq(keys.journal_list(org_id, shard)) & condition,
            "ConsistentRead": True,
            **extra,
        }
        while True:
            response = table.client().query(**params)
            found.extend(response.get("Items", []))
            if "Count" in response and extra.get("Select") == "COUNT":
                found.append({"count": response["Count"]})
            if "LastEvaluatedKey" not in response:
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found


def journal_entries_between(
    org_id: str, start: datetime | None, end: datetime, *, end_inclusive: bool, asset_id: str | None = None
) -> list[JournalEntry]:
    """Every journal entry of the organization created in [start, end] ([start, end) unless
    ``end_inclusive``; from the first when ``start`` is None), oldest first: the list lines of
    the range from every list shard, then the entries in ``BatchGetItem``s."""
    low, high = _list_bounds(start, end, end_inclusive)
    extra: dict[str, Any] = {"ProjectionExpression": "SK, id"}
    if asset_id is not None:
        extra = {"ProjectionExpression": "SK, id", "FilterExpression": Attr("asset_id").eq(asset_id)}
    lines = _query_list_lines(org_id, Key("SK").between(low, high), **extra)
    lines.sort(key=lambda line: str(line["SK"]))
    entry_keys = [{"PK": keys.journal_entry(org_id, str(line["id"])), "SK": keys.ENTITY_SK} for line in lines]
    found = {str(item["id"]): item for item in listing.read_items(entry_keys)}
    return [entry_from_item(found[str(line["id"])]) for line in lines if str(line["id"]) in found]


def journal_times_between(org_id: str, start: datetime | None, end: datetime) -> list[str]:
    """The creation times (RFC 3339 text) of the organization's list lines in [start, end):
    how many entries the journal holds per minute, read from the sort keys alone."""
    low, high = _list_bounds(start, end, end_inclusive=False)
    lines = _query_list_lines(org_id, Key("SK").between(low, high), ProjectionExpression="SK")
    return sorted(str(line["SK"]).split("#", 1)[0] for line in lines)


def journal_count_between(org_id: str, start: datetime | None, end: datetime) -> int:
    """How many entries the organization's journal list holds created in [start, end)."""
    low, high = _list_bounds(start, end, end_inclusive=False)
    counted = _query_list_lines(org_id, Key("SK").between(low, high), Select="COUNT")
    return sum(int(part["count"]) for part in counted)


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
    """An owner's ledger lines in time order (oldest first unless ``descending``), every
    COMMITTED staged transfer it is owed finished first: its lines are then all there."""
    if account.entity_type is not EntityType.PROGRAM:  # a program wallet is never a recipient
        owner_balances(org_id, account)
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


# ------------------------------------------------------------- staged transfers' credits
# A staged transfer's recipient legs (``storage.transfers`` has the protocol): applied here, by
# whoever drives the transfer, and resolved by every balance read that meets a marker.


def _apply_transfer_step(org: str, entry_id: str) -> bool:
    """Apply the next ``CHUNK`` legs; True when none is left (or the transfer is not COMMITTED)."""
    progress = transfer_store.get(org, entry_id)
    if progress is None or progress.status != transfer_store.COMMITTED:
        return True
    entry = get_entry(org, entry_id)
    asset = asset_store.require(org, entry.postings[0].asset_id)
    recipient_legs = entry.postings[1:]  # the source's debit first, then a credit per recipient leg
    start, stop = progress.applied, min(progress.applied + transfer_store.CHUNK, progress.legs)
    owed = recipient_legs[start:stop]
    last_leg = {posting.account: index for index, posting in enumerate(recipient_legs)}
    records: dict[Account, BalanceRecord] = {}
    for posting in owed:
        if posting.account not in records:
            records[posting.account] = read_balance_as_stored(org, posting.account, asset.id)
    after = {account: record.balance for account, record in records.items()}
    for posting in owed:
        after[posting.account] = after[posting.account].plus(Bucket.AVAILABLE, posting.amount)
    writes = [
        # The marker goes with the account's last leg: until then a reader still finishes the transfer.
        balance_write(
            org,
            account,
            asset.id,
            record,
            after[account],
            record.last_hash,
            settles=entry_id if last_leg[account] < stop else None,
        )
        for account, record in records.items()
    ]
    # Entry, list line, then one ledger line per posting: the source's, then the recipients'.
    writes.extend(entry_writes(entry)[3:][start:stop])
    if asset.inventory_mode is InventoryMode.LOT:
        assert entry.program_id is not None
        for account, lot in rules.recipient_lots(
            [rules.Credit(p.account, p.amount) for p in owed],
            {account: record.balance.available for account, record in records.items()},
            asset_id=asset.id,
            program_id=entry.program_id,
            now=entry.created_at,
        ):
            writes.extend(lot_store.put(org, account, lot))
    writes.append(transfer_store.advance_write(progress, stop))
    transactions.write(writes)
    return stop >= progress.legs


def finish_transfer(org: str, entry_id: str) -> None:
    """Step 3: apply every recipient leg a COMMITTED staged transfer still owes (one read if none).

    Run by the request that committed it, its replays, the stream, and any reader that meets
    its marker; racing drivers lose on ``applied`` or a balance's version and read again."""
    failures = 0
    while True:
        try:
            if _apply_transfer_step(org, entry_id):
                return
            failures = 0
        except (StaleBalance, transfer_store.StaleProgress):
            failures = transfer_store.pause(failures)


def settle_incoming(org: str, account: Account, asset_id: str, incoming: frozenset[str]) -> bool:
    """Step 4: resolve the transfers a balance's ``incoming`` names before a reader trusts it.

    A COMMITTED one is finished; a PREPARING one past its deadline undone; an ABORTED one's
    leftover markers removed. True when the balance may have changed (read it again).

    Runs in a fresh context: outside the reader's unit of work (its writes commit now, not with
    the reader's transaction) and its read cache (it reads the table as it is)."""
    return contextvars.Context().run(_settle_incoming, org, account, asset_id, incoming)


def _settle_incoming(org: str, account: Account, asset_id: str, incoming: frozenset[str]) -> bool:
    changed = False
    for entry_id in sorted(incoming):
        progress = transfer_store.get(org, entry_id)
        if progress is not None and progress.status == transfer_store.COMMITTED:
            finish_transfer(org, entry_id)
            changed = True
        elif progress is not None and progress.status == transfer_store.PREPARING:
            if progress.overdue(clock.now()):
                if not transfer_store.abort(org, entry_id):
                    finish_transfer(org, entry_id)  # it committed just now
                changed = True
        elif progress is not None and progress.status == transfer_store.ABORTED:
            changed |= transfer_store.abort(org, entry_id)
        else:
            # COMPLETED (or unknown) with a marker still here cannot happen (the marker goes with
            # the last leg); should it, the marker is stale: drop it rather than check forever.
            transactions.write([unmark_write(org, account, asset_id, entry_id)])
            changed = True
    return changed
