"""What the journal audit reads: the organization's owners, their chains' heads, entries by id.

Every read is a key lookup or a query of one (list) partition, never a scan: the owners come
from the organization's participant, group and program lists in creation order, an owner's
chains from the balance items in its partition (a program wallet's from the assets linked to
its program, the head on sub-wallet 0), and the entries from ``BatchGetItem``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scrip.domain.journal_audit import OwnerKind
from scrip.domain.ledger import (
    GENESIS_HASH,
    Account,
    EntityType,
    JournalEntry,
    group_account,
    participant_account,
    wallet_account,
)
from scrip.storage import assets as asset_store
from scrip.storage import keys, listing, table
from scrip.storage.balance_items import balance_key, owner_partition
from scrip.storage.ledger import entry_from_item


@dataclass(frozen=True)
class ChainHead:
    """One owner × asset chain and the head its balance item keeps."""

    account: Account
    asset_id: str
    key: str  # orders an owner's chains, so that a walk resumes after one
    head: str


def owners_page(org_id: str, kind: OwnerKind, *, limit: int, after: str | None) -> tuple[list[tuple[str, str]], bool]:
    """(list sort key, id) of up to ``limit`` owners after ``after``, oldest first, and whether
    more follow. Archived groups and programs included: their chains stay."""
    if kind is OwnerKind.PARTICIPANT:
        partitions = [
            keys.participants_list(org_id, "BY_CREATED", shard) for shard in range(keys.PARTICIPANT_LIST_SHARDS)
        ]
        found, more = listing.read_merged_page(partitions, limit=limit, after=after, descending=False)
    else:
        partition = keys.groups_by_created(org_id) if kind is OwnerKind.GROUP else keys.programs_by_created(org_id)
        found, more = listing.read_page(partition, limit=limit, after=after, descending=False)
    return [(str(item["SK"]), str(item["id"])) for item in found], more


def _head(item: dict[str, Any] | None) -> str:
    # No item, or one a staged transfer's marker created (no head yet): no entry was sealed.
    head = item.get("last_entry_hash") if item is not None else None
    return str(head) if head else GENESIS_HASH


def owner_chains(org_id: str, kind: OwnerKind, owner_id: str) -> list[ChainHead]:
    """The owner's chains (one per balance it holds), in ``key`` order."""
    if kind is OwnerKind.PROGRAM:
        return _wallet_chains(org_id, owner_id)
    account = participant_account(owner_id) if kind is OwnerKind.PARTICIPANT else group_account(owner_id, "")
    chains = []
    for item in listing.query_all(owner_partition(org_id, account), prefix=keys.BALANCE_PREFIX):
        owner = group_account(owner_id, str(item["program_id"])) if kind is OwnerKind.GROUP else account
        chains.append(ChainHead(owner, str(item["asset_id"]), str(item["SK"]), _head(item)))
    return sorted(chains, key=lambda chain: chain.key)


def _wallet_chains(org_id: str, program_id: str) -> list[ChainHead]:
    asset_ids: list[str] = []
    after = None
    while True:
        entries, more = asset_store.linked_entries(org_id, program_id, limit=200, after=after)
        asset_ids += [asset_id for _, asset_id in entries]
        if not more or not entries:
            break
        after = entries[-1][0]
    wallet = wallet_account(program_id)
    request = {balance_key(org_id, wallet, asset_id, 0)["PK"]: asset_id for asset_id in asset_ids}
    # Sub-wallet 0 keeps the wallet's chain head; an asset never funded has no wallet item.
    found = listing.read_items([{"PK": pk, "SK": keys.ENTITY_SK} for pk in request])
    chains = [ChainHead(wallet, request[str(i["PK"])], request[str(i["PK"])], _head(i)) for i in found]
    return sorted(chains, key=lambda chain: chain.key)


def chain_head(org_id: str, account: Account, asset_id: str) -> str:
    """The head the account's balance of ``asset_id`` keeps now (read consistently)."""
    shard = 0 if account.entity_type is EntityType.PROGRAM else None
    got = table.client().get_item(
        TableName=table.table_name(), Key=balance_key(org_id, account, asset_id, shard), ConsistentRead=True
    )
    return _head(got.get("Item"))


def chain_key(account: Account, asset_id: str) -> str:
    """The ``key`` of a chain ``owner_chains`` would list, for one named by the request."""
    if account.entity_type is EntityType.PROGRAM:
        return asset_id
    return keys.balance(asset_id, account.program_id if account.entity_type is EntityType.GROUP else None)


class Unreadable:
    """A stored entry that no longer reads as one (an attribute altered to a wrong type)."""


UNREADABLE = Unreadable()


def entries(org_id: str, entry_ids: Sequence[str]) -> dict[str, JournalEntry | Unreadable]:
    """The stored entries among ``entry_ids``, by id (absent: not stored)."""
    by_partition = {keys.journal_entry(org_id, entry_id): entry_id for entry_id in entry_ids}
    found: dict[str, JournalEntry | Unreadable] = {}
    for item in listing.read_items([{"PK": pk, "SK": keys.ENTITY_SK} for pk in by_partition]):
        entry_id = by_partition[str(item["PK"])]
        try:
            found[entry_id] = entry_from_item(item)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            found[entry_id] = UNREADABLE
    return found
