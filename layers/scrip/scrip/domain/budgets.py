"""Rule budgets (03 §3.3-3.4): how much a rule may credit of an asset per period.

A budget's consumption lives in its own item per (rule, asset), tagged with the window it
counts: lifetime, an INTERVAL period measured from an anchor (the rule's creation, or the last
manual reset), or the CRON period between two fire times (UTC). A consumption recorded for an
older window counts as zero: periodic resets need no job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from croniter import croniter

from scrip.domain.clock import parse_rfc3339
from scrip.domain.state import parse_duration

LIFETIME = "lifetime"


@dataclass(frozen=True)
class Window:
    id: str
    next_reset_at: datetime | None


@dataclass(frozen=True)
class BudgetState:
    """What is stored for a (rule, asset): the window counted and the amount consumed in it."""

    window: str | None = None
    consumed: Decimal = Decimal(0)
    anchor: datetime | None = None  # INTERVAL periods are counted from here


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cron_is_valid(expression: str) -> bool:
    return bool(croniter.is_valid(expression)) and len(expression.split()) == 5


def croniter_next(expression: str, now: datetime) -> datetime:
    moment: datetime = croniter(expression, now).get_next(datetime)
    return moment


def interval_anchor(budget: dict[str, Any]) -> datetime:
    """Where INTERVAL periods start when no reset moved it: the budget's first period start."""
    first_reset = parse_rfc3339(str(budget["next_reset_at"]))
    return first_reset - parse_duration(str(budget["interval"]))


def current_window(budget: dict[str, Any], state: BudgetState, now: datetime) -> Window:
    schedule = budget.get("schedule_type")
    if schedule == "INTERVAL":
        anchor = state.anchor or interval_anchor(budget)
        period = parse_duration(str(budget["interval"]))
        elapsed = max(now - anchor, timedelta(0))
        start = anchor + period * (elapsed // period)
        return Window(_stamp(start), start + period)
    if schedule == "CRON":
        expression = str(budget["cron_expression"])
        start = croniter(expression, now).get_prev(datetime)
        following = croniter(expression, now).get_next(datetime)
        return Window(_stamp(start), following)
    return Window(LIFETIME, None)


def consumed_in(window: Window, state: BudgetState) -> Decimal:
    return state.consumed if state.window == window.id else Decimal(0)


def allows(budget: dict[str, Any], consumed: Decimal, amount: Decimal) -> bool:
    """A credit that would take consumption past the limit is suppressed whole (03 §3.4)."""
    return consumed + amount <= Decimal(budget["limit"])
