"""Redemptions (05 §2): amount and catalog item redemptions, reads and the participant's list.

An amount redemption checks the preconditions of 05 §2.3 in their documented order, then
commits in ONE transaction: the journal entry (participant AVAILABLE → the program's
redemption target), the participant's balance under the version it read, the lots the debit
consumed (LOT mode, FIFO, expired and immature lots skipped), the redemption with the lots it
consumed, its list entry and, with a key, the idempotency record (05 §0.1). A balance or lot
that changed meanwhile makes the attempt stale: it is re-read and re-planned, so concurrent
redemptions never overdraw. ``redemption.completed`` and ``balance.debited`` are derived from
the committed items by the stream (``services.webhook_emission``).

A catalog item redemption (05 §2.6) is the same transaction with the reward's terms on the
record and, for a UNIT_BASED reward, the inventory takes of ``storage.rewards`` in it: each
attempt re-reads the reward and its counts, so the caps hold under any concurrency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, clock, ids
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.errors import Conflict, NotFound, UnprocessableError
from scrip.domain.idempotency import IdempotencyScope, IdempotentAnswer, StoredResponse, fingerprint
from scrip.domain.ledger import ActionType, Bucket, EntityType, InsufficientBalance, participant_account
from scrip.domain.lots import LotFilters, LotStatus, consume, eligible, new_lot
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.participants import EnrollmentStatus, Participant
from scrip.domain.programs import Program, RedemptionTargetType
from scrip.domain.redemptions import (
    CatalogTerms,
    ConsumedLot,
    Redemption,
    RedemptionStatus,
    RedemptionTarget,
    catalog_terms,
    new_raw_redemption,
    require_minimum,
    require_redeemable,
    require_within_caps,
    target_of,
    with_catalog_terms,
)
from scrip.domain.rewards import RewardView
from scrip.observability import logger
from scrip.services import participants as participant_service
from scrip.services.balances import checked_amount
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.services.posting import BALANCE_RETRY, Leg, Operation, Origin, plan
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import idempotency, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage import redemptions as redemption_store
from scrip.storage import rewards as reward_store

FAMILY = "redemption"

# An item redemption also loses to the reward's inventory (every redemption of a capped reward
# takes the same counter) and to the participant's own count: re-read and re-plan, as for a
# balance, with as many attempts, since a popular reward is as contended as a balance.
ITEM_RETRY = StaleRetry(
    (ledger_store.StaleBalance, reward_store.InventoryRace, reward_store.ParticipantCapRace),
    attempts=BALANCE_RETRY.attempts,
    pause_max_steps=BALANCE_RETRY.pause_max_steps,
    conflict_message="the reward's inventory or the balance changed concurrently too often; retry the request",
)


@dataclass(frozen=True)
class _Context:
    """What the preconditions read, once per request (re-planning re-reads balances only)."""

    participant: Participant
    program: Program
    asset: Asset
    target: RedemptionTarget
    enrolled: bool


def _target(org: str, program: Program) -> RedemptionTarget:
    """The program's target now; a LEDGER_ENTITY is a participant or a group (decision 17).

    The program records which when its target is set; a target stored without it is looked up.
    """
    if (
        program.redemption_target_type is not RedemptionTargetType.LEDGER_ENTITY
        or program.redemption_target_entity_type is not None
    ):
        return target_of(program)
    entity_id = program.redemption_target_entity_id or ""
    if participant_store.get(org, entity_id) is not None:
        return target_of(program, EntityType.PARTICIPANT)
    if group_store.get(org, entity_id) is not None:
        return target_of(program, EntityType.GROUP)
    # Refuse rather than post value to an account nobody holds.
    raise UnprocessableError(
        "redemption_target_not_found",
        f"the program's redemption target {entity_id} is neither a participant nor a group",
        details={"redemption_target_entity_id": entity_id},
    )


def _preconditions(caller: Caller, participant_id: str, program_id: str, asset_id: str, amount: Decimal) -> _Context:
    """05 §2.3 steps 1-5, in the documented order; step 6 (the balance) is the plan's."""
    org = caller.organization_id
    participant = participant_store.require(org, participant_id)  # 1: 404
    program = program_store.require(org, program_id)  # 2: 404, then 422 program_not_active
    program.require_active()
    participant.require_active()  # 3: 409 participant_inactive (decision 10)
    enrollment = participant_store.enrollments(org, participant_id).get(program.id)
    asset = asset_store.require(org, asset_id)  # 4: 404, 422 asset_not_linked, 422 asset_archived
    if program.id not in asset.program_ids:
        raise UnprocessableError("asset_not_linked", f"asset {asset.id} is not linked to program {program.id}")
    asset.require_active()
    checked_amount(amount, asset, ceiling=True)  # 5: 400 positive, 400 invalid_scale, 422 ceiling
    enrolled = enrollment is not None and enrollment.status is EnrollmentStatus.ACTIVE
    return _Context(participant, program, asset, _target(org, program), enrolled)


