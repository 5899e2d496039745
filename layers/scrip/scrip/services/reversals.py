"""Redemption reversals (05 §2.9): value back from the captured target to the participant.

A reversal commits in ONE transaction: the REDEMPTION_REVERSAL journal entry (the target
captured on the redemption → the participant's AVAILABLE), the balances it moves, the lots it
gives back (LOT mode: the very lots the redemption consumed, last-consumed first, keeping their
creation and expiry), the reward's inventory and the participant's per-reward count given back
(UNIT_BASED), the redemption rewritten under the version it was read at, the reversal and, with a
key, the idempotency record (05 §0.1, scoped to the redemption's program). Two concurrent
reversals of one redemption cannot both pass the bounds they checked: the loser's redemption
write fails, it re-reads and checks again. ``redemption.reversed`` is derived by the stream from
the rewritten redemption (``services.webhook_emission``).

Neither the participant's, the program's nor the target's state is a precondition (05 §2.9.2):
a reversal only returns value. The target may be left overdrawn (a ledger-entity target that
spent what it received): its lots give what they hold and its AVAILABLE goes negative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, clock, ids
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.errors import UnprocessableError
from scrip.domain.idempotency import IdempotencyScope, IdempotentAnswer, StoredResponse, fingerprint
from scrip.domain.ledger import Account, ActionType, Bucket, participant_account
from scrip.domain.lots import LotFilters, LotStatus, consume, eligible
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.redemptions import Redemption, RedemptionKind
from scrip.domain.reversals import Reversal, given_back, restoration, reversed_redemption, size
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.services.posting import BALANCE_RETRY, Leg, Operation, Origin, plan
from scrip.storage import assets as asset_store
from scrip.storage import idempotency, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import programs as program_store
from scrip.storage import redemptions as redemption_store
from scrip.storage import rewards as reward_store

FAMILY = "reversal"
# A reversal loses to a concurrent reversal of its redemption as well as to balance writers.
RETRY = StaleRetry(
    (ledger_store.StaleBalance, redemption_store.StaleRedemption),
    attempts=BALANCE_RETRY.attempts,
    pause_step_seconds=BALANCE_RETRY.pause_step_seconds,
    pause_max_steps=BALANCE_RETRY.pause_max_steps,
    conflict_message=BALANCE_RETRY.conflict_message,
)


def _restored_lots(
    org: str, account: Account, redemption: Redemption, amount: Decimal, now: datetime
) -> list[transactions.Write]:
    """The participant's consumed lots given back LIFO (05 §2.9.2 effect 2). What repays an
    overdraft of the participant's AVAILABLE backs no lot (as for any credit, 04 §8): the lots
    get ``amount`` less that part. A lot given back past its expiry is AVAILABLE again and
    filed for the expiry job now, which then expires it as any other (05 §2.9.2 [inferred])."""
    held = ledger_store.read_balance(org, account, redemption.asset_id).balance.available
    backed = amount + min(held, Decimal(0))
    if backed <= 0:
        return []
    lots = {lot.id: lot for lot in lot_store.read(org, account, redemption.asset_id)}
    writes: list[transactions.Write] = []
    for part in restoration(redemption.consumed_lots, redemption.reversed_amount, backed):
        lot = lots.get(part.lot_id)
        if lot is None:
            continue  # never deleted today; a lot gone would only leave the value unbacked
        given = given_back(lot, part.amount)
        writes.extend(lot_store.put(org, account, given, expiry_due=now if given.expired(now) else None))
    return writes


def _taken_from_target(org: str, target: Account, asset_id: str, amount: Decimal) -> list[transactions.Write]:
    """A ledger-entity target gives back from its AVAILABLE lots, oldest first, up to what they hold."""
    candidates = eligible(lot_store.read(org, target, asset_id), LotStatus.AVAILABLE, LotFilters(), clock.now())
    covered = sum((lot.remaining for lot in candidates), Decimal(0))
    changes = consume(candidates, None if covered < amount else amount)
    return [write for lot in changes.changed for write in lot_store.put(org, target, lot)]


def _plan(
    caller: Caller,
    redemption_id: str,
    *,
    amount: Decimal | None,
    quantity: int | None,
    reason: str,
) -> tuple[list[transactions.Write], Reversal]:
    """One attempt: re-read the redemption, size the reversal, build every write."""
    org = caller.organization_id
    redemption = redemption_store.require(org, redemption_id)
    part = size(redemption, amount=amount, quantity=quantity)
    asset: Asset = asset_store.require(org, redemption.asset_id)
    program = program_store.require(org, redemption.program_id)
    now = clock.now()
    account = participant_account(redemption.participant_id)
    target = redemption.target.account(redemption.program_id)
    versions: dict[Account, int] = {}
    extra: list[transactions.Write] = []
    if asset.inventory_mode is InventoryMode.LOT:
        versions[account] = ledger_store.read_balance(org, account, asset.id).version
        extra.extend(_restored_lots(org, account, redemption, part.amount, now))
        if not target.is_system:
            versions[target] = ledger_store.read_balance(org, target, asset.id).version
            extra.extend(_taken_from_target(org, target, asset.id, part.amount))
    if redemption.kind is RedemptionKind.UNIT_BASED and redemption.reward_id and part.quantity:
        found = reward_store.get(org, redemption.reward_id)
        if found is not None:  # rewards are never deleted; the counts only follow a reward that exists
            extra.append(reward_store.give_back(found.reward, part.quantity))
            extra.append(reward_store.give_back_for_participant(found.reward, redemption.participant_id, part.quantity))
    planned = plan(
        Operation(
            org,
            program,
            asset,
            ActionType.REDEMPTION_REVERSAL,
            [Leg(target, Bucket.AVAILABLE, -part.amount), Leg(account, Bucket.AVAILABLE, part.amount)],
            reason,
            Origin(api_key_id=caller.api_key_id),
            allow_negative=frozenset({target}),
            extra_writes=lot_store.without_repeats(extra),
            balance_versions=versions,
        )
    )
    reversal = Reversal(
        organization_id=org,
        id=ids.new_id(),
        redemption_id=redemption.id,
        program_id=redemption.program_id,
        scale=redemption.scale,
        amount=part.amount,
        quantity=part.quantity,
        reason=reason,
        journal_entry_id=planned.entry.id,
        created_at=planned.entry.created_at,
    )
    updated = reversed_redemption(redemption, part, planned.entry.created_at)
    writes = [*planned.writes, *redemption_store.reversal_writes(redemption, updated, reversal)]
    if len(writes) + 1 > transactions.MAX_ITEMS:  # + 1: the idempotency record
        raise UnprocessableError(
            "too_many_lots",
            f"the reversal would give back {len(extra)} lot writes, more than one transaction holds; "
            "reverse a smaller amount",
            details={"writes": len(writes)},
        )
    return writes, reversal


def reverse(
    caller: Caller,
    redemption_id: str,
    *,
    amount: Decimal | None,
    quantity: int | None,
    reason: str,
    idempotency_key: str | None,
    request: Mapping[str, Any],
    render: Callable[[Reversal], StoredResponse],
) -> IdempotentAnswer:
    """A full or partial reversal (05 §2.9.2). A replay (same key, same ``request``) answers the
    stored reversal before the bounds are checked again, so replaying the reversal that emptied
    a redemption answers 200, not 422."""
    org = caller.organization_id
    # The key's scope is the redemption's program (05 §0.1 [inferred]): read it first (404).
    program_id = redemption_store.require(org, redemption_id).program_id

    def attempt() -> tuple[list[transactions.Write], Reversal]:
        return _plan(caller, redemption_id, amount=amount, quantity=quantity, reason=reason)

    if idempotency_key is None:

        def once() -> Reversal:
            writes, reversal = attempt()
            transactions.write(writes)
            return reversal

        return IdempotentAnswer(render(retry_on_stale(once, RETRY)), replayed=False)
    digest = fingerprint({"redemption_id": redemption_id, **request})
    scope = IdempotencyScope(org, program_id, FAMILY, idempotency_key)

    def prepare() -> tuple[list[transactions.Write], StoredResponse]:
        writes, reversal = attempt()
        return writes, render(reversal)

    return retry_on_stale(lambda: idempotency.run_once_or_late_replay(scope, digest, prepare), RETRY)


def list_reversals(caller: Caller, redemption_id: str, *, limit: int, cursor: str | None) -> Page[Reversal]:
    org = caller.organization_id
    redemption_store.require(org, redemption_id)  # 404 for an unknown redemption
    scope = scope_signature("redemption_reversals", org, redemption_id)
    found, resume = redemption_store.reversal_page(
        org, redemption_id, limit=limit, after=decode_cursor(cursor, scope) if cursor else None
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)


def resource(reversal: Reversal) -> dict[str, Any]:
    """The Reversal resource (05 §2.9.1) in JSON values: the API's body and the webhook's data."""
    return {
        "id": reversal.id,
        "redemption_id": reversal.redemption_id,
        "amount": amounts.format_amount(reversal.amount, reversal.scale),
        "quantity": reversal.quantity,
        "reason": reversal.reason,
        "journal_entry_id": reversal.journal_entry_id,
        "created_at": clock.to_rfc3339(reversal.created_at),
    }
