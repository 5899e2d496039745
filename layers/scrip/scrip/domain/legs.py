"""The arithmetic of a posting (04 §2.5): what an operation's legs do to the balances they touch.

An operation names its legs (which account, which bucket, how much); these functions compute
the balances after them, refuse what would overdraw, and choose which sub-wallets of a program
wallet a change lands on. No storage: the caller reads the balances and commits the result.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from scrip.domain.ledger import Account, Balance, Bucket, EntityType, InsufficientBalance


@dataclass(frozen=True)
class Leg:
    account: Account
    bucket: Bucket
    amount: Decimal  # signed: positive credits the account
    program_id: str | None = None  # attribution when the entry has no program (a lot's program)


def wallet_deltas(legs: Iterable[Leg]) -> dict[Account, Decimal]:
    """The net change of each program wallet the legs move (wallets have one bucket)."""
    deltas: dict[Account, Decimal] = {}
    for leg in legs:
        if leg.account.entity_type is EntityType.PROGRAM:
            deltas[leg.account] = deltas.get(leg.account, Decimal(0)) + leg.amount
    return deltas


def owners(legs: Iterable[Leg]) -> list[Account]:
    """The participants and groups whose balances the legs change, first-seen order."""
    found: dict[Account, None] = {}
    for leg in legs:
        if leg.account.entity_type is not EntityType.PROGRAM and not leg.account.is_system:
            found.setdefault(leg.account)
    return list(found)


def apply(
    before: Mapping[Account, Balance], legs: Sequence[Leg], allow_negative: Collection[Account], scale: int
) -> dict[Account, Balance]:
    """The balances of ``before`` after every leg on them; accounts not in ``before`` are skipped.

    A leg that leaves its bucket negative is refused, unless it draws AVAILABLE of an account
    allowed an overdraft; the first such leg (in leg order) names what was available before.
    """
    after = dict(before)
    for leg in legs:
        if leg.account in after:
            after[leg.account] = after[leg.account].plus(leg.bucket, leg.amount)
    for leg in legs:
        if leg.account not in after or leg.amount >= 0:
            continue
        allowed = leg.bucket is Bucket.AVAILABLE and leg.account in allow_negative
        if after[leg.account].of(leg.bucket) < 0 and not allowed:
            raise InsufficientBalance(
                f"{leg.bucket.value} balance is insufficient",
                available=before[leg.account].of(leg.bucket),
                requested=-leg.amount,
                scale=scale,
            )
    return after


def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def wallet_draws(
    shards: Sequence[Balance], need: Decimal, scale: int, order: Sequence[int]
) -> list[tuple[int, Decimal]]:
    """Which sub-wallets a draw of ``need`` takes from: the first in ``order`` that covers it,
    else the fullest ones. ``order`` is random in production, to spread concurrent draws."""
    for shard in order:
        if shards[shard].available >= need:
            return [(shard, need)]
    draws, remaining = [], need
    for shard in sorted(order, key=lambda s: shards[s].available, reverse=True):
        take = min(shards[shard].available, remaining)
        if take > 0:
            draws.append((shard, take))
            remaining -= take
        if remaining == 0:
            return draws
    raise InsufficientBalance(
        "the program wallet cannot cover this amount",
        available=sum((shard.available for shard in shards), Decimal(0)),
        requested=need,
        scale=scale,
    )


def wallet_spread(amount: Decimal, shards: int, scale: int) -> list[tuple[int, Decimal]]:
    """Funding spreads over the sub-wallets, in amounts of the asset's scale (the rest on shard 0)."""
    part = (amount / shards).quantize(_quantum(scale), rounding=ROUND_DOWN)
    parts = [(shard, part) for shard in range(shards)]
    parts[0] = (0, amount - part * (shards - 1))
    return [p for p in parts if p[1] != 0]


def wallet_changes(
    shards: Sequence[Balance], delta: Decimal, scale: int, order: Sequence[int]
) -> list[tuple[int, Decimal]]:
    """(sub-wallet, signed change) for a wallet's net ``delta``: a draw, or a spread of a credit."""
    if delta < 0:
        return [(shard, -take) for shard, take in wallet_draws(shards, -delta, scale, order)]
    return wallet_spread(delta, len(shards), scale)


def apply_to_wallet(shards: Sequence[Balance], changes: Iterable[tuple[int, Decimal]]) -> list[Balance]:
    """Every sub-wallet's balance after ``changes`` (to AVAILABLE, the only bucket a wallet uses)."""
    after = list(shards)
    for shard, change in changes:
        after[shard] = after[shard].plus(Bucket.AVAILABLE, change)
    return after


def total(balances: Iterable[Balance]) -> Balance:
    """One balance for several records (a wallet's sub-wallets)."""
    listed = list(balances)
    return Balance(
        sum((b.available for b in listed), Decimal(0)),
        sum((b.held for b in listed), Decimal(0)),
        sum((b.deferred for b in listed), Decimal(0)),
    )
