"""Turning an operation's legs into one committed journal entry (04 §2.5).

An operation says which accounts move and by how much (its *legs*); this module reads the
balances involved, has ``domain.legs`` apply the legs (refusing what would overdraw, choosing
sub-wallets), seals the entry onto its primary owner's chain, and commits the entry, every
balance change and (when given) the idempotency record in one transaction. A balance that
changed meanwhile makes the attempt stale: it is re-read and re-planned, so concurrent
operations never overdraw and never lose an update.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scrip.domain import clock, ids, legs
from scrip.domain.assets import Asset
from scrip.domain.ledger import GENESIS_HASH, Account, ActionType, Balance, JournalEntry, Posting, seal
from scrip.domain.legs import Leg as Leg  # where the operations that build legs import it from
from scrip.domain.programs import Program
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.storage import assets as asset_store
from scrip.storage import ledger as ledger_store
from scrip.storage import transactions

# Balances are the hottest items (every operation of a participant writes one): many attempts.
BALANCE_RETRY = StaleRetry(
    ledger_store.StaleBalance,
    attempts=40,
    pause_max_steps=20,
    conflict_message="the balance changed concurrently too often; retry the request",
)


@dataclass(frozen=True)
class Origin:
    """Why the entry exists: an API key, or an event's rule."""

    api_key_id: str | None = None
    event_id: str | None = None
    rule_id: str | None = None
    event_timestamp: datetime | None = None


@dataclass(frozen=True)
class Plan:
    entry: JournalEntry
    writes: list[transactions.Write]
    balances: dict[Account, Balance]  # after the operation, for every non-system account


@dataclass(frozen=True)
class Operation:
    organization_id: str
    program: Program | None  # None for the expiry and maturity jobs (decision 20)
    asset: Asset
    action_type: ActionType
    legs: Sequence[Leg]
    description: str | None
    origin: Origin
    reference_id: str | None = None
    allow_negative: frozenset[Account] = field(default_factory=frozenset)
    extra_writes: Sequence[transactions.Write] = ()
    # Versions of balances read before what ``extra_writes`` were built from (an owner's lots):
    # the plan is stale unless it reads the same versions, since lot writes carry no guard.
    balance_versions: Mapping[Account, int] = field(default_factory=dict)


def _shuffled(count: int) -> list[int]:
    order = list(range(count))
    random.shuffle(order)  # spread concurrent draws over the sub-wallets
    return order


def plan(operation: Operation) -> Plan:
    """Read the balances the legs touch and build the entry and its writes (no commit)."""
    org, asset = operation.organization_id, operation.asset
    now = clock.now()
    wallet_delta = legs.wallet_deltas(operation.legs)
    owners = {account: ledger_store.read_balance(org, account, asset.id) for account in legs.owners(operation.legs)}
    for account, version in operation.balance_versions.items():
        if account in owners and owners[account].version != version:
            raise ledger_store.StaleBalance()
    after = legs.apply(
        {account: record.balance for account, record in owners.items()},
        operation.legs,
        operation.allow_negative,
        asset.scale,
    )

    program_id = operation.program.id if operation.program else None
    postings = tuple(
        Posting(ids.new_id(), leg.account, asset.id, asset.symbol, leg.bucket, leg.amount, leg.program_id or program_id)
        for leg in operation.legs
    )
    draft = JournalEntry(
        id=ids.new_id(),
        organization_id=org,
        action_type=operation.action_type,
        description=operation.description,
        program_id=program_id,
        program_name=operation.program.name if operation.program else None,
        event_id=operation.origin.event_id,
        rule_id=operation.origin.rule_id,
        reference_id=operation.reference_id,
        created_by_api_key_id=operation.origin.api_key_id,
        created_at=now,
        postings=postings,
        scale=asset.scale,
    )
    primary = draft.primary_account

    wallet_records: dict[Account, list[ledger_store.BalanceRecord]] = {
        account: ledger_store.read_wallet(org, account.owner_id, asset.id) for account in wallet_delta
    }
    if primary in wallet_records:
        prev_hash = wallet_records[primary][0].last_hash
    else:
        prev_hash = owners[primary].last_hash if primary in owners else GENESIS_HASH
    entry = seal(draft, prev_hash)

    writes: list[transactions.Write] = []
    for account, record in owners.items():
        last_hash = entry.entry_hash if account == primary else record.last_hash
        writes.append(ledger_store.balance_write(org, account, asset.id, record, after[account], last_hash))
    for account, delta in wallet_delta.items():
        records = wallet_records[account]
        shards = [record.balance for record in records]
        changes = legs.wallet_changes(shards, delta, asset.scale, _shuffled(len(records)))
        touched = legs.apply_to_wallet(shards, changes)
        changed_shards = {shard for shard, _ in changes} | ({0} if account == primary else set())
        for shard in sorted(changed_shards):
            record = records[shard]
            last_hash = entry.entry_hash if (account == primary and shard == 0) else record.last_hash
            writes.append(
                ledger_store.balance_write(org, account, asset.id, record, touched[shard], last_hash, shard=shard)
            )
        after[account] = legs.total(touched)
    writes.extend(ledger_store.entry_writes(entry, operation.origin.event_timestamp))
    writes.extend(operation.extra_writes)
    if operation.program is not None:
        # The program's first entry in the asset makes the link permanent (01 §6.9.7): recorded
        # on the asset item in this transaction, so unlinking reads one item and no journal.
        # Later postings find it already recorded and write nothing more.
        first = asset_store.first_posting(asset, operation.program.id)
        if first is not None:
            writes.append(first)
    return Plan(entry, writes, after)


def commit(operation: Operation) -> Plan:
    def attempt() -> Plan:
        planned = plan(operation)
        transactions.write(planned.writes)
        return planned

    return retry_on_stale(attempt, BALANCE_RETRY)