def _too_many_lots(count: int) -> UnprocessableError:
    return UnprocessableError(
        "too_many_lots",
        f"the redemption would consume {count} lots, more than one transaction can hold; redeem a smaller amount",
        details={"lots": count},
    )


def _plan(
    caller: Caller,
    context: _Context,
    *,
    amount: Decimal,
    description: str,
    idempotency_key: str | None,
    digest: str | None,
    terms: CatalogTerms | None = None,
    inventory_writes: tuple[transactions.Write, ...] = (),
) -> tuple[list[transactions.Write], Redemption]:
    """One attempt: read the balances and lots it moves, build every write of the transaction;
    an item redemption adds its catalog ``terms`` to the record and its inventory takes."""
    org, program, asset = caller.organization_id, context.program, context.asset
    now = clock.now()
    account = participant_account(context.participant.id)
    target = context.target.account(program.id)
    record = ledger_store.read_balance(org, account, asset.id)
    versions = {account: record.version}
    legs = [Leg(account, Bucket.AVAILABLE, -amount), Leg(target, Bucket.AVAILABLE, amount)]
    lot_writes: list[transactions.Write] = []
    consumed: tuple[ConsumedLot, ...] = ()
    if asset.inventory_mode is InventoryMode.LOT:
        # 05 §2.3 step 6 for LOT assets: only unexpired, matured AVAILABLE lots count.
        candidates = eligible(lot_store.read(org, account, asset.id), LotStatus.AVAILABLE, LotFilters(), now)
        covered = sum((lot.remaining for lot in candidates), Decimal(0))
        if covered < amount:
            raise InsufficientBalance(
                "AVAILABLE balance is insufficient", available=covered, requested=amount, scale=asset.scale
            )
        changes = consume(candidates, amount)
        created = {lot.id: lot.created_at for lot in candidates}
        consumed = tuple(ConsumedLot(lot_id, created[lot_id], taken) for lot_id, taken in changes.processed)
        for lot in changes.changed:
            lot_writes.extend(lot_store.put(org, account, lot))
        if not target.is_system:
            # A holder receiving value holds it in a lot, or could never spend it (04 §8): a
            # fresh lot, less what repays an overdraft of the holder's AVAILABLE. (A target
            # naming the redeemer itself gets back as a fresh lot what its lots gave.)
            held = ledger_store.read_balance(org, target, asset.id)
            versions[target] = held.version
            fresh = amount + min(held.balance.available, Decimal(0))
            if fresh > 0:
                lot = new_lot(
                    asset_id=asset.id,
                    amount=fresh,
                    now=now,
                    bucket=Bucket.AVAILABLE,
                    expires_at=None,
                    matures_at=None,
                    reference_id=None,
                    program_id=program.id,
                )
                lot_writes.extend(lot_store.put(org, target, lot))
    planned = plan(
        Operation(
            org,
            program,
            asset,
            ActionType.REDEMPTION,
            legs,
            description,
            Origin(api_key_id=caller.api_key_id),
            extra_writes=lot_writes,
            balance_versions=versions,
        )
    )
    redemption = new_raw_redemption(
        organization_id=org,
        redemption_id=ids.new_id(),
        participant_id=context.participant.id,
        program_id=program.id,
        asset_id=asset.id,
        scale=asset.scale,
        amount=amount,
        description=description,
        journal_entry_id=planned.entry.id,
        target=context.target,
        consumed_lots=consumed,
        idempotency_key=idempotency_key,
        request_fingerprint=digest,
        now=planned.entry.created_at,
    )
    if terms is not None:
        redemption = with_catalog_terms(redemption, terms)
    writes = [*planned.writes, *redemption_store.create_writes(redemption), *inventory_writes]
    if len(writes) + 1 > transactions.MAX_ITEMS:  # + 1: the idempotency record
        raise _too_many_lots(len(consumed))
    return writes, redemption


