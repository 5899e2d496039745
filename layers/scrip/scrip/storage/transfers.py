"""A staged transfer (05 §3.1, issue P9): too large for one transaction, yet seen whole or not at all.

100 recipients' balances, ledger lines and lots cannot change in one ``TransactWriteItems``,
so a staged transfer has one commit point, its progress item, and every reader resolves the
legs still in flight through it (the commit-record pattern of Percolator, or TigerBeetle's
two-phase transfers):

1. *Prepare*, invisible: the progress item ``PREPARING`` (the recipients, the asset, when)
   with a due entry at its deadline, then chunk by chunk an *incoming marker* on each
   recipient's balance: the entry id in its ``incoming`` set, its version bumped (a writer that
   read the balance before fails its condition and reads the marker). No amount changes, and a
   marker whose transfer is not COMMITTED means nothing to a reader.
2. *Commit*, one transaction (built by ``services.transfers``): the source's debit, the journal
   entry, the idempotency record and ``PREPARING -> COMMITTED``, on condition it is still
   PREPARING with every marker set.
3. *Apply* (``storage.ledger.finish_transfer``): ``CHUNK`` recipient legs per transaction, each moving ``applied`` on
   only if it is still what was read, each balance's marker removed with its last leg;
   COMPLETED at the end. A leg applies exactly once, whoever drives it.
4. *Readers help* (``storage.ledger.settle_incoming``): a balance read that meets a marker of a COMMITTED transfer
   finishes it before trusting the amounts (``storage.ledger.read_balance``, ``owner_balances``).
   Before the commit point nobody sees anything; after it nobody sees a recipient without its
   credit.
5. *Undo*: a PREPARING transfer past ``DEADLINE`` (its request died) is ABORTED on condition it
   is still PREPARING, so a late commit fails (409), and its markers are removed; found by the
   due entry (``services.transfers.abort_overdue``, every minute) or by a reader meeting it.
   A COMMITTED one left unfinished is finished by the stream (``StreamDispatchFunction``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import Conflict
from scrip.domain.ledger import Account, EntityType
from scrip.storage import balance_items, items, keys, listing, table, transactions
from scrip.storage import lots as lot_store

PREPARING, COMMITTED, COMPLETED, ABORTED = "PREPARING", "COMMITTED", "COMPLETED", "ABORTED"
# Written before the two-phase protocol: the entry and the source's side had committed.
_LEGACY_PENDING = "PENDING"
# Only the POST /v1/transfers request prepares and commits, and API functions time out after
# 15 s (template.yaml Globals): a request still at work is never undone under it, and one that
# died is undone within minutes.
DEADLINE = timedelta(minutes=2)
# Recipient legs per apply transaction: a balance, a ledger line and (LOT) a lot each, plus the
# progress item, stay under DynamoDB's 100 items.
CHUNK = 30
# Balances marked (or unmarked) per prepare (or undo) transaction, plus the progress item.
MARK_CHUNK = 99
DUE_KIND = "TRANSFER"  # its own kind in the due index: the lot job never reads it
_FINISH_ATTEMPTS = 40


class StaleProgress(Exception):
    """Another driver moved the progress item meanwhile: read it again."""


class TransferAborted(Conflict):
    """The transfer was undone (its deadline passed) before this request committed it."""


@dataclass(frozen=True)
class Progress:
    organization_id: str
    journal_entry_id: str
    applied: int  # recipient legs applied, in posting order
    legs: int
    status: str
    asset_id: str = ""
    created_at: datetime | None = None
    recipients: tuple[Account, ...] = ()  # distinct, in first-leg order: the balances to mark
    marked: int = 0  # recipients[:marked] carry the marker

    def overdue(self, now: datetime) -> bool:
        return self.created_at is None or now >= self.created_at + DEADLINE


def _key(org_id: str, entry_id: str) -> dict[str, str]:
    return {"PK": keys.transfer_progress(org_id, entry_id), "SK": keys.ENTITY_SK}


def _account_item(account: Account) -> dict[str, Any]:
    return {"t": account.entity_type.value, "o": account.owner_id, "ap": account.program_id}


def _account(item: dict[str, Any]) -> Account:
    return Account(EntityType(item["t"]), str(item["o"]), item.get("ap"))


def _item(progress: Progress) -> dict[str, Any]:
    return {
        **_key(progress.organization_id, progress.journal_entry_id),
        "entity": "TRANSFER_PROGRESS",
        "organization_id": progress.organization_id,
        "journal_entry_id": progress.journal_entry_id,
        "applied": progress.applied,
        "legs": progress.legs,
        "status": progress.status,
        "asset_id": progress.asset_id,
        "created_at": items.timestamp(progress.created_at),
        "recipients": [
            {k: v for k, v in _account_item(account).items() if v is not None} for account in progress.recipients
        ],
        "marked": progress.marked,
    }


def from_item(item: dict[str, Any]) -> Progress:
    status = str(item["status"])
    return Progress(
        str(item["organization_id"]),
        str(item["journal_entry_id"]),
        int(item["applied"]),
        int(item["legs"]),
        COMMITTED if status == _LEGACY_PENDING else status,
        str(item.get("asset_id", "")),
        items.moment(item.get("created_at")),
        tuple(_account(each) for each in item.get("recipients", ())),
        int(item.get("marked", 0)),
    )


def get(org_id: str, entry_id: str) -> Progress | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, entry_id), ConsistentRead=True)
    item = got.get("Item")
    return from_item(item) if item else None


def _due_key(progress: Progress) -> dict[str, str]:
    assert progress.created_at is not None
    due_at = progress.created_at + DEADLINE
    shard = keys.shard_of(progress.journal_entry_id, lot_store.DUE_SHARDS)
    key = _key(progress.organization_id, progress.journal_entry_id)
    return {
        "PK": keys.lots_due(DUE_KIND, due_at.strftime("%Y-%m-%dT%H"), shard),
        "SK": keys.due_entry(items.timestamp(due_at) or "", key["PK"], key["SK"]),
    }


# ------------------------------------------------------------- prepare and commit


def prepare(org_id: str, entry_id: str, asset_id: str, recipients: list[Account], legs: int, now: datetime) -> Progress:
    """Step 1: the progress item PREPARING with its due entry, then every recipient's marker.

    Raises ``TransferAborted`` when the deadline sweep undid it meanwhile."""
    progress = Progress(org_id, entry_id, 0, legs, PREPARING, asset_id, now, tuple(recipients), 0)
    due = {
        **_due_key(progress),
        "entity": "TRANSFER_DUE",
        "organization_id": org_id,
        "journal_entry_id": entry_id,
    }
    transactions.write([transactions.put(_item(progress), condition=Attr("PK").not_exists()), transactions.put(due)])
    failures = 0
    while progress.marked < len(recipients):
        upto = min(progress.marked + MARK_CHUNK, len(recipients))
        chunk = recipients[progress.marked : upto]
        records = balance_items.read_balances_as_stored(org_id, chunk, asset_id)
        writes = [
            balance_items.balance_write(
                org_id, account, asset_id, record, record.balance, record.last_hash, marks=entry_id
            )
            for account, record in records.items()
        ]
        writes.append(_move(progress, marked=upto, expect=PREPARING))
        try:
            transactions.write(writes)
        except balance_items.StaleBalance:
            failures = pause(failures)  # a recipient's balance changed since it was read
            continue
        progress = replace(progress, marked=upto)
    return progress


def pause(failures: int) -> int:
    """Wait a random moment before reading again; ``Conflict`` when it keeps losing."""
    failures += 1
    if failures >= _FINISH_ATTEMPTS:
        raise Conflict("the transfer's recipients changed concurrently too often; retry the request")
    time.sleep(random.uniform(0, 0.001 * min(failures, 20)))  # noqa: S311 - jitter, not a secret
    return failures


def _move(before: Progress, *, expect: str, status: str | None = None, marked: int | None = None) -> transactions.Write:
    """The progress item changed on condition that it is still ``before`` in ``expect``."""
    sets, values = [], {":expect": expect, ":marked": before.marked}
    if status is not None:
        sets.append("#s = :status")
        values[":status"] = status
    if marked is not None:
        sets.append("marked = :upto")
        values[":upto"] = marked
    return transactions.Write(
        "Update",
        {
            "Key": _key(before.organization_id, before.journal_entry_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#s = :expect AND marked = :marked",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        },
        on_condition_failed=(
            (lambda: TransferAborted("the transfer was undone before it committed: send it again"))
            if expect == PREPARING
            else StaleProgress
        ),
    )


def commit_write(progress: Progress) -> transactions.Write:
    """Step 2's share of the commit transaction: PREPARING -> COMMITTED, every marker set."""
    assert progress.marked == len(progress.recipients)
    return _move(progress, expect=PREPARING, status=COMMITTED)


