"""Transfers (05 §3): move existing value from one source to 1-100 recipients, all or nothing.

The checks run in the spec's order (05 §3.1): the idempotency record first (a replay answers
even if a party was suspended since), then amounts, parties (404), self-transfer (400), the
program, the asset link and every party's status, then the source's balance. One journal entry
(the source's aggregated debit and a credit per recipient), every balance, the lots and the
idempotency record commit in one ``TransactWriteItems`` when they fit one (100 items).

A larger transfer (up to 100 recipients, LOT assets included) is *staged*: its first
transaction commits the whole entry, the source's balance, ledger line and drained lots, the
idempotency record and a progress item (``storage.transfers``); ``finish`` then applies the
recipient legs ``CHUNK`` per transaction, each moving the progress item on only if it is still
what was read. Nothing is lost or created at any step: the entry sums to zero from the start,
every leg applies exactly once, and a crash leaves the progress item PENDING, which the stream
(``StreamDispatchFunction``) finishes. The request answers once every leg applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from scrip.domain import clock, ids, legs
from scrip.domain import transfers as rules
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.errors import NotFound, UnprocessableError
from scrip.domain.idempotency import IdempotencyScope, IdempotentAnswer, StoredResponse, fingerprint
from scrip.domain.ledger import (
    Account,
    ActionType,
    Bucket,
    InsufficientBalance,
    JournalEntry,
    Posting,
    group_account,
    participant_account,
    seal,
)
from scrip.domain.lots import LotFilters, LotStatus, consume, eligible
from scrip.domain.organizations import Caller
from scrip.domain.programs import Program
from scrip.services.balances import checked_amount
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.services.posting import BALANCE_RETRY, Operation, Origin, Plan, plan
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import idempotency, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage import transfers as transfer_store

FAMILY = "transfer"
# Recipient legs per later transaction of a staged transfer: a balance, a ledger line and (LOT)
# a lot each, plus the progress item, stay under DynamoDB's 100 items.
CHUNK = 30
# The progress item is contended only by drivers of one transfer; balances by everyone.
FINISH_RETRY = StaleRetry(
    (ledger_store.StaleBalance, transfer_store.StaleProgress),
    attempts=40,
    pause_max_steps=20,
    conflict_message="the transfer's recipients changed concurrently too often; it will be finished from the stream",
)


@dataclass(frozen=True)
class PartyRef:
    """A source or recipient as the request names it: exactly one of the three identifiers."""

    participant_id: str | None = None
    external_id: str | None = None
    group_id: str | None = None


@dataclass(frozen=True)
class RecipientRequest:
    party: PartyRef
    amount: Decimal


@dataclass(frozen=True)
class TransferRequest:
    program_id: str
    asset_id: str
    description: str
    source: PartyRef
    recipients: Sequence[RecipientRequest]


@dataclass(frozen=True)
class TransferResult:
    asset: Asset
    journal_entry_id: str
    recipient_count: int
    source_id: str
    total_amount: Decimal


def _resolve(org: str, party: PartyRef, program_id: str) -> tuple[Account, Callable[[], None]]:
    """The party's account, and its status check (run after the self-transfer check, 05 §3.1)."""
    if party.group_id is not None:
        group = group_store.require(org, party.group_id)
        return group_account(group.id, program_id), group.require_active
    participant_id = party.participant_id
    if participant_id is None:
        assert party.external_id is not None
        participant_id = participant_store.find_id_by_external_id(org, party.external_id)
        if participant_id is None:
            # Resolution never creates participants (05 §3.1 step 3).
            raise NotFound(f"participant with external_id {party.external_id!r} not found")
    participant = participant_store.require(org, participant_id)
    return participant_account(participant.id), participant.require_active


type Context = tuple[Program, Asset, Account, list[rules.Credit]]