def redeem_amount(
    caller: Caller,
    participant_id: str,
    *,
    program_id: str,
    asset_id: str,
    amount: Decimal,
    description: str,
    idempotency_key: str | None,
    request: Mapping[str, Any],
    render: Callable[[Redemption], StoredResponse],
) -> IdempotentAnswer:
    """An amount redemption (05 §2.5). ``render`` makes the response the key's record stores;
    a replay (same key, same ``request``) answers it before any precondition (05 §2.3 step 7)."""
    org = caller.organization_id
    digest = fingerprint({"participant_id": participant_id, **request}) if idempotency_key is not None else None
    loaded: list[_Context] = []

    def context() -> _Context:
        if not loaded:
            loaded.append(_preconditions(caller, participant_id, program_id, asset_id, amount))
        return loaded[0]

    def attempt() -> tuple[list[transactions.Write], Redemption]:
        return _plan(
            caller, context(), amount=amount, description=description, idempotency_key=idempotency_key, digest=digest
        )

    return _commit(org, participant_id, program_id, idempotency_key, digest, attempt, render, loaded, BALANCE_RETRY)


def _commit(
    org: str,
    participant_id: str,
    program_id: str,
    idempotency_key: str | None,
    digest: str | None,
    attempt: Callable[[], tuple[list[transactions.Write], Redemption]],
    render: Callable[[Redemption], StoredResponse],
    loaded: list[_Context],
    retry: StaleRetry,
) -> IdempotentAnswer:
    """Run ``attempt`` until its transaction commits (or replay the key's answer), then enroll."""
    if idempotency_key is None or digest is None:

        def once() -> Redemption:
            writes, redemption = attempt()
            transactions.write(writes)
            return redemption

        answer = IdempotentAnswer(render(retry_on_stale(once, retry)), replayed=False)
    else:
        scope = IdempotencyScope(org, program_id, FAMILY, idempotency_key)

        def prepare() -> tuple[list[transactions.Write], StoredResponse]:
            writes, redemption = attempt()
            return writes, render(redemption)

        answer = retry_on_stale(lambda: idempotency.run_once_or_late_replay(scope, digest, prepare), retry)
    if loaded and not loaded[0].enrolled and not answer.replayed:
        _enroll(org, loaded[0].program.id, participant_id)
    return answer


def _item_preconditions(
    caller: Caller, participant_id: str, program_id: str, reward_id: str
) -> tuple[_Context, RewardView]:
    """05 §2.6 steps 1-2 around 05 §2.3 steps 1-4: the asset is the reward's, so the reward is
    looked up (404) right before the asset's checks [ordering inferred]."""
    org = caller.organization_id
    participant = participant_store.require(org, participant_id)  # 404
    program = program_store.require(org, program_id)  # 404, then 422 program_not_active
    program.require_active()
    participant.require_active()  # 409 participant_inactive (decision 10)
    enrollment = participant_store.enrollments(org, participant_id).get(program.id)
    view = reward_store.require(org, program.id, reward_id)  # 404, also for another program's
    reward = view.reward
    asset = asset_store.require(org, reward.asset_id)
    if program.id not in asset.program_ids:
        raise UnprocessableError("asset_not_linked", f"asset {asset.id} is not linked to program {program.id}")
    asset.require_active()
    enrolled = enrollment is not None and enrollment.status is EnrollmentStatus.ACTIVE
    return _Context(participant, program, asset, _target(org, program), enrolled), view


def _item_terms(
    context: _Context, view: RewardView, *, quantity: int | None, amount: Decimal | None
) -> tuple[CatalogTerms, tuple[transactions.Write, ...]]:
    """05 §2.6 steps 3-7 and 9 on the reward as just read: the cost and the inventory takes."""
    reward = view.reward
    require_redeemable(view, clock.now())  # 3-4: 422 reward_out_of_stock / reward_not_available
    terms = catalog_terms(reward, quantity=quantity, amount=amount)  # 5: 400 for input the type refuses
    checked_amount(terms.amount, context.asset)  # 400 not positive / invalid_scale
    require_minimum(terms, context.asset.scale)  # 422 amount_below_minimum
    checked_amount(terms.amount, context.asset, ceiling=True)  # 422 max_transaction_amount_exceeded
    if terms.quantity is None:
        return terms, ()  # AMOUNT_BASED: no inventory [inferred, 05 §2.6 step 9]
    participant_id = context.participant.id
    held = reward_store.participant_count(reward, participant_id) if reward.max_per_participant is not None else 0
    require_within_caps(reward, redeemed_count=view.redeemed_count, held=held, quantity=terms.quantity)  # 6
    # Both takes re-check their cap inside the transaction: a rival that took the last units
    # since the read cancels it (InventoryRace / ParticipantCapRace), and the re-plan refuses.
    return terms, (
        reward_store.take(reward, terms.quantity),
        reward_store.take_for_participant(reward, participant_id, terms.quantity),
    )


