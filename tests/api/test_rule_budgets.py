"""Rule budgets through HTTP (03 §3.3, §3.4, §3.7 reset-budget and GET with live budget state)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrip.domain.clock import parse_rfc3339
from scrip.services import event_processing
from scrip_local.stack import LocalStack
from tests.api.events_helpers import balance, participant_id, processed, rule, send
from tests.conftest import Api

PURCHASE = {"type": "purchase"}


def _budgeted_rule(api: Api, program_id: str, asset_id: str, amount: str, budget: dict[str, Any], **fields: Any) -> Any:
    actions = fields.pop("actions", [{"type": "CREDIT", "asset_id": asset_id, "amount": amount}])
    return rule(
        api,
        program_id,
        "event.type == 'purchase'",
        actions,
        budgets=[{"asset_id": asset_id, **budget}],
        **fields,
    )


def _budget(api: Api, rule_id: str, asset_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/rules/{rule_id}")
    assert response.status_code == 200, response.text
    matching = [b for b in response.json()["budgets"] if b["asset_id"] == asset_id]
    assert len(matching) == 1, response.json()
    return dict(matching[0])


def _credits(api: Api, event_id: str) -> list[str]:
    """The participant-side amounts of the journal entries an event posted."""
    entries = api.get(f"/v1/journal-entries?event_id={event_id}").json()["data"]
    return [p["amount"] for e in entries for p in e["postings"] if p["entity_type"] == "PARTICIPANT"]


def _near(text: str | None, expected: datetime, tolerance: timedelta = timedelta(seconds=30)) -> bool:
    assert text is not None
    return abs(parse_rfc3339(text) - expected) <= tolerance


def _first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


# ------------------------------------------------------------------ lifetime budgets


def test_lifetime_budget_suppresses_the_whole_credit_and_keeps_other_actions(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(
        api,
        program["id"],
        points["id"],
        "40",
        {"limit": "100"},
        actions=[
            {"type": "CREDIT", "asset_id": points["id"], "amount": "40"},
            {"type": "TAG", "tag": "shopper"},
            {"type": "COUNTER", "key": "visits", "value": "1"},
        ],
    )
    assert capped["budgets"] == [
        {
            "asset_id": points["id"],
            "limit": "100",
            "schedule_type": None,
            "cron_expression": None,
            "interval": None,
            "consumed": "0",
            "next_reset_at": None,
        }
    ]

    first = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    second = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    member = participant_id(api, "cust_1")
    for event in (first, second):
        assert event["status"] == "COMPLETED", event
        assert [(e["status"], e["reason"]) for e in event["rule_evaluations"]] == [("SUCCESS", None)]
        assert _credits(api, event["id"]) == ["40"]
    assert balance(api, member, points["id"])["available"] == "80"
    assert _budget(api, capped["id"], points["id"])["consumed"] == "80"

    # The tag is removed, so that the third event's TAG is visible if (and only if) it runs.
    assert api.delete(f"/v1/participants/{member}/state/tags/shopper").status_code == 204
    third = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert third["status"] == "COMPLETED", third
    [evaluation] = third["rule_evaluations"]
    assert (evaluation["rule_id"], evaluation["status"], evaluation["reason"]) == (
        capped["id"],
        "SUCCESS",
        "BUDGET_EXCEEDED",
    )
    assert evaluation["actions"][0] == {"type": "CREDIT", "suppressed": "BUDGET_EXCEEDED"}
    assert [a["type"] for a in evaluation["actions"][1:]] == ["TAG", "COUNTER"]
    assert not any(a.get("suppressed") for a in evaluation["actions"][1:])
    # No partial credit of the 20 left: nothing at all was posted.
    assert _credits(api, third["id"]) == []
    assert balance(api, member, points["id"])["available"] == "80"
    assert api.get(f"/v1/participants/{member}/state/counters/visits").json()["value"] == "3"
    assert api.get(f"/v1/participants/{member}/state/tags").json()["data"] == [{"tag": "shopper"}]

    budget = _budget(api, capped["id"], points["id"])
    assert budget["consumed"] == "80"
    assert budget["limit"] == "100"
    assert budget["next_reset_at"] is None


def test_credit_that_exactly_reaches_the_limit_is_granted(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(api, program["id"], points["id"], "event.amount", {"limit": "100"})

    events = [send(api, program["id"], {**PURCHASE, "amount": amount})["id"] for amount in (60, 41, 40, 1)]
    reasons = []
    for event_id in events:
        event = processed(api, stack, event_id)
        assert event["status"] == "COMPLETED", event
        reasons.append(event["rule_evaluations"][0]["reason"])
    # 60 fits, 41 would make 101 (suppressed), 40 makes exactly 100 (granted), 1 more does not fit.
    assert reasons == [None, "BUDGET_EXCEEDED", None, "BUDGET_EXCEEDED"]
    assert balance(api, participant_id(api, "cust_1"), points["id"])["available"] == "100"
    assert _budget(api, capped["id"], points["id"])["consumed"] == "100"
    listed = api.get(f"/v1/rules?program_id={program['id']}").json()["data"]
    assert [b["consumed"] for r in listed for b in r["budgets"]] == ["100"]  # the list shows live consumption too


def test_budget_sums_all_credits_of_the_rule_for_the_asset(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(
        api,
        program["id"],
        points["id"],
        "",
        {"limit": "50"},
        actions=[
            {"type": "CREDIT", "asset_id": points["id"], "amount": "20"},
            {"type": "CREDIT", "asset_id": points["id"], "amount": "15"},
        ],
    )
    first = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert sorted(_credits(api, first["id"])) == ["15", "20"]
    # 35 consumed; the next event's 35 does not fit in the 15 left: both credits are suppressed.
    second = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert second["status"] == "COMPLETED"
    assert second["rule_evaluations"][0]["reason"] == "BUDGET_EXCEEDED"
    assert second["rule_evaluations"][0]["actions"] == [{"type": "CREDIT", "suppressed": "BUDGET_EXCEEDED"}] * 2
    assert _credits(api, second["id"]) == []
    assert _budget(api, capped["id"], points["id"])["consumed"] == "35"


# ------------------------------------------------------------------ manual reset


def test_reset_budget_lets_credits_flow_again(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(api, program["id"], points["id"], "40", {"limit": "100"})
    for _ in range(3):
        processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    member = participant_id(api, "cust_1")
    assert balance(api, member, points["id"])["available"] == "80"
    assert _budget(api, capped["id"], points["id"])["consumed"] == "80"

    reset = api.post(f"/v1/rules/{capped['id']}/reset-budget?asset_id={points['id']}")
    assert reset.status_code == 200, reset.text
    assert reset.json() == {
        "asset_id": points["id"],
        "limit": "100",
        "schedule_type": None,
        "cron_expression": None,
        "interval": None,
        "consumed": "0",
        "next_reset_at": None,
    }
    assert _budget(api, capped["id"], points["id"])["consumed"] == "0"

    again = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert again["rule_evaluations"][0]["reason"] is None
    assert _credits(api, again["id"]) == ["40"]
    assert balance(api, member, points["id"])["available"] == "120"
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"


def test_reset_budget_errors(api: Api, other_api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    other_asset = api.create_asset(program["id"], symbol="GEM", scale=0)
    capped = _budgeted_rule(api, program["id"], points["id"], "40", {"limit": "100"})
    unbudgeted = rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "1"}])

    no_budget = api.post(f"/v1/rules/{capped['id']}/reset-budget?asset_id={other_asset['id']}")
    assert no_budget.status_code == 404, no_budget.text
    assert no_budget.json()["code"] == "not_found"
    assert api.post(f"/v1/rules/{unbudgeted['id']}/reset-budget?asset_id={points['id']}").status_code == 404
    assert api.post(f"/v1/rules/{uuid.uuid4()}/reset-budget?asset_id={points['id']}").status_code == 404

    foreign = other_api.post(f"/v1/rules/{capped['id']}/reset-budget?asset_id={points['id']}")
    assert foreign.status_code == 404, foreign.text

    missing = api.post(f"/v1/rules/{capped['id']}/reset-budget")
    assert missing.status_code == 400, missing.text
    assert api.post(f"/v1/rules/{capped['id']}/reset-budget?asset_id=not-a-uuid").status_code == 400
    # The budget is untouched by the refused calls.
    assert _budget(api, capped["id"], points["id"])["consumed"] == "0"


# ------------------------------------------------------------------ scheduled budgets


def test_interval_budget_recovers_in_the_next_window(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRIP_CLOCK_OFFSET_SECONDS", raising=False)
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(
        api, program["id"], points["id"], "40", {"limit": "40", "schedule_type": "INTERVAL", "interval": "24h"}
    )
    created = parse_rfc3339(capped["created_at"])
    [budget] = capped["budgets"]
    assert (budget["schedule_type"], budget["interval"], budget["consumed"]) == ("INTERVAL", "24h", "0")
    first_reset = parse_rfc3339(budget["next_reset_at"])
    assert _near(budget["next_reset_at"], created + timedelta(hours=24), timedelta(seconds=5))
    assert _budget(api, capped["id"], points["id"])["next_reset_at"] == budget["next_reset_at"]

    first = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    second = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert [first["rule_evaluations"][0]["reason"], second["rule_evaluations"][0]["reason"]] == [
        None,
        "BUDGET_EXCEEDED",
    ]
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"

    # Just past the reset: a new window, empty, whose end is one interval later.
    offset = (first_reset - datetime.now(UTC)).total_seconds() + 60
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(offset))
    renewed = _budget(api, capped["id"], points["id"])
    assert renewed["consumed"] == "0"
    assert parse_rfc3339(renewed["next_reset_at"]) == first_reset + timedelta(hours=24)

    third = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert third["status"] == "COMPLETED"
    assert third["rule_evaluations"][0]["reason"] is None
    assert _credits(api, third["id"]) == ["40"]
    fourth = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert fourth["rule_evaluations"][0]["reason"] == "BUDGET_EXCEEDED"
    assert balance(api, participant_id(api, "cust_1"), points["id"])["available"] == "80"
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"


def test_interval_budget_manual_reset_starts_a_period_now(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRIP_CLOCK_OFFSET_SECONDS", raising=False)
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(
        api, program["id"], points["id"], "40", {"limit": "40", "schedule_type": "INTERVAL", "interval": "24h"}
    )
    first_reset = parse_rfc3339(capped["budgets"][0]["next_reset_at"])
    processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(6 * 3600))
    reset = api.post(f"/v1/rules/{capped['id']}/reset-budget?asset_id={points['id']}")
    assert reset.status_code == 200, reset.text
    body = reset.json()
    assert body["consumed"] == "0"
    expected = datetime.now(UTC) + timedelta(hours=6 + 24)
    assert _near(body["next_reset_at"], expected)
    assert parse_rfc3339(body["next_reset_at"]) > first_reset + timedelta(hours=5)
    live = _budget(api, capped["id"], points["id"])
    assert (live["consumed"], live["next_reset_at"]) == ("0", body["next_reset_at"])
    again = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert again["rule_evaluations"][0]["reason"] is None
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"


def test_cron_budget_resets_on_the_first_of_the_month(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCRIP_CLOCK_OFFSET_SECONDS", raising=False)
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(
        api, program["id"], points["id"], "40", {"limit": "40", "schedule_type": "CRON", "cron_expression": "0 0 1 * *"}
    )
    expected = _first_of_next_month(datetime.now(UTC))
    [budget] = capped["budgets"]
    assert (budget["schedule_type"], budget["cron_expression"], budget["consumed"]) == ("CRON", "0 0 1 * *", "0")
    assert parse_rfc3339(budget["next_reset_at"]) == expected
    assert budget["next_reset_at"].startswith(expected.strftime("%Y-%m-%dT00:00:00"))
    assert budget["next_reset_at"].endswith("Z")
    assert parse_rfc3339(_budget(api, capped["id"], points["id"])["next_reset_at"]) == expected

    processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    exhausted = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert exhausted["rule_evaluations"][0]["reason"] == "BUDGET_EXCEEDED"

    # An hour into next month: a new period, ending on the first of the month after.
    offset = (expected - datetime.now(UTC)).total_seconds() + 3600
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(offset))
    renewed = _budget(api, capped["id"], points["id"])
    assert renewed["consumed"] == "0"
    assert parse_rfc3339(renewed["next_reset_at"]) == _first_of_next_month(expected)
    again = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
    assert again["rule_evaluations"][0]["reason"] is None
    assert _budget(api, capped["id"], points["id"])["consumed"] == "40"


@pytest.mark.parametrize(
    "budget",
    [
        {"schedule_type": "CRON", "cron_expression": "not a cron"},
        {"schedule_type": "CRON", "cron_expression": "0 0 1 *"},
        {"schedule_type": "CRON", "cron_expression": "61 0 * * *"},
        {"schedule_type": "CRON"},
        {"schedule_type": "INTERVAL", "interval": "soon"},
        {"schedule_type": "INTERVAL"},
        {"schedule_type": "WEEKLY"},
    ],
)
def test_invalid_budget_schedule_is_rejected_at_creation(api: Api, budget: dict[str, Any]) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    body = {
        "program_id": program["id"],
        "name": "capped",
        "condition": "true",
        "actions": [{"type": "CREDIT", "asset_id": points["id"], "amount": "1"}],
        "budgets": [{"asset_id": points["id"], "limit": "10", **budget}],
    }
    response = api.post("/v1/rules", json=body)
    assert response.status_code == 400, response.text
    assert api.get(f"/v1/rules?program_id={program['id']}").json()["data"] == []


def test_invalid_cron_is_rejected_on_update(api: Api) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    plain = rule(api, program["id"], "true", [{"type": "CREDIT", "asset_id": points["id"], "amount": "1"}])
    bad = [{"asset_id": points["id"], "limit": "10", "schedule_type": "CRON", "cron_expression": "every day"}]
    response = api.patch(f"/v1/rules/{plain['id']}", json={"budgets": bad})
    assert response.status_code == 400, response.text
    assert api.get(f"/v1/rules/{plain['id']}").json()["budgets"] == []


# ------------------------------------------------------------------ budgets on assets the rule does not credit


@pytest.mark.parametrize("policy", ["PREFUNDED", "UNLIMITED"])
def test_budget_on_an_asset_the_rule_does_not_credit_is_harmless(api: Api, stack: LocalStack, policy: str) -> None:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    other = api.create_asset(program["id"], symbol="CASH", scale=2, issuance_policy=policy)
    earn = rule(
        api,
        program["id"],
        "event.type == 'purchase'",
        [{"type": "CREDIT", "asset_id": points["id"], "amount": "25"}],
        budgets=[{"asset_id": other["id"], "limit": "1.00"}],
    )
    for _ in range(2):
        event = processed(api, stack, send(api, program["id"], PURCHASE)["id"])
        assert event["status"] == "COMPLETED", event
        assert [(e["status"], e["reason"]) for e in event["rule_evaluations"]] == [("SUCCESS", None)]
        assert _credits(api, event["id"]) == ["25"]
    assert balance(api, participant_id(api, "cust_1"), points["id"])["available"] == "50"
    budget = _budget(api, earn["id"], other["id"])
    assert (budget["consumed"], budget["limit"]) == ("0", "1")


# ------------------------------------------------------------------ concurrency


def _race_setup(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    program = api.create_program()
    points = api.create_asset(program["id"], symbol="PTS", scale=0)
    capped = _budgeted_rule(api, program["id"], points["id"], "1", {"limit": "10"})
    sent = [
        (f"racer_{i:02d}", send(api, program["id"], PURCHASE, external_id=f"racer_{i:02d}")["id"]) for i in range(30)
    ]
    return program, points, capped, sent


def _assert_exactly_ten_credited(
    api: Api, points: dict[str, Any], capped: dict[str, Any], sent: list[tuple[str, str]]
) -> None:
    reasons = []
    total = 0
    for external_id, event_id in sent:
        event = api.get(f"/v1/events/{event_id}").json()
        assert event["status"] == "COMPLETED", event
        reasons.append(event["rule_evaluations"][0]["reason"])
        total += int(balance(api, participant_id(api, external_id), points["id"])["available"])
    assert total == 10
    assert reasons.count(None) == 10
    assert reasons.count("BUDGET_EXCEEDED") == 20
    assert _budget(api, capped["id"], points["id"])["consumed"] == "10"
    entries = api.get(f"/v1/journal-entries?rule_id={capped['id']}&limit=100").json()["data"]
    assert len(entries) == 10


def test_concurrent_events_never_overspend_a_budget_when_drained(api: Api, stack: LocalStack) -> None:
    _, points, capped, sent = _race_setup(api)
    stack.drain()
    _assert_exactly_ten_credited(api, points, capped, sent)


def test_racing_processors_never_overspend_a_budget(api: Api, stack: LocalStack) -> None:
    _, points, capped, sent = _race_setup(api)
    pending = [event_id for _, event_id in sent]
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        while True:
            with lock:
                if not pending:
                    return
                event_id = pending.pop()
            try:
                event_processing.process(api.organization_id, event_id)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    stack.drain()  # the queued messages now find every event already processed
    _assert_exactly_ten_credited(api, points, capped, sent)
