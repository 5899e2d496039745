"""Turning an operation's legs into one committed journal entry (04 §2.5).

An operation says which accounts move and by how much (its *legs*); this module reads the
balances involved, refuses what would overdraw, seals the entry onto its primary owner's
chain, and commits the entry, every balance change and (when given) the idempotency record in
one transaction. A balance that changed meanwhile makes the attempt stale: it is re-read and
re-planned, so concurrent operations never overdraw and never lose an update.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from scrip.domain import clock, ids
from scrip.domain.assets import Asset
from scrip.domain.errors import Conflict
from scrip.domain.ledger import (
    GENESIS_HASH,
    Account,
    ActionType,
    Balance,
    Bucket,
    EntityType,
    InsufficientBalance,
    JournalEntry,
    Posting,
    seal,
)
from scrip.domain.programs import Program
from scrip.storage import ledger as ledger_store
from scrip.storage import transactions

_ATTEMPTS = 40


@dataclass(frozen=True)
class Leg:
    account: Account
    bucket: Bucket
    amount: Decimal  # signed: positive credits the account
    program_id: str | None = None  # attribution when the entry has no program (a lot's program)


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


def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def _wallet_draws(records: list[ledger_store.BalanceRecord], need: Decimal, scale: int) -> list[tuple[int, Decimal]]:
    """Which sub-wallets a draw of ``need`` takes from: one that covers it (random start), else several."""
    order = list(range(len(records)))
    random.shuffle(order)  # spread concurrent credits over the sub-wallets
    for shard in order:
        if records[shard].balance.available >= need:
            return [(shard, need)]
    draws, remaining = [], need
    for shard in sorted(order, key=lambda s: records[s].balance.available, reverse=True):
        take = min(records[shard].balance.available, remaining)
        if take > 0:
            draws.append((shard, take))
            remaining -= take
        if remaining == 0:
            return draws
    raise InsufficientBalance(
        "the program wallet cannot cover this amount",
        available=sum((r.balance.available for r in records), Decimal(0)),
        requested=need,
        scale=scale,
    )


def _wallet_spread(amount: Decimal, shards: int, scale: int) -> list[tuple[int, Decimal]]:
    """Funding spreads over the sub-wallets, in amounts of the asset's scale."""
    part = (amount / shards).quantize(_quantum(scale), rounding=ROUND_DOWN)
    parts = [(shard, part) for shard in range(shards)]
    parts[0] = (0, amount - part * (shards - 1))
    return [p for p in parts if p[1] != 0]


def plan(operation: Operation) -> Plan:
    """Read the balances the legs touch and build the entry and its writes (no commit)."""
    org, asset = operation.organization_id, operation.asset
    now = clock.now()
    owners: dict[Account, ledger_store.BalanceRecord] = {}
    wallet_delta: dict[Account, Decimal] = {}
    for leg in operation.legs:
        if leg.account.entity_type is EntityType.PROGRAM:
            wallet_delta[leg.account] = wallet_delta.get(leg.account, Decimal(0)) + leg.amount
        elif not leg.account.is_system and leg.account not in owners:
            owners[leg.account] = ledger_store.read_balance(org, leg.account, asset.id)

    for account, version in operation.balance_versions.items():
        if account in owners and owners[account].version != version:
            raise ledger_store.StaleBalance()
    after = {account: record.balance for account, record in owners.items()}
    for leg in operation.legs:
        if leg.account in after:
            after[leg.account] = after[leg.account].plus(leg.bucket, leg.amount)
    for leg in operation.legs:
        if leg.account not in after or leg.amount >= 0:
            continue
        value = after[leg.account].of(leg.bucket)
        allowed = leg.bucket is Bucket.AVAILABLE and leg.account in operation.allow_negative
        if value < 0 and not allowed:
            before = owners[leg.account].balance.of(leg.bucket)
            raise InsufficientBalance(
                f"{leg.bucket.value} balance is insufficient",
                available=before,
                requested=-leg.amount,
                scale=asset.scale,
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
        if delta < 0:
            changes = [(shard, -take) for shard, take in _wallet_draws(records, -delta, asset.scale)]
        else:
            changes = _wallet_spread(delta, len(records), asset.scale)
        touched = {shard: records[shard].balance for shard in range(len(records))}
        for shard, change in changes:
            touched[shard] = touched[shard].plus(Bucket.AVAILABLE, change)
        changed_shards = {shard for shard, _ in changes} | ({0} if account == primary else set())
        for shard in sorted(changed_shards):
            record = records[shard]
            last_hash = entry.entry_hash if (account == primary and shard == 0) else record.last_hash
            writes.append(
                ledger_store.balance_write(org, account, asset.id, record, touched[shard], last_hash, shard=shard)
            )
        after[account] = Balance(
            sum((b.available for b in touched.values()), Decimal(0)),
            sum((b.held for b in touched.values()), Decimal(0)),
            sum((b.deferred for b in touched.values()), Decimal(0)),
        )
    writes.extend(ledger_store.entry_writes(entry, operation.origin.event_timestamp))
    writes.extend(operation.extra_writes)
    return Plan(entry, writes, after)


def retry_stale[T](attempt: Callable[[], T]) -> T:
    """Run ``attempt`` until no balance it read changed before its commit."""
    for number in range(_ATTEMPTS):
        try:
            return attempt()
        except ledger_store.StaleBalance:
            time.sleep(random.uniform(0, 0.001 * min(number + 1, 20)))  # noqa: S311 - jitter, not a secret
    raise Conflict("the balance changed concurrently too often; retry the request")


def commit(operation: Operation) -> Plan:
    def attempt() -> Plan:
        planned = plan(operation)
        transactions.write(planned.writes)
        return planned

    return retry_stale(attempt)