def _context(caller: Caller, request: TransferRequest) -> Context:
    org = caller.organization_id
    program = program_store.require(org, request.program_id)
    asset = asset_store.require(org, request.asset_id)
    for index, recipient in enumerate(request.recipients):
        checked_amount(recipient.amount, asset, field=f"recipients[{index}].amount")
    source, source_active = _resolve(org, request.source, program.id)
    resolved = [_resolve(org, r.party, program.id) for r in request.recipients]
    shares = [rules.Credit(account, r.amount) for (account, _), r in zip(resolved, request.recipients, strict=True)]
    rules.refuse_self_transfer(source, shares)
    program.require_active()
    if program.id not in asset.program_ids:
        raise UnprocessableError("asset_not_linked", f"asset {asset.id} is not linked to program {program.id}")
    asset.require_active()
    source_active()
    for _, recipient_active in resolved:
        recipient_active()
    # max_transaction_amount caps every leg and the source's debit (05 §0.2).
    for index, share in enumerate(shares):
        checked_amount(share.amount, asset, field=f"recipients[{index}].amount", ceiling=True)
    checked_amount(rules.total_amount(shares), asset, field="total_amount", ceiling=True)
    return program, asset, source, shares


def _source_lots(org: str, asset: Asset, source: Account, total: Decimal) -> list[transactions.Write]:
    """The source's lots drained oldest first (05 §3.1), or 422 when they cannot cover ``total``."""
    candidates = eligible(lot_store.read(org, source, asset.id), LotStatus.AVAILABLE, LotFilters(), clock.now())
    covered = sum((lot.remaining for lot in candidates), Decimal(0))
    if covered < total:
        raise InsufficientBalance(
            "AVAILABLE balance is insufficient", available=covered, requested=total, scale=asset.scale
        )
    writes: list[transactions.Write] = []
    for lot in consume(candidates, total).changed:
        writes.extend(lot_store.put(org, source, lot))
    return writes


def _whole(caller: Caller, request: TransferRequest, context: Context) -> Plan:
    """The transfer as one transaction: the entry, every balance, every lot."""
    org = caller.organization_id
    program, asset, source, shares = context
    lot_writes: list[transactions.Write] = []
    versions: dict[Account, int] = {}
    if asset.inventory_mode is InventoryMode.LOT:
        # The lots are read after the balance versions: the plan is stale unless it reads them again.
        versions[source] = ledger_store.read_balance(org, source, asset.id).version
        lot_writes = _source_lots(org, asset, source, rules.total_amount(shares))
        available: dict[Account, Decimal] = {}
        for share in shares:
            if share.account not in versions:
                record = ledger_store.read_balance(org, share.account, asset.id)
                versions[share.account] = record.version
                available[share.account] = record.balance.available
        for account, lot in rules.recipient_lots(
            shares, available, asset_id=asset.id, program_id=program.id, now=clock.now()
        ):
            lot_writes.extend(lot_store.put(org, account, lot))
    operation = Operation(
        org,
        program,
        asset,
        ActionType.TRANSFER,
        rules.legs(source, shares),
        request.description,
        Origin(api_key_id=caller.api_key_id),
        extra_writes=lot_writes,
        balance_versions=versions,
    )
    return plan(operation)


def _staged(
    caller: Caller, request: TransferRequest, context: Context
) -> tuple[JournalEntry, list[transactions.Write]]:
    """The first transaction of a transfer too large for one: the whole journal entry, the
    source's debit (balance, ledger line, lots) and the progress item that owes the recipient
    legs; ``finish`` applies those in later transactions."""
    org = caller.organization_id
    program, asset, source, shares = context
    record = ledger_store.read_balance(org, source, asset.id)
    transfer_legs = rules.legs(source, shares)
    after = legs.apply({source: record.balance}, transfer_legs, frozenset(), asset.scale)[source]
    lot_writes = (
        _source_lots(org, asset, source, rules.total_amount(shares))
        if asset.inventory_mode is InventoryMode.LOT
        else []
    )
    draft = JournalEntry(
        id=ids.new_id(),
        organization_id=org,
        action_type=ActionType.TRANSFER,
        description=request.description,
        program_id=program.id,
        program_name=program.name,
        event_id=None,
        rule_id=None,
        reference_id=None,
        created_by_api_key_id=caller.api_key_id,
        created_at=clock.now(),
        postings=tuple(
            Posting(ids.new_id(), leg.account, asset.id, asset.symbol, leg.bucket, leg.amount, program.id)
            for leg in transfer_legs
        ),
        scale=asset.scale,
    )
    entry = seal(draft, record.last_hash)  # the source is the entry's primary owner (decision 7)
    entry_item, list_line, source_line = ledger_store.entry_writes(entry)[:3]
    return entry, [
        ledger_store.balance_write(org, source, asset.id, record, after, entry.entry_hash),
        entry_item,
        list_line,
        source_line,
        transfer_store.start_write(org, entry.id, len(shares)),
        *lot_writes,
    ]


