"""Transfers (05 §3): move existing value from one source to 1-100 recipients, all or nothing.

The checks run in the spec's order (05 §3.1): the idempotency record first (a replay answers
even if a party was suspended since), then amounts, parties (404), self-transfer (400), the
program, the asset link and every party's status, then the source's balance. One journal entry
(the source's aggregated debit and a credit per recipient), every balance, the lots and the
idempotency record commit in one ``TransactWriteItems`` when they fit one (100 items).

A larger transfer (up to 100 recipients, LOT assets included) is *staged*, and still no
observer sees it half-applied (``storage.transfers`` has the protocol): it is *prepared*
invisibly (a progress item PREPARING and a marker on each recipient's balance), *committed* in
one transaction (the source's debit, the entry, the idempotency record and PREPARING ->
COMMITTED), then *applied* ``CHUNK`` legs per transaction; every balance read that meets a
COMMITTED transfer's marker finishes it first. A request that fails before its commit undoes
what it prepared; one that died is undone at its deadline (``abort_overdue``, every minute) or
by the first reader that meets it, and a COMMITTED one left unfinished is finished by the
stream. A replay of the key after an undo runs the transfer anew (no record was written).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from scrip.observability import logger
from scrip.services.balances import checked_amount
from scrip.services.common import retry_on_stale
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
CHUNK = transfer_store.CHUNK


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
    caller: Caller, request: TransferRequest, context: Context, *, keyed: bool, prepared: list[str]
) -> tuple[JournalEntry, transfer_store.Progress, list[transactions.Write]]:
    """A transfer too large for one transaction: every check, then the invisible prepare, then
    the commit transaction's writes (the whole journal entry, the source's debit: balance,
    ledger line, lots; the progress item to COMMITTED). ``finish`` applies the recipient legs."""
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
    now = clock.now()
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
        created_at=now,
        postings=tuple(
            Posting(ids.new_id(), leg.account, asset.id, asset.symbol, leg.bucket, leg.amount, program.id)
            for leg in transfer_legs
        ),
        scale=asset.scale,
    )
    entry = seal(draft, record.last_hash)  # the source is the entry's primary owner (decision 7)
    entry_item, list_line, source_line = ledger_store.entry_writes(entry)[:3]
    writes = [
        ledger_store.balance_write(org, source, asset.id, record, after, entry.entry_hash),
        entry_item,
        list_line,
        source_line,
        *lot_writes,
    ]
    # Refused before anything is written: the commit transaction holds these, the progress
    # item and (keyed) the idempotency record.
    rules.require_fits(len(writes) + 1 + keyed)
    recipients = list(dict.fromkeys(share.account for share in shares))
    prepared.append(entry.id)  # before the first write: a failure from here on is undone
    progress = transfer_store.prepare(org, entry.id, asset.id, recipients, len(shares), now)
    return entry, progress, [*writes, transfer_store.commit_write(progress)]


def finish(organization_id: str, journal_entry_id: str) -> None:
    """Apply the recipient legs a COMMITTED staged transfer still owes (``storage.transfers``).

    Run by the request that committed it, by its replays, by the stream whenever the progress
    item is left unfinished, and by any reader that meets a recipient's marker."""
    ledger_store.finish_transfer(organization_id, journal_entry_id)


def _undo(organization_id: str, journal_entry_id: str) -> None:
    """Undo a prepared transfer this request will not commit; finish it if it did commit (a
    lost answer). A failure here is left to the deadline sweep: the request's own error wins."""
    try:
        if not transfer_store.abort(organization_id, journal_entry_id):
            ledger_store.finish_transfer(organization_id, journal_entry_id)
    except Exception:  # noqa: BLE001 - the sweep or a reader undoes it at its deadline
        logger.warning("staged transfer left to its deadline", extra={"journal_entry_id": journal_entry_id})


@dataclass
class SweepReport:
    aborted: int = 0
    finished: int = 0


def abort_overdue(now: datetime | None = None) -> SweepReport:
    """The deadline sweep (every minute, with the lot jobs): undo each staged transfer still
    PREPARING past its deadline (its request died), finish one that committed, and drop the due
    entry. Reads the last two hours of the index: a transfer missed longer than that is undone
    by the first reader that meets its marker (or never needs to be: a marker of a transfer that
    is not COMMITTED means nothing)."""
    moment = now or clock.now()
    report = SweepReport()
    hours = {moment - timedelta(hours=1), moment}  # due entries are filed by the hour
    for hour in sorted(hours):
        for due in transfer_store.overdue_entries(hour, moment):
            org, entry_id = str(due["organization_id"]), str(due["journal_entry_id"])
            if transfer_store.abort(org, entry_id):
                report.aborted += 1
            else:
                ledger_store.finish_transfer(org, entry_id)
                report.finished += 1
            transfer_store.delete_due(due)
    return report


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
    transfer: prepared, committed with the key's record, then applied before the answer (after
    a crash, the stream or the first reader applies it). Whatever this request prepared and did
    not commit (a lost race, a 4xx at the commit) is undone before it answers."""
    keyed = idempotency_key is not None
    prepared: list[str] = []  # entry ids of the staged transfers this request prepared, in order
    org = caller.organization_id

    def prepare() -> tuple[list[transactions.Write], StoredResponse]:
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
            # A retry after a lost race prepares anew: first undo what the last attempt prepared.
            for entry_id in prepared:
                _undo(org, entry_id)
            prepared.clear()
            entry, _, writes = _staged(caller, request, context, keyed=keyed, prepared=prepared)
        result = TransferResult(asset, entry.id, len(shares), source.owner_id, rules.total_amount(shares))
        return writes, render(result)

    try:
        if idempotency_key is None:

            def once() -> IdempotentAnswer:
                writes, response = prepare()
                transactions.write(writes)
                return IdempotentAnswer(response, replayed=False)

            answer = retry_on_stale(once, BALANCE_RETRY)
        else:
            scope = IdempotencyScope(org, request.program_id, FAMILY, idempotency_key)
            digest = fingerprint(dict(fingerprint_fields))
            answer = retry_on_stale(lambda: idempotency.run_once(scope, digest, prepare), BALANCE_RETRY)
    except Exception:
        for entry_id in prepared:
            _undo(org, entry_id)
        raise
    committed = str(answer.response.body["journal_entry_id"])
    for entry_id in prepared:
        if entry_id != committed:
            _undo(org, entry_id)  # another request with the key won: ours never commits
    if answer.replayed or committed in prepared:
        # Staged (now, or by the request a replay answers for): apply what it still owes before
        # answering (one read when nothing is left).
        finish(org, committed)
    return answer
