"""Transfers (05 §3): what a transfer moves, checked and turned into legs and lots.

Pure: the service resolves the parties and reads balances and lots; these functions refuse a
self-transfer, count what a transaction would hold, and build the one journal entry's legs
(one aggregated source debit, one credit per recipient, in request order) and the recipients'
fresh lots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.ledger import Account, Bucket
from scrip.domain.legs import Leg
from scrip.domain.lots import Lot, new_lot

MAX_RECIPIENTS = 100
# DynamoDB's limit on one TransactWriteItems: a transfer that fits commits whole; a larger one
# is staged (services.transfers), each of its transactions within the limit.
MAX_TRANSACTION_ITEMS = 100


class SelfTransfer(ApiError):
    status, code = 400, "self_transfer"


@dataclass(frozen=True)
class Credit:
    """One recipient leg: the recipient's account and the amount credited to it."""

    account: Account
    amount: Decimal


def total_amount(credits: Sequence[Credit]) -> Decimal:
    return sum((credit.amount for credit in credits), Decimal(0))


def refuse_self_transfer(source: Account, credits: Sequence[Credit]) -> None:
    """400 self_transfer when any recipient resolves to the source (05 §3.1 step 4)."""
    for index, credit in enumerate(credits):
        if credit.account == source:
            raise SelfTransfer(
                "a transfer's recipient cannot be its source",
                details={"field": f"recipients[{index}]", "source_id": source.owner_id},
            )


def legs(source: Account, credits: Sequence[Credit]) -> list[Leg]:
    """The source's aggregated AVAILABLE debit first, then each recipient's credit: the entry
    sums to zero, and the source (the first owner) carries the entry's hash chain."""
    return [
        Leg(source, Bucket.AVAILABLE, -total_amount(credits)),
        *(Leg(credit.account, Bucket.AVAILABLE, credit.amount) for credit in credits),
    ]


def transaction_items(credits: Sequence[Credit], *, lot_mode: bool, idempotent: bool) -> int:
    """The fewest items the transfer's transaction writes: the source balance, each distinct
    recipient's balance, the entry and its list line, one ledger line per posting, a fresh lot
    per recipient (LOT mode) and the idempotency record. Consumed source lots come on top."""
    distinct = len({credit.account for credit in credits})
    postings = len(credits) + 1
    lots = len(credits) if lot_mode else 0
    return 1 + distinct + 2 + postings + lots + (1 if idempotent else 0)


def require_fits(items: int) -> None:
    """Refuse, before anything is written, a transaction over DynamoDB's limit: a staged
    transfer's first transaction (the entry, the source's side and every lot its debit drains)
    must still be one."""
    if items > MAX_TRANSACTION_ITEMS:
        raise ValidationFailed(
            f"this transfer needs {items} writes in one transaction, more than the {MAX_TRANSACTION_ITEMS} "
            "DynamoDB allows: split it into smaller transfers",
            field="recipients",
            reason="exceeds_transaction_limit",
            expected=f"at most {MAX_TRANSACTION_ITEMS} items",
            received=items,
        )


def recipient_lots(
    credits: Sequence[Credit],
    available: Mapping[Account, Decimal],
    *,
    asset_id: str,
    program_id: str,
    now: datetime,
) -> list[tuple[Account, Lot]]:
    """A fresh AVAILABLE lot per recipient leg (05 §3.1: vintage resets, no expiry carried over).

    A recipient in overdraft repays it first, as every credit does (04 §8.5): only the excess
    becomes a lot, so a balance stays equal to its lots. ``available`` is each recipient's
    AVAILABLE before the transfer; a recipient listed twice repays from its first leg on.
    """
    running = dict(available)
    found: list[tuple[Account, Lot]] = []
    for credit in credits:
        before = running.get(credit.account, Decimal(0))
        running[credit.account] = before + credit.amount
        lot_amount = credit.amount + min(before, Decimal(0))
        if lot_amount <= 0:
            continue
        lot = new_lot(
            asset_id=asset_id,
            amount=credit.amount,
            now=now,
            bucket=Bucket.AVAILABLE,
            expires_at=None,
            matures_at=None,
            reference_id=None,
            program_id=program_id,
        )
        found.append((credit.account, replace(lot, amount=lot_amount, remaining=lot_amount)))
    return found