def finish(organization_id: str, journal_entry_id: str) -> None:
    """Apply the recipient legs a staged transfer still owes, ``CHUNK`` per transaction.

    Run by the request that started it, by its replays, and by the stream whenever the progress
    item is left PENDING (a crash at any step): each transaction moves ``applied`` on only if it
    is still what was read, so a leg never applies twice; nothing to do is one read."""
    org = organization_id

    def step() -> bool:
        progress = transfer_store.get(org, journal_entry_id)
        if progress is None or progress.status == transfer_store.COMPLETED:
            return True
        entry = ledger_store.get_entry(org, journal_entry_id)
        asset = asset_store.require(org, entry.postings[0].asset_id)
        start, stop = progress.applied, min(progress.applied + CHUNK, progress.legs)
        owed = entry.postings[1 + start : 1 + stop]
        records: dict[Account, ledger_store.BalanceRecord] = {}
        for posting in owed:
            if posting.account not in records:
                records[posting.account] = ledger_store.read_balance(org, posting.account, asset.id)
        after = {account: record.balance for account, record in records.items()}
        for posting in owed:
            after[posting.account] = after[posting.account].plus(Bucket.AVAILABLE, posting.amount)
        # Entry, list line, then one ledger line per posting: the source's, then the recipients'.
        lines = ledger_store.entry_writes(entry)[3:]
        writes = [
            ledger_store.balance_write(org, account, asset.id, record, after[account], record.last_hash)
            for account, record in records.items()
        ]
        writes.extend(lines[start:stop])
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

    while not retry_on_stale(step, FINISH_RETRY):
        pass


def create(
    caller: Caller,
    request: TransferRequest,
    *,
    idempotency_key: str | None,
    fingerprint_fields: Mapping[str, Any],
    render: Callable[[TransferResult], StoredResponse],
) -> IdempotentAnswer:
    """Transfer as the request asks, at most once per ``idempotency_key`` (05 §0.1).

    One transaction when the transfer fits one (``rules.require_fits``); otherwise a staged
    transfer: its first transaction commits the entry, the source's side and the key's record,
    and ``finish`` applies the recipient legs before the answer (or, after a crash, the stream
    does)."""
    keyed = idempotency_key is not None
    staged: list[str] = []  # the entry id, when this request's transfer is staged

    def prepare() -> tuple[list[transactions.Write], StoredResponse]:
        staged.clear()
        context = _context(caller, request)
        _, asset, source, shares = context
        lot_mode = asset.inventory_mode is InventoryMode.LOT
        writes: list[transactions.Write] | None = None
        if rules.transaction_items(shares, lot_mode=lot_mode, idempotent=keyed) <= rules.MAX_TRANSACTION_ITEMS:
            planned = _whole(caller, request, context)
            entry = planned.entry
            # Exact now: consumed source lots (and their due entries) come on top of the estimate.
            if len(planned.writes) + keyed <= rules.MAX_TRANSACTION_ITEMS:
                writes = planned.writes
        if writes is None:
            entry, writes = _staged(caller, request, context)
            rules.require_fits(len(writes) + keyed)  # a source spread over ~95 lots: refused
            staged.append(entry.id)
        result = TransferResult(asset, entry.id, len(shares), source.owner_id, rules.total_amount(shares))
        return writes, render(result)

    if idempotency_key is None:

        def once() -> IdempotentAnswer:
            writes, response = prepare()
            transactions.write(writes)
            return IdempotentAnswer(response, replayed=False)

        answer = retry_on_stale(once, BALANCE_RETRY)
    else:
        scope = IdempotencyScope(caller.organization_id, request.program_id, FAMILY, idempotency_key)
        digest = fingerprint(dict(fingerprint_fields))
        answer = retry_on_stale(lambda: idempotency.run_once(scope, digest, prepare), BALANCE_RETRY)
    if staged and not answer.replayed:
        finish(caller.organization_id, staged[0])
    elif answer.replayed:
        # A replay answers a finished transfer: finish what a crash may have left (one read if nothing).
        finish(caller.organization_id, str(answer.response.body["journal_entry_id"]))
    return answer
