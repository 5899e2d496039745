"""Reports agree with the ledger under random operations (issue 16): after each batch of credits,
debits, holds, releases, forfeits, expiries, redemptions, reversals and transfers (a fixed
seed), liability equals the sum of participant and group balances read from the balance routes,
and the rollforward between any two earlier instants reconciles exactly to liability at both
ends."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from scrip.domain import clock
from scrip.services import lot_jobs
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger
from tests.api.test_reports import assert_reconciles, credit_expiring, holders_total, liability, rollforward
from tests.api.test_reversals import redeem, reverse
from tests.api.test_transfers import group, transfer
from tests.conftest import Api

SEED = 1612
BATCHES = 4
OPERATIONS_PER_BATCH = 12


def _available(ledger: Ledger, participant: str) -> int:
    return int(ledger.balance(participant).get("available", "0"))


def _held(ledger: Ledger, participant: str) -> int:
    return int(ledger.balance(participant).get("held", "0"))


def _operate(ledger: Ledger, chooser: random.Random, people: list[str], pool: str, redemptions: list[str]) -> None:
    """One random operation; refusals (an amount over the balance) are part of the game."""
    who = chooser.choice(people)
    amount = str(chooser.randint(1, 40))
    kind = chooser.choice(["credit", "credit", "debit", "hold", "release", "forfeit", "redeem", "reverse", "transfer"])
    if kind == "credit":
        assert ledger.adjust(who, amount).status_code == 200
    elif kind == "debit" and _available(ledger, who) >= int(amount):
        assert ledger.adjust(who, amount, type="DEBIT").status_code == 200
    elif kind == "hold" and _available(ledger, who) >= int(amount):
        assert ledger.operation(who, "hold", amount=amount).status_code == 200
    elif kind == "release" and _held(ledger, who) > 0:
        assert ledger.operation(who, "release", amount=str(_held(ledger, who))).status_code == 200
    elif kind == "forfeit" and _available(ledger, who) >= int(amount):
        assert ledger.operation(who, "forfeit", bucket="AVAILABLE", amount=amount).status_code == 200
    elif kind == "redeem" and _available(ledger, who) >= int(amount):
        redemptions.append(redeem(ledger, who, amount)["id"])
    elif kind == "reverse" and redemptions:
        reversed_ = reverse(ledger, redemptions.pop(chooser.randrange(len(redemptions))))
        assert reversed_.status_code == 201, reversed_.text
    elif kind == "transfer" and _available(ledger, who) >= int(amount):
        other = chooser.choice([p for p in people if p != who])
        half = str(int(amount) // 2 or 1)
        recipients = [
            {"participant_id": other, "amount": half},
            {"group_id": pool, "amount": str(int(amount) - int(half))},
        ]
        recipients = [r for r in recipients if r["amount"] != "0"]
        moved = transfer(ledger, recipients, source_participant_id=who)
        assert moved.status_code == 201, moved.text


def test_liability_and_rollforward_follow_random_operations(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lot job looks two days back past its checkpoint, which cannot pass the wall clock: on
    # a moved clock each run would read 48 hours of due index. Two hours cover a batch's lots.
    monkeypatch.setattr(lot_jobs, "LOOKBACK", timedelta(hours=2))
    chooser = random.Random(SEED)
    ledger = make_ledger(api)
    lots = api.create_asset(ledger.program["id"], name="Bonus", symbol="BON", inventory_mode="LOT")
    people = [ledger.participant() for _ in range(3)]
    pool = group(ledger, people[0])
    redemptions: list[str] = []
    points = ledger.points["id"]
    # An hour of the application's clock per batch: a lot credited in one batch expires in the next.
    start = (datetime.now(UTC) + timedelta(days=60)).replace(minute=0, second=0, microsecond=0)
    instants = [start - timedelta(minutes=1)]
    for batch in range(BATCHES):
        move_clock(start + timedelta(hours=batch))
        stack.fire_schedule("LotJobsFunction")  # expires the lot of the batch before
        credit_expiring(
            ledger, lots, chooser.choice(people), str(chooser.randint(1, 9)), clock.now() + timedelta(minutes=30)
        )
        for _ in range(OPERATIONS_PER_BATCH):
            _operate(ledger, chooser, people, pool, redemptions)
        instants.append(start + timedelta(hours=batch, minutes=50))
        if batch % 2:
            stack.drain()  # half the checks with the stream applied, half reading the journal's tail
        stated = liability(api)
        for asset in (points, lots["id"]):
            held = sum((v for (a, _), v in stated.items() if a == asset), Decimal(0))
            assert held == holders_total(api, people, [pool], asset), (batch, asset)
        first, last = sorted(chooser.sample(instants, 2))
        assert_reconciles(api, first, last)
    month = rollforward(api, instants[0], instants[-1])
    expired = sum(Decimal(row["expired"]) for (asset, _), row in month.items() if asset == lots["id"])
    assert expired > 0  # the expiries happened, and the rollforward names them
    assert_reconciles(api, instants[0], instants[-1])
