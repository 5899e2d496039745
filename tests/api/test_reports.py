"""The reports (05 §4.1–4.4) over a scripted month of activity through HTTP: earn, hold,
redeem, reverse, transfer, forfeit, debit, expire, with the application clock moved day by day.

The rollforward between two instants reconciles exactly to ``liability?as_of=`` at both ends,
liability equals the holders' balances read from the balance routes, and a past ``as_of``
answers the same after more activity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.clock import to_rfc3339
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances, lot_jobs
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger
from tests.api.test_item_redemptions import create_reward
from tests.api.test_reversals import redeem, reverse
from tests.api.test_transfers import group, transfer
from tests.conftest import Api

OUTFLOWS = (
    "issuance_returns",
    "redeemed",
    "reversal_clawbacks",
    "forfeited",
    "expired",
    "debited",
    "holds_voided",
)
INFLOWS = ("issued", "redemption_reversals", "redemption_receipts", "transfers_net", "adjustments_net")
NETS = ("transfers_net", "adjustments_net", "bucket_movements_net")


def rows(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    """Every row of a report, page after page."""
    found: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": "200", **params}
    while True:
        response = api.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["data"]
        if not body["pagination"]["has_more"]:
            return found
        query["cursor"] = body["pagination"]["next_cursor"]


def liability(api: Api, as_of: datetime | None = None, **params: str) -> dict[tuple[str, str | None], Decimal]:
    query = {"as_of": to_rfc3339(as_of)} if as_of else {}
    return {
        (row["asset_id"], row["program_id"]): Decimal(row["balance"])
        for row in rows(api, "/v1/reports/liability", **query, **params)
    }


def rollforward(
    api: Api, start: datetime, end: datetime, **params: str
) -> dict[tuple[str, str | None], dict[str, Any]]:
    found = rows(
        api, "/v1/reports/liability-rollforward", **{"from": to_rfc3339(start), "to": to_rfc3339(end)}, **params
    )
    return {(row["asset_id"], row["program_id"]): row for row in found}


def explained(row: dict[str, Any]) -> Decimal:
    """The change a rollforward row's lines explain (05 §4.4's sign convention)."""
    change = sum((Decimal(row[line]) for line in INFLOWS if line not in NETS), Decimal(0))
    change -= sum((Decimal(row[line]) for line in OUTFLOWS), Decimal(0))
    return change + sum((Decimal(row[line]) for line in NETS), Decimal(0))


def assert_reconciles(api: Api, start: datetime, end: datetime) -> None:
    """Every rollforward row: lines explain closing - opening, and the two ends are liability's."""
    opening = liability(api, start - timedelta(microseconds=1))
    closing = liability(api, end)
    for key, row in rollforward(api, start, end).items():
        assert Decimal(row["closing_balance"]) - Decimal(row["opening_balance"]) == explained(row), row
        assert Decimal(row["opening_balance"]) == opening.get(key, Decimal(0)), (key, row, opening)
        assert Decimal(row["closing_balance"]) == closing[key], (key, row, closing)


def holders_total(api: Api, participants: list[str], groups: list[str], asset_id: str) -> Decimal:
    """Participants' (every bucket) and groups' (available + held) balances from the balance routes."""
    total = Decimal(0)
    for participant in participants:
        for row in api.get(f"/v1/participants/{participant}/balances?asset_id={asset_id}").json()["data"]:
            total += Decimal(row["available"]) + Decimal(row["held"]) + Decimal(row["deferred"])
    for group_id in groups:
        for row in api.get(f"/v1/groups/{group_id}/balances").json()["data"]:
            if row["asset_id"] == asset_id:
                total += Decimal(row["balance"])
    return total


def credit_expiring(ledger: Ledger, asset: dict[str, Any], participant: str, amount: str, expires_at: datetime) -> None:
    """A credit whose lot expires (adjust takes no expiry: a rule's credit does, 04 §8)."""
    balances.credit(
        Caller(ledger.api.organization_id, "rule"),
        balances.BalanceOwner(EntityType.PARTICIPANT, participant),
        program_id=ledger.program["id"],
        asset_id=asset["id"],
        amount=Decimal(amount),
        expires_at=expires_at,
    )