def redeem_item(
    caller: Caller,
    participant_id: str,
    *,
    program_id: str,
    reward_id: str,
    quantity: int | None,
    amount: Decimal | None,
    description: str | None,
    idempotency_key: str | None,
    request: Mapping[str, Any],
    render: Callable[[Redemption], StoredResponse],
) -> IdempotentAnswer:
    """A catalog item redemption (05 §2.6): the preconditions in their documented order, then
    one transaction holding the journal entry, the consumed lots, the redemption and the
    inventory takes. Every attempt re-reads the reward, so a lost race on its last units answers
    ``reward_out_of_stock`` / ``inventory_exceeded`` and never oversells. A replay (same key,
    same ``request``) answers before any precondition (05 §2.3 step 7)."""
    org = caller.organization_id
    digest = (
        fingerprint({"route": "items", "participant_id": participant_id, **request})
        if idempotency_key is not None
        else None
    )
    loaded: list[_Context] = []

    def attempt() -> tuple[list[transactions.Write], Redemption]:
        if not loaded:
            context, view = _item_preconditions(caller, participant_id, program_id, reward_id)
            loaded.append(context)
        else:
            # A retry: what lost is the balance, the inventory or the participant's count, so
            # the reward and its counts are read again (the participant, program and asset stand).
            context, view = loaded[0], reward_store.require(org, program_id, reward_id)
        terms, inventory_writes = _item_terms(context, view, quantity=quantity, amount=amount)
        return _plan(
            caller,
            context,
            amount=terms.amount,
            description=description if description is not None else f"Redeemed: {view.reward.name}",
            idempotency_key=idempotency_key,
            digest=digest,
            terms=terms,
            inventory_writes=inventory_writes,
        )

    return _commit(org, participant_id, program_id, idempotency_key, digest, attempt, render, loaded, ITEM_RETRY)


def _enroll(org: str, program_id: str, participant_id: str) -> None:
    """05 §2.3 step 3: enrolled implicitly, as the event path does, once the redemption has
    committed (a refused redemption enrolls nobody). Balances have no program dimension, so a
    stop before this step loses no value, only the enrollment, which the next redemption or
    event through the program makes."""
    try:
        participant_service.resolve_for_event(org, program_id, participant_id=participant_id)
    except Conflict:
        # Concurrent writers of the participant outlasted the retries. The redemption stands:
        # answering an error now would have a client without an idempotency key redeem twice.
        logger.warning("implicit enrollment lost to concurrent writers", extra={"participant_id": participant_id})


def get_redemption(caller: Caller, redemption_id: str) -> Redemption:
    return redemption_store.require(caller.organization_id, redemption_id)


def list_participant_redemptions(
    caller: Caller,
    participant_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: RedemptionStatus | None,
    reward_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> Page[Redemption]:
    org = caller.organization_id
    if participant_store.get(org, participant_id) is None:
        raise NotFound(f"participant {participant_id} not found")
    scope = scope_signature("participant_redemptions", org, participant_id, status, reward_id, created_from, created_to)
    found, resume = redemption_store.participant_page(
        org,
        participant_id,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        status=status,
        reward_id=reward_id,
        created_from=created_from,
        created_to=created_to,
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)


def resource(redemption: Redemption) -> dict[str, Any]:
    """The Redemption resource (05 §2.2) in JSON values: the API's body and the webhook's data."""
    scale = redemption.scale
    unit_cost = redemption.unit_cost
    return {
        "id": redemption.id,
        "participant_id": redemption.participant_id,
        "program_id": redemption.program_id,
        "asset_id": redemption.asset_id,
        "amount": amounts.format_amount(redemption.amount, scale),
        "description": redemption.description,
        "journal_entry_id": redemption.journal_entry_id,
        "reward_id": redemption.reward_id,
        "quantity": redemption.quantity,
        "unit_cost": amounts.format_amount(unit_cost, scale) if unit_cost is not None else None,
        "reversed_amount": amounts.format_amount(redemption.reversed_amount, scale),
        "reversed_quantity": redemption.reversed_quantity,
        "status": redemption.status.value,
        "created_at": clock.to_rfc3339(redemption.created_at),
        "updated_at": clock.to_rfc3339(redemption.updated_at),
    }