# ------------------------------------------------------------- apply


def advance_write(before: Progress, applied: int) -> transactions.Write:
    """Record ``applied`` legs, on condition that no other driver moved it since ``before``."""
    return transactions.Write(
        "Update",
        {
            "Key": _key(before.organization_id, before.journal_entry_id),
            "UpdateExpression": "SET applied = :applied, #s = :status",
            "ConditionExpression": "applied = :before",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":applied": applied,
                ":before": before.applied,
                ":status": COMPLETED if applied >= before.legs else before.status,
            },
        },
        on_condition_failed=StaleProgress,
    )


# ------------------------------------------------------------- undo


def abort(org: str, entry_id: str) -> bool:
    """Step 5: undo a transfer still PREPARING (and finish removing an ABORTED one's markers).

    The status moves first, on condition it is still PREPARING: from then on the commit fails.
    Markers go last (from the end, ``marked`` counting down), so an interrupted undo resumes.
    False when the transfer had committed (or is unknown): nothing to undo."""
    while True:
        progress = get(org, entry_id)
        if progress is None or progress.status in (COMMITTED, COMPLETED):
            return False
        if progress.status == PREPARING:
            try:
                transactions.write([_move(progress, expect=PREPARING, status=ABORTED)])
            except TransferAborted:
                continue  # it committed, or marked one more chunk, meanwhile: look again
            progress = replace(progress, status=ABORTED)
        while progress.marked > 0:
            rest = max(progress.marked - MARK_CHUNK, 0)
            writes = [
                balance_items.unmark_write(org, account, progress.asset_id, entry_id)
                for account in progress.recipients[rest : progress.marked]
            ]
            writes.append(_move(progress, expect=ABORTED, marked=rest))
            try:
                transactions.write(writes)
            except StaleProgress:
                break  # another undo removed them: done either way
            progress = replace(progress, marked=rest)
        return True


# ------------------------------------------------------------- the deadline sweep


def overdue_entries(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Due entries of staged transfers in one hour bucket (every shard) due by ``until``."""
    limit = items.timestamp(until) or ""
    found = []
    for shard in range(lot_store.DUE_SHARDS):
        partition = keys.lots_due(DUE_KIND, hour.strftime("%Y-%m-%dT%H"), shard)
        for entry in listing.read_up_to(partition, keys.due_entries_up_to(limit)):
            if keys.due_time(str(entry["SK"])) <= limit:
                found.append(entry)
    return found


def delete_due(entry: dict[str, Any]) -> None:
    transactions.write([transactions.delete({"PK": entry["PK"], "SK": entry["SK"]})])