@pytest.fixture
def month_start() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_scripted_month_answers_every_report(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    month_start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = make_ledger(api)
    lots = api.create_asset(ledger.program["id"], name="Bonus", symbol="BON", inventory_mode="LOT")
    points, program_id = ledger.points["id"], ledger.program["id"]
    create_reward(ledger)
    day = lambda n, hours=12: month_start + timedelta(days=n, hours=hours)  # noqa: E731

    move_clock(day(0))
    alice, bob, carol = ledger.participant(), ledger.participant(), ledger.participant()
    pool = group(ledger, carol)
    assert ledger.adjust(alice, "1000").status_code == 200
    assert ledger.adjust(bob, "500").status_code == 200
    move_clock(day(2))
    assert ledger.operation(alice, "hold", amount="200").status_code == 200
    move_clock(day(3))
    redeemed = redeem(ledger, alice, "300")
    move_clock(day(5))
    assert reverse(ledger, redeemed["id"], amount="100").status_code == 201
    move_clock(day(7))
    moved = transfer(
        ledger,
        [{"participant_id": bob, "amount": "50"}, {"group_id": pool, "amount": "100"}],
        source_participant_id=alice,
    )
    assert moved.status_code == 201, moved.text
    move_clock(day(9))
    assert ledger.operation(alice, "release", amount="200").status_code == 200
    move_clock(day(10))
    assert ledger.operation(bob, "forfeit", bucket="AVAILABLE", amount="20").status_code == 200
    assert ledger.adjust(bob, "10", type="DEBIT").status_code == 200
    move_clock(day(12))
    credit_expiring(ledger, lots, carol, "70", expires_at=day(20, 0))
    move_clock(day(20, 1))
    # The job looks two days back past a checkpoint that cannot pass the wall clock: on a moved
    # clock that is 48 hours of due index a run; two cover this lot.
    monkeypatch.setattr(lot_jobs, "LOOKBACK", timedelta(hours=2))
    stack.fire_schedule("LotJobsFunction")
    move_clock(day(25))
    stack.drain()

    # Liability now equals the holders' balances; per asset the lot asset has expired to zero.
    now = liability(api)
    people, groups = [alice, bob, carol], [pool]
    assert now[(points, program_id)] == holders_total(api, people, groups, points) == Decimal(1270)
    assert holders_total(api, people, groups, lots["id"]) == 0
    assert sum((v for (asset, _), v in now.items() if asset == lots["id"]), Decimal(0)) == 0

    # The whole month, line by line.
    month = rollforward(api, day(0, 0), day(25))
    whole = month[(points, program_id)]
    assert {key: Decimal(row["closing_balance"]) for key, row in month.items()} == now
    assert {line: whole[line] for line in ("opening_balance", "issued", "redeemed", "redemption_reversals")} == {
        "opening_balance": "0",
        "issued": "1500",
        "redeemed": "300",
        "redemption_reversals": "100",
    }
    assert (whole["forfeited"], whole["debited"], whole["transfers_net"], whole["bucket_movements_net"]) == (
        "20",
        "10",
        "0",
        "0",
    )
    assert (whole["expired"], whole["holds_voided"], whole["closing_balance"]) == ("0", "0", "1270")
    assert (whole["asset_name"], whole["asset_symbol"], whole["scale"], whole["program_name"]) == (
        "Points",
        ledger.points["symbol"],
        0,
        "Everyday Rewards",
    )
    expired_rows = [r for (asset, _), r in month.items() if asset == lots["id"]]
    assert (
        sum(Decimal(r["expired"]) for r in expired_rows) == 70 and sum(Decimal(r["issued"]) for r in expired_rows) == 70
    )

    # Any two instants reconcile to liability at both ends.
    for start, end in [(day(2, 18), day(9, 18)), (day(3, 18), day(21, 18))]:
        assert_reconciles(api, start, end)

    # By bucket: alice's hold is HELD between day 2 and day 9.
    split = rows(api, "/v1/reports/liability", as_of=to_rfc3339(day(4)), by_bucket="true", asset_id=points)
    assert [(r["bucket"], r["balance"]) for r in split] == [("AVAILABLE", "1000"), ("HELD", "200"), ("DEFERRED", "0")]
    assert "bucket" not in rows(api, "/v1/reports/liability", asset_id=points)[0]

    # Ledger summary: all time, and a period whose identity holds.
    window = {"from": to_rfc3339(day(3, 0)), "to": to_rfc3339(day(10, 18))}
    by_asset = {r["asset_id"]: r for r in rows(api, "/v1/reports/ledger-summary", **window)}
    s = by_asset[points]
    assert (s["total_issued"], s["total_redeemed"], s["total_expired"], s["total_forfeited"], s["current_balance"]) == (
        "1490",
        "200",
        "0",
        "20",
        "1270",
    )
    assert s["participant_count"] == 2  # alice and bob; carol holds nothing of points
    assert (s["opening_balance"], s["closing_balance"], s["period_issued"], s["period_redeemed"]) == (
        "1500",
        "1270",
        "0",
        "300",
    )
    assert (s["period_expired"], s["period_forfeited"], s["other_adjustments_net"]) == (
        "0",
        "20",
        "90",
    )  # +100 reversal -10 debit
    assert by_asset[lots["id"]]["participant_count"] == 0 and by_asset[lots["id"]]["total_expired"] == "70"
    scoped = {r["asset_id"]: r for r in rows(api, "/v1/reports/ledger-summary", program_id=program_id, **window)}
    assert scoped[points] == s  # every posting of points is the program's
    all_time = {r["asset_id"]: r for r in rows(api, "/v1/reports/ledger-summary")}
    assert "opening_balance" not in all_time[points]
    assert all_time[points]["current_balance"] == "1270"

    # Program activity.
    (activity,) = rows(api, "/v1/reports/program-activity")
    assert activity["program_id"] == program_id and activity["program_name"] == "Everyday Rewards"
    assert (activity["unique_participants"], activity["asset_count"], activity["reward_count"]) == (3, 3, 1)
    assert (activity["rule_count"], activity["tier_count"], activity["event_count"]) == (0, 0, 0)
    assert activity["total_issued"] == "1570" and activity["total_redeemed"] == "300"
    assert activity["journal_count"] >= 10
    period = rows(api, "/v1/reports/program-activity", **{"from": to_rfc3339(day(4, 0)), "to": to_rfc3339(day(11, 0))})
    assert [(r["total_issued"], r["total_redeemed"]) for r in period] == [("0", "0")]
    assert rows(api, "/v1/reports/program-activity", **{"from": to_rfc3339(day(22)), "to": to_rfc3339(day(24))}) == []
    assert rows(api, "/v1/reports/program-activity", since=to_rfc3339(day(22))) == []
    assert len(rows(api, "/v1/reports/program-activity", since=to_rfc3339(day(10)))) == 1

    # The same as_of answers the same after more activity.
    before = rows(api, "/v1/reports/liability", as_of=to_rfc3339(day(25)))
    assert ledger.adjust(alice, "5").status_code == 200
    move_clock(day(26))
    assert ledger.adjust(bob, "7").status_code == 200
    assert rows(api, "/v1/reports/liability", as_of=to_rfc3339(day(25))) == before
    # A day of entries the stream has not applied: the report says it is behind, not stale.
    behind = api.get("/v1/reports/liability")
    assert (behind.status_code, behind.json()["code"]) == (503, "aggregates_behind"), behind.text
    assert int(behind.headers["Retry-After"]) > 0
    stack.drain()
    assert liability(api)[(points, program_id)] == Decimal(1282)
