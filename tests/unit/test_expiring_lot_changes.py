"""What one lot item's change adds to the expiration schedule's day and month rows (services.expiring_lots)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from scrip.services.expiring_lots import day_changes, is_lot_change, month_changes
from scrip.storage.expiring_lots import DayChange, MonthChange


def _lot(remaining: int, status: str = "AVAILABLE", expires_at: str | None = "2031-05-04T23:30:00Z") -> dict[str, Any]:
    image: dict[str, Any] = {
        "PK": "ORG#o#PARTICIPANT#p#LOTS#a",
        "entity": "LOT",
        "id": "l",
        "asset_id": "a",
        "program_id": "p",
        "remaining": Decimal(remaining),
        "status": status,
    }
    if expires_at is not None:
        image["expires_at"] = expires_at
    return image


def test_a_credit_a_spend_and_the_end_of_a_lot_move_its_day() -> None:
    day = date(2031, 5, 4)
    assert day_changes(None, _lot(10)) == [DayChange("a", "p", day, Decimal(10), 1)]
    assert day_changes(_lot(10), _lot(4)) == [DayChange("a", "p", day, Decimal(-6), 0)]
    assert day_changes(_lot(4), _lot(0, "CONSUMED")) == [DayChange("a", "p", day, Decimal(-4), -1)]
    assert day_changes(_lot(4, "HELD"), _lot(4, "EXPIRED")) == [DayChange("a", "p", day, Decimal(-4), -1)]
    assert day_changes(_lot(4), None) == [DayChange("a", "p", day, Decimal(-4), -1)]  # a removal
    assert day_changes(None, _lot(5, expires_at=None)) == [DayChange("a", "p", None, Decimal(5), 1)]


def test_a_change_that_moves_no_value_moves_nothing() -> None:
    assert day_changes(_lot(4), _lot(4, "HELD")) == []
    assert day_changes(_lot(4, "DEFERRED"), _lot(4)) == []
    assert day_changes(_lot(0, "CONSUMED"), _lot(0, "CONSUMED")) == []


def test_a_lot_filed_under_another_day_leaves_its_old_day() -> None:
    moved = day_changes(_lot(4), _lot(4, expires_at="2031-05-05T00:30:00Z"))
    assert moved == [
        DayChange("a", "p", date(2031, 5, 4), Decimal(-4), -1),
        DayChange("a", "p", date(2031, 5, 5), Decimal(4), 1),
    ]


def test_month_rows_move_with_the_days_and_the_never_expiring_value() -> None:
    may = date(2031, 5, 1)
    assert month_changes(day_changes(None, _lot(10))) == [MonthChange("a", "p", may, Decimal(10), 1)]
    assert month_changes(day_changes(_lot(4), _lot(0, "CONSUMED"))) == [MonthChange("a", "p", may, Decimal(-4), -1)]
    assert month_changes(day_changes(None, _lot(5, expires_at=None))) == [MonthChange("a", "p", None, Decimal(5), 1)]


def test_a_lot_moved_to_another_day_of_its_month_leaves_its_month_row_alone() -> None:
    # Two day changes, one month row: a transaction may not touch one item twice, and the sum is 0.
    assert month_changes(day_changes(_lot(4), _lot(4, expires_at="2031-05-20T00:30:00Z"))) == []


def test_a_lot_moved_to_another_month_leaves_its_old_month() -> None:
    assert month_changes(day_changes(_lot(4), _lot(3, expires_at="2031-06-01T00:00:00Z"))) == [
        MonthChange("a", "p", date(2031, 5, 1), Decimal(-4), -1),
        MonthChange("a", "p", date(2031, 6, 1), Decimal(3), 1),
    ]
    assert month_changes(day_changes(_lot(4), _lot(4, expires_at=None))) == [
        MonthChange("a", "p", date(2031, 5, 1), Decimal(-4), -1),
        MonthChange("a", "p", None, Decimal(4), 1),
    ]


def test_only_lot_items_are_lot_changes() -> None:
    assert is_lot_change((None, _lot(1)))
    assert is_lot_change((_lot(1), None))
    assert not is_lot_change((None, {"entity": "BALANCE"}))
    assert not is_lot_change((None, None))
