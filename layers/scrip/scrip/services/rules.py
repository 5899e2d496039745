"""Rule use cases (03 §3)."""

from __future__ import annotations

from dataclasses import dataclass

from scrip.domain import cel


@dataclass(frozen=True)
class ConditionReport:
    valid: bool
    message: str
    line: int | None = None
    column: int | None = None


def validate_condition(condition: str) -> ConditionReport:
    """Syntax and bounds only: field references are not checked against any schema (03 §3.7)."""
    try:
        cel.check(condition)
    except cel.CelError as error:
        return ConditionReport(False, error.message, error.line, error.column)
    return ConditionReport(True, "CEL condition is valid")
