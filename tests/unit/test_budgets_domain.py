"""Rule budgets (03 §3.3-3.4) computed without storage: the window a credit counts in, what it
has consumed, and whether a credit fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from scrip.domain.budgets import (
    LIFETIME,
    BudgetState,
    Window,
    allows,
    consumed_in,
    cron_is_valid,
    croniter_next,
    current_window,
    interval_anchor,
)

NOW = datetime(2026, 3, 4, 10, 20, tzinfo=UTC)


def test_a_budget_without_a_schedule_counts_its_lifetime() -> None:
    assert current_window({"limit": "10"}, BudgetState(), NOW) == Window(LIFETIME, None)


def test_interval_periods_count_from_the_first_period_start() -> None:
    budget = {"schedule_type": "INTERVAL", "interval": "24h", "next_reset_at": "2026-03-01T00:00:00Z"}

    assert interval_anchor(budget) == datetime(2026, 2, 28, tzinfo=UTC)
    window = current_window(budget, BudgetState(), NOW)

    assert window == Window("2026-03-04T00:00:00.000000Z", datetime(2026, 3, 5, tzinfo=UTC))


def test_a_manual_reset_moves_the_interval_anchor() -> None:
    budget = {"schedule_type": "INTERVAL", "interval": "1h", "next_reset_at": "2026-03-01T00:00:00Z"}
    anchor = datetime(2026, 3, 4, 9, 45, tzinfo=UTC)

    window = current_window(budget, BudgetState(anchor=anchor), NOW)

    assert window == Window("2026-03-04T09:45:00.000000Z", datetime(2026, 3, 4, 10, 45, tzinfo=UTC))


def test_before_its_anchor_the_interval_is_its_first_period() -> None:
    budget = {"schedule_type": "INTERVAL", "interval": "1h", "next_reset_at": "2026-04-01T01:00:00Z"}

    window = current_window(budget, BudgetState(), NOW)

    assert window.id == "2026-04-01T00:00:00.000000Z"


def test_cron_periods_run_between_two_fire_times() -> None:
    budget = {"schedule_type": "CRON", "cron_expression": "0 0 * * 1"}  # Mondays, 00:00 UTC

    window = current_window(budget, BudgetState(), NOW)  # a Wednesday

    assert window == Window("2026-03-02T00:00:00.000000Z", datetime(2026, 3, 9, tzinfo=UTC))
    assert croniter_next("0 0 * * 1", NOW) == datetime(2026, 3, 9, tzinfo=UTC)


def test_only_five_field_cron_expressions_are_valid() -> None:
    assert cron_is_valid("*/15 * * * *")
    assert not cron_is_valid("0 0 * * * *")
    assert not cron_is_valid("not cron")


def test_consumption_of_an_older_window_counts_as_zero() -> None:
    window = Window("2026-03-04T00:00:00.000000Z", None)

    assert consumed_in(window, BudgetState(window.id, Decimal(7))) == 7
    assert consumed_in(window, BudgetState("2026-03-03T00:00:00.000000Z", Decimal(7))) == 0
    assert consumed_in(window, BudgetState()) == 0


def test_a_credit_that_would_pass_the_limit_is_refused_whole() -> None:
    budget = {"limit": "10.5"}

    assert allows(budget, Decimal(8), Decimal("2.5"))
    assert not allows(budget, Decimal(8), Decimal("2.51"))
    assert allows(budget, Decimal(0), Decimal(0))
    assert current_window(budget, BudgetState(), NOW + timedelta(days=900)).next_reset_at is None
