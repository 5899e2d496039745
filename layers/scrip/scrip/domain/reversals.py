"""Redemption reversals (05 §2.9): what a reversal may return, and which lots get it back.

A reversal returns value from the redemption's captured target to the participant, fully or in
parts. Its size is decided here from the redemption as read: the field that names it must match
the redemption's kind (UNIT_BASED: ``quantity``, raw and AMOUNT_BASED: ``amount``), and the
cumulative reversed amount and quantity never exceed what was redeemed. The lots the redemption
consumed are given back last-consumed first (LIFO), so successive partial reversals walk the
consumed lots backwards without ever restoring one part twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from scrip.domain import amounts, ids
from scrip.domain.errors import UnprocessableError, ValidationFailed
from scrip.domain.lots import Lot, LotOrigin, LotStatus
from scrip.domain.redemptions import ConsumedLot, Redemption, RedemptionKind, status_for


@dataclass(frozen=True)
class Reversal:
    organization_id: str
    id: str
    redemption_id: str
    program_id: str
    scale: int  # the asset's, to render the amount without reading the asset
    amount: Decimal
    quantity: int | None  # UNIT_BASED catalog redemptions only
    reason: str
    journal_entry_id: str
    created_at: datetime


@dataclass(frozen=True)
class ReversalSize:
    amount: Decimal
    quantity: int | None


def _exceeds(redemption: Redemption, message: str) -> UnprocessableError:
    scale = redemption.scale
    details: dict[str, object] = {
        "remaining_amount": amounts.format_amount(redemption.remaining_amount, scale),
        "status": redemption.status.value,
    }
    if redemption.quantity is not None:
        details["remaining_quantity"] = redemption.quantity - (redemption.reversed_quantity or 0)
    return UnprocessableError("reversal_exceeds_remaining", message, details=details)


def size(redemption: Redemption, *, amount: Decimal | None, quantity: int | None) -> ReversalSize:
    """The reversal's amount and quantity: the request's part, or whatever remains when it names
    neither. 400 for the wrong field, both fields or a bad value; 422 beyond what remains."""
    unit_based = redemption.kind is RedemptionKind.UNIT_BASED
    if amount is not None and quantity is not None:
        raise ValidationFailed("give amount or quantity, not both", field="quantity", reason="exclusive")
    if unit_based and amount is not None:
        raise ValidationFailed(
            "a UNIT_BASED redemption is reversed by quantity", field="amount", reason="not_allowed_for_kind"
        )
    if not unit_based and quantity is not None:
        raise ValidationFailed(
            "only a UNIT_BASED redemption is reversed by quantity", field="quantity", reason="not_allowed_for_kind"
        )
    if amount is not None:
        amounts.require_positive(amount, field="amount")
        amounts.check_scale(amount, redemption.scale, field="amount")
    if quantity is not None and quantity < 1:
        raise ValidationFailed("quantity must be at least 1", field="quantity", reason="too_small")

    remaining = redemption.remaining_amount
    if remaining <= 0:
        raise _exceeds(redemption, f"redemption {redemption.id} is already fully reversed")
    if unit_based:
        assert redemption.quantity is not None and redemption.unit_cost is not None
        left = redemption.quantity - (redemption.reversed_quantity or 0)
        units = left if quantity is None else quantity
        if units > left:
            raise _exceeds(redemption, f"quantity {units} exceeds the {left} units not yet reversed")
        # The last units take exactly what remains: the stored unit cost times the units, and
        # the total never drifts from the amount redeemed.
        value = remaining if units == left else units * redemption.unit_cost
        return ReversalSize(value, units)
    value = remaining if amount is None else amount
    if value > remaining:
        raise _exceeds(
            redemption,
            f"amount {amounts.format_amount(value, redemption.scale)} exceeds the "
            f"{amounts.format_amount(remaining, redemption.scale)} not yet reversed",
        )
    return ReversalSize(value, None)


def reversed_redemption(redemption: Redemption, reversal: ReversalSize, now: datetime) -> Redemption:
    """The redemption after the reversal (05 §2.9.2 effect 3), one version on."""
    reversed_amount = redemption.reversed_amount + reversal.amount
    reversed_quantity = redemption.reversed_quantity
    if reversal.quantity is not None:
        reversed_quantity = (reversed_quantity or 0) + reversal.quantity
    return replace(
        redemption,
        reversed_amount=reversed_amount,
        reversed_quantity=reversed_quantity,
        status=status_for(redemption.amount, reversed_amount),
        updated_at=now,
        version=redemption.version + 1,
    )


def restoration(consumed: tuple[ConsumedLot, ...], already_reversed: Decimal, amount: Decimal) -> list[ConsumedLot]:
    """What to give back to which lot, LIFO: the last-consumed lot first.

    ``consumed`` is in the order the redemption took it (FIFO); the ``already_reversed`` value
    went back to the last-consumed lots by earlier reversals, so this one continues below them.
    ``amount`` beyond the consumed lots (none for a SIMPLE asset) restores nothing.
    """
    restored: list[ConsumedLot] = []
    skip, need = already_reversed, amount
    for lot in reversed(consumed):
        if need <= 0:
            break
        available = lot.amount
        if skip > 0:
            skipped = min(skip, available)
            skip -= skipped
            available -= skipped
        if available <= 0:
            continue
        give = min(available, need)
        restored.append(ConsumedLot(lot.lot_id, lot.created_at, give))
        need -= give
    return restored


def given_back(lot: Lot, amount: Decimal) -> Lot:
    """``lot`` with ``amount`` of what the redemption took from it AVAILABLE again, same creation
    and expiry. A lot whose remainder has since been held (or is held back by a hold) keeps it
    there: the value comes back in a split of it, as a release would split it (04 §8.6)."""
    if lot.status in (LotStatus.HELD, LotStatus.DEFERRED):
        return replace(
            lot,
            id=ids.new_id(),
            amount=amount,
            remaining=amount,
            status=LotStatus.AVAILABLE,
            reference_id=None,
            origin=LotOrigin.RELEASE_SPLIT,
        )
    # AVAILABLE adds to its remainder; CONSUMED and EXPIRED lots hold nothing (expiry empties
    # a lot into breakage), so the amount is their whole remainder.
    remaining = lot.remaining + amount if lot.status is LotStatus.AVAILABLE else amount
    return replace(lot, remaining=remaining, status=LotStatus.AVAILABLE)
