"""What the reports count rather than sum (05 §4.1–4.2), kept from the table's stream: events
processed per program and period, distinct earning participants, participants holding an
asset; a redelivered stream batch changes no report; a ledger the lines cannot explain fails
the report with 500 ``unclassified_activity`` rather than answer a misstated one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.clock import to_rfc3339
from scrip.domain.report_lines import Line
from scrip.services import ledger_aggregates
from scrip_local.stack import LocalStack
from tests import stream_deliveries
from tests.api.events_helpers import rule, send
from tests.api.ledger_helpers import make_ledger
from tests.api.test_reports import rows
from tests.conftest import Api

REPORTS = (
    "/v1/reports/ledger-summary",
    "/v1/reports/program-activity",
    "/v1/reports/liability",
)


def _answers(api: Api, start: datetime, end: datetime) -> list[Any]:
    period = {"from": to_rfc3339(start), "to": to_rfc3339(end)}
    found: list[Any] = [rows(api, path, **period) for path in REPORTS if path != "/v1/reports/liability"]
    found.append(rows(api, "/v1/reports/liability", as_of=to_rfc3339(end)))
    found.append(rows(api, "/v1/reports/liability-rollforward", **period))
    return found


def test_events_earners_and_holders_are_counted_once_whatever_the_stream_redelivers(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    ledger = make_ledger(api)
    program_id, points = ledger.program["id"], ledger.points["id"]
    rule(api, program_id, "true", [{"type": "CREDIT", "asset_id": points, "amount": "5"}], name="earn")
    start = (datetime.now(UTC) + timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    stack.drain()  # whatever other tests left in the stream
    with stream_deliveries.recorded(stack, "LedgerTotalsFunction") as delivered:
        for day in range(4):  # an event processed at noon of four days, two customers
            move_clock(start + timedelta(days=day, hours=12))
            send(api, program_id, {"n": day}, external_id=f"cust-{day % 2}-{uuid.uuid4().hex[:6]}" if day < 2 else "x")
            stack.drain()
        alice = ledger.participant()
        assert ledger.adjust(alice, "3").status_code == 200
        assert ledger.adjust(alice, "3", type="DEBIT").status_code == 200  # back to zero: no longer holding
        stack.drain()
    end = start + timedelta(days=3, hours=13)
    (activity,) = rows(api, "/v1/reports/program-activity")
    assert (activity["event_count"], activity["unique_participants"], activity["rule_count"]) == (4, 4, 1)
    # A period's first and last days are counted from the events' lines, whole days between from the day counts.
    counted = {
        (0, 0, 3, 23): 4,
        (0, 18, 3, 6): 2,
        (1, 12, 1, 12): 0,  # processing finished a moment after noon
        (1, 0, 1, 23): 1,
        (0, 13, 2, 13): 2,
    }
    for (d1, h1, d2, h2), expected in counted.items():
        window = {
            "from": to_rfc3339(start + timedelta(days=d1, hours=h1)),
            "to": to_rfc3339(start + timedelta(days=d2, hours=h2)),
        }
        (row,) = rows(api, "/v1/reports/program-activity", **window) or [{"event_count": 0}]
        assert row["event_count"] == expected, (window, row)
    (summary,) = rows(api, "/v1/reports/ledger-summary")
    assert summary["participant_count"] == 3  # three customers hold 5 each; alice holds nothing again
    assert summary["current_balance"] == "20"

    # Every batch the consumer received, delivered again: no report moves.
    before = _answers(api, start, end)
    records = [r for event in delivered for r in event["Records"]]
    assert {r["dynamodb"]["NewImage"]["entity"]["S"] for r in records} >= {"JOURNAL_ENTRY", "BALANCE", "EVENT"}
    for event in delivered:
        assert stack.functions["LedgerTotalsFunction"].invoke(event) == {"batchItemFailures": []}
    assert _answers(api, start, end) == before


def test_activity_no_line_explains_fails_the_report(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Balances and lines read apart must agree; a movement whose lines miss part of its
    change (what a misclassified entry would give) is a 500, never a plug."""
    ledger = make_ledger(api)
    participant = ledger.participant()
    assert ledger.adjust(participant, "10").status_code == 200
    real = ledger_aggregates.movements

    def misstated(org_id: str, **kwargs: Any) -> Any:
        return [replace(m, lines={**m.lines, Line.ISSUED: m.line(Line.ISSUED) - 1}) for m in real(org_id, **kwargs)]

    monkeypatch.setattr(ledger_aggregates, "movements", misstated)
    now = datetime.now(UTC) + timedelta(minutes=1)
    period = {"from": to_rfc3339(now - timedelta(days=1)), "to": to_rfc3339(now)}
    for path, params in [
        ("/v1/reports/liability-rollforward", period),
        ("/v1/reports/ledger-summary", {}),
        ("/v1/reports/ledger-summary", period),
    ]:
        response = api.get(path, params=params)
        assert (response.status_code, response.json()["code"]) == (500, "unclassified_activity"), (path, response.text)
    monkeypatch.setattr(ledger_aggregates, "movements", real)
    assert api.get("/v1/reports/liability-rollforward", params=period).status_code == 200
    assert Decimal(rows(api, "/v1/reports/liability")[0]["balance"]) == 10
