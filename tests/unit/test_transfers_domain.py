"""The pure part of transfers (domain/transfers.py): legs, self-transfer, the transaction's size,
and the recipients' fresh lots."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrip.domain import transfers
from scrip.domain.errors import ValidationFailed
from scrip.domain.ledger import Account, Bucket, group_account, participant_account
from scrip.domain.lots import LotOrigin, LotStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALICE, BOB, CAROL = participant_account("alice"), participant_account("bob"), participant_account("carol")


def credit(account: Account, amount: str) -> transfers.Credit:
    return transfers.Credit(account, Decimal(amount))


def test_legs_debit_the_source_once_and_credit_each_recipient_in_order() -> None:
    pool = group_account("pool", "program")
    legs = transfers.legs(ALICE, [credit(BOB, "190"), credit(pool, "10"), credit(BOB, "5")])
    assert [(leg.account, leg.bucket, leg.amount) for leg in legs] == [
        (ALICE, Bucket.AVAILABLE, Decimal(-205)),
        (BOB, Bucket.AVAILABLE, Decimal(190)),
        (pool, Bucket.AVAILABLE, Decimal(10)),
        (BOB, Bucket.AVAILABLE, Decimal(5)),
    ]


@given(st.lists(st.decimals(min_value="0.01", max_value="1000000", places=2), min_size=1, max_size=100))
def test_legs_always_sum_to_zero(amounts: list[Decimal]) -> None:
    legs = transfers.legs(ALICE, [credit(BOB, str(a)) for a in amounts])
    assert sum(leg.amount for leg in legs) == 0


def test_self_transfer_is_refused_with_the_recipient_named() -> None:
    transfers.refuse_self_transfer(ALICE, [credit(BOB, "1")])
    with pytest.raises(transfers.SelfTransfer) as refused:
        transfers.refuse_self_transfer(ALICE, [credit(BOB, "1"), credit(ALICE, "1")])
    assert (refused.value.status, refused.value.code) == (400, "self_transfer")
    assert refused.value.details == {"field": "recipients[1]", "source_id": "alice"}
    # A group source is a different account from its members, and from the same group elsewhere.
    transfers.refuse_self_transfer(group_account("g", "p1"), [credit(group_account("g", "p2"), "1")])


def test_transaction_items_count_balances_once_and_lines_per_posting() -> None:
    # 1 source balance + 2 distinct balances + entry + list line + 4 ledger lines
    assert transfers.transaction_items(
        [credit(BOB, "1"), credit(CAROL, "1"), credit(BOB, "1")], lot_mode=False, idempotent=False
    ) == (1 + 2 + 2 + 4)
    assert transfers.transaction_items([credit(BOB, "1")], lot_mode=True, idempotent=True) == 1 + 1 + 2 + 2 + 1 + 1


def test_require_fits_refuses_above_one_transaction() -> None:
    transfers.require_fits(100)
    with pytest.raises(ValidationFailed) as refused:
        transfers.require_fits(101)
    assert refused.value.details is not None
    assert (refused.value.details["field"], refused.value.details["reason"]) == (
        "recipients",
        "exceeds_transaction_limit",
    )


def test_recipient_lots_are_fresh_available_lots_without_expiry() -> None:
    found = transfers.recipient_lots(
        [credit(BOB, "25"), credit(CAROL, "15")], {}, asset_id="asset", program_id="program", now=NOW
    )
    assert [(account, lot.amount, lot.remaining) for account, lot in found] == [
        (BOB, Decimal(25), Decimal(25)),
        (CAROL, Decimal(15), Decimal(15)),
    ]
    for _, lot in found:
        assert (lot.status, lot.origin, lot.created_at, lot.expires_at) == (
            LotStatus.AVAILABLE,
            LotOrigin.CREDIT,
            NOW,
            None,
        )
        assert lot.program_id == "program"


def test_recipient_in_overdraft_repays_it_first_across_duplicate_legs() -> None:
    found = transfers.recipient_lots(
        [credit(BOB, "3"), credit(BOB, "4"), credit(CAROL, "2")],
        {BOB: Decimal(-5), CAROL: Decimal(1)},
        asset_id="asset",
        program_id="program",
        now=NOW,
    )
    # Bob owes 5: the first leg (3) only repays, the second repays 2 and leaves a lot of 2.
    assert [(account, lot.remaining) for account, lot in found] == [(BOB, Decimal(2)), (CAROL, Decimal(2))]
