"""The arithmetic of a posting (domain.legs): legs applied to balances, overdrafts refused,
program wallets drawn from and funded across their sub-wallets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scrip.domain.errors import ApiError
from scrip.domain.ledger import (
    Balance,
    Bucket,
    InsufficientBalance,
    SystemAccount,
    participant_account,
    system_account,
    wallet_account,
)
from scrip.domain.legs import (
    Leg,
    apply,
    apply_to_wallet,
    owners,
    total,
    wallet_changes,
    wallet_deltas,
    wallet_draws,
    wallet_spread,
)

ALICE = participant_account("alice")
BOB = participant_account("bob")
WALLET = wallet_account("program")
ISSUANCE = system_account(SystemAccount.SYSTEM_ISSUANCE)


def _details(error: ApiError) -> dict[str, object]:
    return dict(error.details or {})


def test_a_credit_adds_to_the_bucket_and_skips_system_accounts() -> None:
    legs = [Leg(ISSUANCE, Bucket.AVAILABLE, Decimal(-5)), Leg(ALICE, Bucket.AVAILABLE, Decimal(5))]

    after = apply({ALICE: Balance(Decimal(2))}, legs, frozenset(), 0)

    assert after == {ALICE: Balance(Decimal(7))}


def test_a_hold_moves_value_between_buckets_of_one_account() -> None:
    legs = [Leg(ALICE, Bucket.AVAILABLE, Decimal(-3)), Leg(ALICE, Bucket.HELD, Decimal(3))]

    after = apply({ALICE: Balance(Decimal(10), Decimal(1))}, legs, frozenset(), 0)

    assert after[ALICE] == Balance(Decimal(7), Decimal(4))


def test_a_debit_past_the_balance_is_refused_with_what_was_available() -> None:
    legs = [Leg(ALICE, Bucket.AVAILABLE, Decimal("-7.5")), Leg(ISSUANCE, Bucket.AVAILABLE, Decimal("7.5"))]

    with pytest.raises(InsufficientBalance) as refused:
        apply({ALICE: Balance(Decimal("4.25"))}, legs, frozenset(), 2)

    assert refused.value.code == "insufficient_balance"
    assert _details(refused.value) == {"available": "4.25", "requested": "7.50"}
    assert "AVAILABLE balance is insufficient" in refused.value.message


def test_an_overdraft_is_allowed_only_on_available_of_the_accounts_named() -> None:
    draw = [Leg(ALICE, Bucket.AVAILABLE, Decimal(-9)), Leg(ISSUANCE, Bucket.AVAILABLE, Decimal(9))]
    assert apply({ALICE: Balance(Decimal(1))}, draw, {ALICE}, 0)[ALICE].available == -8

    release = [Leg(ALICE, Bucket.HELD, Decimal(-9)), Leg(ALICE, Bucket.AVAILABLE, Decimal(9))]
    with pytest.raises(InsufficientBalance):
        apply({ALICE: Balance(Decimal(0), Decimal(1))}, release, {ALICE}, 0)


def test_the_first_leg_left_negative_names_the_refusal() -> None:
    legs = [
        Leg(ALICE, Bucket.HELD, Decimal(-2)),
        Leg(BOB, Bucket.AVAILABLE, Decimal(-6)),
        Leg(ISSUANCE, Bucket.AVAILABLE, Decimal(8)),
    ]

    with pytest.raises(InsufficientBalance) as refused:
        apply({ALICE: Balance(Decimal(0), Decimal(1)), BOB: Balance(Decimal(5))}, legs, frozenset(), 0)

    assert _details(refused.value) == {"available": "1", "requested": "2"}


def test_legs_that_net_to_zero_on_an_account_are_not_an_overdraft() -> None:
    legs = [Leg(ALICE, Bucket.AVAILABLE, Decimal(-5)), Leg(ALICE, Bucket.AVAILABLE, Decimal(5))]

    assert apply({ALICE: Balance(Decimal(0))}, legs, frozenset(), 0)[ALICE] == Balance(Decimal(0))


def test_owners_and_wallet_deltas_split_the_accounts() -> None:
    legs = [
        Leg(WALLET, Bucket.AVAILABLE, Decimal(-4)),
        Leg(ALICE, Bucket.AVAILABLE, Decimal(3)),
        Leg(BOB, Bucket.AVAILABLE, Decimal(1)),
        Leg(ALICE, Bucket.HELD, Decimal(0)),
        Leg(ISSUANCE, Bucket.AVAILABLE, Decimal(0)),
    ]

    assert owners(legs) == [ALICE, BOB]
    assert wallet_deltas(legs) == {WALLET: Decimal(-4)}


def _shards(*available: int) -> list[Balance]:
    return [Balance(Decimal(value)) for value in available]


def test_a_draw_takes_from_the_first_sub_wallet_in_order_that_covers_it() -> None:
    shards = _shards(5, 20, 30)

    assert wallet_draws(shards, Decimal(10), 0, order=[0, 2, 1]) == [(2, Decimal(10))]
    assert wallet_draws(shards, Decimal(10), 0, order=[1, 2, 0]) == [(1, Decimal(10))]


def test_a_draw_no_sub_wallet_covers_takes_from_the_fullest_first() -> None:
    shards = _shards(5, 20, 0, 30)

    draws = wallet_draws(shards, Decimal(52), 0, order=[0, 1, 2, 3])

    assert draws == [(3, Decimal(30)), (1, Decimal(20)), (0, Decimal(2))]


def test_a_draw_past_the_whole_wallet_is_refused() -> None:
    with pytest.raises(InsufficientBalance) as refused:
        wallet_draws(_shards(5, 20), Decimal(26), 0, order=[1, 0])

    assert _details(refused.value) == {"available": "25", "requested": "26"}
    assert "program wallet" in refused.value.message


def test_funding_spreads_in_the_assets_scale_with_the_rest_on_the_first() -> None:
    assert wallet_spread(Decimal("10.00"), 4, 2) == [(shard, Decimal("2.50")) for shard in range(4)]
    assert wallet_spread(Decimal(10), 4, 0) == [(0, Decimal(4)), (1, Decimal(2)), (2, Decimal(2)), (3, Decimal(2))]
    assert wallet_spread(Decimal(3), 16, 0) == [(0, Decimal(3))]  # zero parts write nothing
    assert sum(part for _, part in wallet_spread(Decimal("7.77"), 16, 2)) == Decimal("7.77")


def test_a_wallets_changes_and_balances_after_them() -> None:
    shards = _shards(10, 0)

    drawn = wallet_changes(shards, Decimal(-4), 0, order=[1, 0])
    funded = wallet_changes(shards, Decimal(4), 0, order=[1, 0])

    assert drawn == [(0, Decimal(-4))]
    assert funded == [(0, Decimal(2)), (1, Decimal(2))]
    assert apply_to_wallet(shards, drawn) == _shards(6, 0)
    assert total(apply_to_wallet(shards, funded)) == Balance(Decimal(14))
    assert shards == _shards(10, 0)  # the inputs are not changed


def test_total_adds_every_bucket() -> None:
    assert total([Balance(Decimal(1), Decimal(2), Decimal(3)), Balance(Decimal(4), Decimal(5), Decimal(6))]) == Balance(
        Decimal(5), Decimal(7), Decimal(9)
    )
    assert total([]) == Balance()
