"""GET /v1/reports/expiration-schedule (04 §8.10) through the local stack: outstanding LOT value
placed in calendar-aligned UTC buckets from the stream-kept expiry index, exact per bucket, with
the invariant Σ buckets + never + before + after = total; the program and asset filters; lots on
the edge days placed by their instant; every documented 400 and 404."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from scrip.domain import clock
from scrip.domain.clock import to_rfc3339
from scrip.domain.expiration_schedule import MAX_BUCKETS
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.services import balances
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger
from tests.conftest import Api

PATH = "/v1/reports/expiration-schedule"


def _credit(
    ledger: Ledger,
    asset: dict[str, Any],
    participant: str,
    amount: str,
    expires_at: datetime | None = None,
    *,
    program_id: str | None = None,
    matures_at: datetime | None = None,
) -> None:
    """A credit with an expiry or maturity: the rule action's options (adjust has none)."""
    balances.credit(
        Caller(ledger.api.organization_id, "rule"),
        balances.BalanceOwner(EntityType.PARTICIPANT, participant),
        program_id=program_id or ledger.program["id"],
        asset_id=asset["id"],
        amount=Decimal(amount),
        expires_at=expires_at,
        matures_at=matures_at,
    )


def _schedule(api: Api, start: datetime, end: datetime, **params: str) -> list[dict[str, Any]]:
    response = api.get(PATH, params={"from": to_rfc3339(start), "to": to_rfc3339(end), **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"has_more": False, "next_cursor": None}
    return list(body["data"])


def _parts(row: dict[str, Any]) -> tuple[list[tuple[str, int]], str, str, str, str]:
    """(bucket amounts and counts, never, before, after, total), after checking the invariant."""
    buckets = [(b["amount"], b["lot_count"]) for b in row["buckets"]]
    parts = [Decimal(b["amount"]) for b in row["buckets"]]
    parts += [Decimal(row[f]) for f in ("never_expiring", "expiring_before_window", "expiring_after_window")]
    assert sum(parts, Decimal(0)) == Decimal(row["total_outstanding"]), row
    return (
        buckets,
        row["never_expiring"],
        row["expiring_before_window"],
        row["expiring_after_window"],
        row["total_outstanding"],
    )


def _first_of_next_month(moment: datetime) -> datetime:
    return (moment.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def test_a_scripted_schedule_places_every_outstanding_lot_exactly(api: Api, other_api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    program_id = ledger.program["id"]
    lots = api.create_asset(program_id, name="Miles", symbol=f"MI{uuid.uuid4().hex[:4]}", inventory_mode="LOT", scale=2)
    quiet = api.create_asset(program_id, name="Quiet", symbol=f"QU{uuid.uuid4().hex[:4]}", inventory_mode="LOT")
    second = api.create_program(name="Partner")
    assert api.post(f"/v1/programs/{second['id']}/assets", json={"asset_id": lots["id"]}).status_code in (200, 201)

    now = clock.now()
    month_1 = _first_of_next_month(now + timedelta(days=40))  # a whole month ahead at least
    month_2 = _first_of_next_month(month_1)
    start = month_1 + timedelta(hours=12)  # mid-day: the first edge day holds lots on both sides
    end = _first_of_next_month(month_2) - timedelta(seconds=1)
    alice, bob, carol, dave, erin = (ledger.participant() for _ in range(5))

    _credit(ledger, lots, alice, "5", month_1 + timedelta(hours=6))  # before: on from's day, before from
    _credit(ledger, lots, alice, "10", month_1 + timedelta(hours=18))  # month 1: on from's day, after it
    _credit(ledger, lots, alice, "20", month_1 + timedelta(days=10))  # month 1
    _credit(ledger, lots, alice, "3", now + timedelta(days=10))  # before the window
    _credit(ledger, lots, alice, "7")  # never expires
    _credit(ledger, lots, alice, "9", end + timedelta(days=1))  # after the window
    _credit(ledger, lots, alice, "4", end)  # month 2: exactly at `to`, which is inclusive
    _credit(ledger, lots, bob, "40", month_2 + timedelta(days=5))
    assert ledger.adjust(bob, "15", type="DEBIT", asset=lots).status_code == 200  # 25 outstanding
    _credit(ledger, lots, carol, "30", month_2 + timedelta(days=5))
    held = ledger.operation(carol, "hold", asset=lots, amount="12")  # split: 18 AVAILABLE + 12 HELD, both count
    assert held.status_code == 200, held.text
    _credit(ledger, lots, dave, "11", month_2 + timedelta(days=10), matures_at=now + timedelta(days=1))  # DEFERRED
    _credit(ledger, lots, erin, "100", month_1 + timedelta(days=3), program_id=second["id"])  # month 1, partner
    make_ledger(other_api).participant()  # another organization's activity is not ours
    stack.drain()

    rows = _schedule(api, start, end)
    assert [row["asset_id"] for row in rows] == sorted([lots["id"], quiet["id"]])  # LOT assets only, by id
    by_asset = {row["asset_id"]: row for row in rows}
    row = by_asset[lots["id"]]
    assert (row["asset_name"], row["asset_symbol"], row["scale"]) == ("Miles", lots["symbol"], 2)
    assert [(b["bucket_start"], b["bucket_end"]) for b in row["buckets"]] == [
        (to_rfc3339(month_1), to_rfc3339(month_2)),
        (to_rfc3339(month_2), to_rfc3339(_first_of_next_month(month_2))),
    ]
    assert _parts(row) == ([("130.00", 3), ("70.00", 5)], "7.00", "8.00", "9.00", "224.00")
    assert _parts(by_asset[quiet["id"]]) == ([("0", 0), ("0", 0)], "0", "0", "0", "0")

    # A program's own lots only, and only the assets linked to it.
    (partner,) = _schedule(api, start, end, program_id=second["id"])
    assert partner["asset_id"] == lots["id"]
    assert _parts(partner) == ([("100.00", 1), ("0.00", 0)], "0.00", "0.00", "0.00", "100.00")
    mine = {r["asset_id"]: r for r in _schedule(api, start, end, program_id=program_id)}
    assert _parts(mine[lots["id"]]) == ([("30.00", 2), ("70.00", 5)], "7.00", "8.00", "9.00", "124.00")
    assert set(mine) == {lots["id"], quiet["id"]}

    # One asset; one asset the program is not linked to has no row.
    (only,) = _schedule(api, start, end, asset_id=lots["id"])
    assert only == row
    assert _schedule(api, start, end, asset_id=quiet["id"], program_id=second["id"]) == []

    # Pages of one asset each, in asset-id order.
    first = api.get(PATH, params={"from": to_rfc3339(start), "to": to_rfc3339(end), "limit": "1"}).json()
    assert first["pagination"]["has_more"] and first["data"] == rows[:1]
    assert (first["from"], first["to"], first["granularity"]) == (to_rfc3339(start), to_rfc3339(end), "month")
    following = {"from": to_rfc3339(start), "to": to_rfc3339(end), "limit": "1"}
    following["cursor"] = first["pagination"]["next_cursor"]
    assert api.get(PATH, params=following).json()["data"] == rows[1:]
    following["granularity"] = "week"  # a cursor belongs to its query
    assert api.get(PATH, params=following).json()["details"]["field"] == "cursor"


def test_days_and_weeks_place_edge_day_lots_by_their_instant(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    lots = api.create_asset(
        ledger.program["id"], name="Stamps", symbol=f"ST{uuid.uuid4().hex[:4]}", inventory_mode="LOT"
    )
    today = clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sunday = today + timedelta(days=14 + (6 - today.weekday()))
    start, end = sunday + timedelta(hours=12), sunday + timedelta(days=2, hours=12)  # Sunday noon to Tuesday noon
    person = ledger.participant()
    _credit(ledger, lots, person, "1", start - timedelta(microseconds=1))  # before, on from's day
    _credit(ledger, lots, person, "2", start)  # inside: from is inclusive
    _credit(ledger, lots, person, "4", sunday + timedelta(days=1, hours=8))  # Monday, a whole day inside
    _credit(ledger, lots, person, "8", end)  # inside: to is inclusive
    _credit(ledger, lots, person, "16", end + timedelta(seconds=1))  # after, on to's day
    _credit(ledger, lots, person, "32", sunday + timedelta(days=3))  # after, a later day
    stack.drain()

    (days,) = _schedule(api, start, end, granularity="day")
    assert [b["bucket_start"] for b in days["buckets"]] == [to_rfc3339(sunday + timedelta(days=n)) for n in range(3)]
    assert days["buckets"][-1]["bucket_end"] == to_rfc3339(sunday + timedelta(days=3))
    assert _parts(days) == ([("2", 1), ("4", 1), ("8", 1)], "0", "1", "48", "63")
    (weeks,) = _schedule(api, start, end, granularity="week")
    assert [(b["bucket_start"], b["bucket_end"]) for b in weeks["buckets"]] == [
        (to_rfc3339(sunday - timedelta(days=6)), to_rfc3339(sunday + timedelta(days=1))),  # Monday to Monday
        (to_rfc3339(sunday + timedelta(days=1)), to_rfc3339(sunday + timedelta(days=8))),
    ]
    assert _parts(weeks) == ([("2", 1), ("12", 2)], "0", "1", "48", "63")


def _refused(api: Api, params: dict[str, str], field: str, status: int = 400) -> dict[str, Any]:
    response = api.get(PATH, params=params)
    assert response.status_code == status, (params, response.text)
    body = dict(response.json())
    if status == 400:
        assert body["code"] == "validation_error" and body["details"]["field"] == field, body
    else:
        assert body["code"] == "not_found", body
    return body


def test_every_refusal_has_its_status_and_code(api: Api, other_api: Api) -> None:
    ledger = make_ledger(api)
    window = {"from": "2027-01-01T00:00:00Z", "to": "2027-03-31T23:59:59Z"}
    _refused(api, {"to": window["to"]}, "from")
    _refused(api, {"from": window["from"]}, "to")
    _refused(api, {**window, "from": "2027-01-01"}, "from")
    _refused(api, {**window, "to": "soon"}, "to")
    assert _refused(api, {"from": window["to"], "to": window["from"]}, "from")["details"]["reason"] == "invalid_range"
    _refused(api, {**window, "granularity": "year"}, "granularity")
    too_long = {"from": "2027-01-01T00:00:00Z", "to": "2028-12-31T00:00:00Z", "granularity": "day"}
    too_many = _refused(api, too_long, "granularity")["details"]
    assert (too_many["reason"], too_many["received"]) == ("too_many_buckets", 731)  # 2028 is a leap year
    assert str(MAX_BUCKETS) in too_many["expected"]
    last = {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"}
    assert _refused(api, last, "to")["details"]["reason"] == "out_of_range"  # its month would end in year 10000
    latest = {"from": "9999-12-20T00:00:00Z", "to": "9999-12-30T23:59:59Z", "granularity": "day"}
    assert api.get(PATH, params=latest).status_code == 200  # its last day ends on 9999-12-31
    simple = _refused(api, {**window, "asset_id": ledger.points["id"]}, "asset_id")
    assert simple["details"]["reason"] == "not_lot_asset"
    _refused(api, {**window, "asset_id": "not-a-uuid"}, "asset_id")
    _refused(api, {**window, "limit": "0"}, "limit")
    _refused(api, {**window, "cursor": "garbage"}, "cursor")
    _refused(api, {**window, "asset_id": str(uuid.uuid4())}, "asset_id", status=404)
    _refused(api, {**window, "program_id": str(uuid.uuid4())}, "program_id", status=404)
    # Another organization's LOT asset and program are as unknown as made-up ones.
    theirs = make_ledger(other_api)
    their_lots = other_api.create_asset(
        theirs.program["id"], name="Theirs", symbol=f"TH{uuid.uuid4().hex[:4]}", inventory_mode="LOT"
    )
    _refused(api, {**window, "asset_id": their_lots["id"]}, "asset_id", status=404)
    _refused(api, {**window, "program_id": theirs.program["id"]}, "program_id", status=404)


def test_the_document_states_the_choices(api: Api) -> None:
    document = api.get("/v1/openapi.json", auth=False).json()
    operation = document["paths"][PATH]["get"]
    assert {p["name"] for p in operation["parameters"] if p.get("required")} == {"from", "to"}
    assert "[inferred]" in operation["description"] and "ordered by asset id" in operation["description"]
    assert "not_lot_asset" in operation["responses"]["400"]["description"]
    assert "not_found" in operation["responses"]["404"]["description"]
    row = document["components"]["schemas"]["ExpirationScheduleRow"]["properties"]
    assert "[inferred]" in row["expiring_before_window"]["description"]
