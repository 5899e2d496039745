"""A balance item: its key, its record, and the writes that replace it.

The lowest layer of ``storage.ledger`` (which re-exports it): ``storage.transfers`` builds on
it to prepare and undo a staged transfer's markers, while ``storage.ledger``'s reads resolve
those markers through ``storage.transfers``: the imports run one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.ledger import GENESIS_HASH, Account, Balance, EntityType
from scrip.storage import keys, read_cache, transactions

INCOMING = "incoming"  # string set: entry ids of staged transfers that owe this balance a credit


class StaleBalance(Exception):
    """A balance changed between our read and our write: read again and retry."""


@dataclass(frozen=True)
class BalanceRecord:
    balance: Balance
    version: int
    last_hash: str
    # Staged transfers (storage.transfers) that owe this balance a credit: their journal entry
    # ids. A transfer that is not COMMITTED means nothing to a reader; a COMMITTED one is
    # finished by the reader before it trusts the amounts (``read_balance``).
    incoming: frozenset[str] = frozenset()


EMPTY = BalanceRecord(Balance(), 0, GENESIS_HASH)


def owner_partition(org_id: str, account: Account) -> str:
    if account.entity_type is EntityType.PARTICIPANT:
        return keys.participant(org_id, account.owner_id)
    if account.entity_type is EntityType.GROUP:
        return keys.group(org_id, account.owner_id)
    if account.entity_type is EntityType.PROGRAM:
        return keys.program(org_id, account.owner_id)
    raise ValueError("system accounts have no partition")


def balance_key(org_id: str, account: Account, asset_id: str, shard: int | None) -> dict[str, str]:
    if account.entity_type is EntityType.PROGRAM:
        assert shard is not None
        return {"PK": keys.wallet(org_id, account.owner_id, asset_id, shard), "SK": keys.ENTITY_SK}
    program_id = account.program_id if account.entity_type is EntityType.GROUP else None
    return {"PK": owner_partition(org_id, account), "SK": keys.balance(asset_id, program_id)}


def record_of(item: dict[str, Any] | None) -> BalanceRecord:
    if item is None:
        return EMPTY
    balance = Balance(Decimal(item["available"]), Decimal(item["held"]), Decimal(item["deferred"]))
    incoming = frozenset(str(entry_id) for entry_id in item.get(INCOMING, ()))
    return BalanceRecord(balance, int(item["version"]), str(item.get("last_entry_hash", GENESIS_HASH)), incoming)


def read_balance_as_stored(org_id: str, account: Account, asset_id: str) -> BalanceRecord:
    """The balance item as it is, incoming credits unresolved: for the transfer driver itself."""
    return record_of(read_cache.get_item(balance_key(org_id, account, asset_id, None)))


def balance_write(
    org_id: str,
    account: Account,
    asset_id: str,
    before: BalanceRecord,
    after: Balance,
    last_hash: str,
    *,
    shard: int | None = None,
    settles: str | None = None,
    marks: str | None = None,
) -> transactions.Write:
    """Replace a balance record on condition that it is still ``before`` (by version).

    The staged transfers it is owed (``incoming``) carry over, but ``settles``: the transfer
    whose last credit to this balance this write applies; ``marks`` adds one being prepared.
    A marker on a balance that did not exist yet creates it at zero without a hash chain
    head (``last_entry_hash``): ``storage.ledger.owner_balances`` does not show it."""
    condition = Attr("PK").not_exists() if before.version == 0 else Attr("version").eq(before.version)
    incoming = before.incoming - {settles} if settles else before.incoming
    head: str | None = last_hash
    if marks:
        incoming = incoming | {marks}
        head = last_hash if before.version else None
    item = {
        **balance_key(org_id, account, asset_id, shard),
        "entity": "BALANCE",
        "entity_type": account.entity_type.value,
        "owner_id": account.owner_id,
        "program_id": account.program_id,
        "asset_id": asset_id,
        "available": after.available,
        "held": after.held,
        "deferred": after.deferred,
        "version": before.version + 1,
        "last_entry_hash": head,
        INCOMING: set(incoming) or None,  # DynamoDB has no empty set: no attribute
    }
    return transactions.put(item, condition=condition, on_condition_failed=StaleBalance)


def unmark_write(org_id: str, account: Account, asset_id: str, entry_id: str) -> transactions.Write:
    """Remove an undone staged transfer's marker from a balance (its amounts untouched), the
    version bumped like any change: a writer that read the marker fails and reads again."""
    return transactions.Write(
        "Update",
        {
            "Key": balance_key(org_id, account, asset_id, None),
            "UpdateExpression": "SET #v = #v + :one DELETE #i :ids",
            "ConditionExpression": "attribute_exists(#v)",  # a marker was set: the item exists
            "ExpressionAttributeNames": {"#v": "version", "#i": INCOMING},
            "ExpressionAttributeValues": {":one": 1, ":ids": {entry_id}},
        },
    )


def read_balances_as_stored(org_id: str, accounts: list[Account], asset_id: str) -> dict[Account, BalanceRecord]:
    """Participants' and groups' balances as they are (one ``BatchGetItem`` per 100)."""
    by_key = {(k["PK"], k["SK"]): a for a in accounts for k in [balance_key(org_id, a, asset_id, None)]}
    found = {(str(i["PK"]), str(i["SK"])): i for i in read_cache.get_items([{"PK": pk, "SK": sk} for pk, sk in by_key])}
    return {account: record_of(found.get(key)) for key, account in by_key.items()}
