"""A CEL expression's cost is bounded before it runs, and an evaluation cannot escape (P6).

cel-python cannot be interrupted: a 252-character comprehension once took 22 s in a simulation,
and ``round(x, 1000000000)`` raised ``ArithmeticError`` out of event processing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import cel, cel_cost
from scrip.domain.rule_engine import SKIPPED_ERROR, Snapshot, activation, judge
from scrip.domain.rules import Rule, RuleStatus

NOW = datetime(2025, 3, 2, 18, 4, tzinfo=UTC)

# 03 §4.7, and the forms the rules tests use: all must stay accepted.
SPEC_EXAMPLES = [
    'event.type == "purchase" && event.amount > 50.0',
    'event.type == "purchase" && event.mcc in ["5812", "5813", "5814"]',
    'has(event.coupon_code) && event.coupon_code == "SUMMER25"',
    'event.type == "signup" && !("welcome_bonus" in participant.tags)',
    'sets.intersects(participant.tags, ["vip", "silver"])',
    'get(participant.counters, "purchase_count", 0.0) >= 10.0',
    'get(participant.attributes, "region", "") == "US"',
    "double(event.amount) * 0.10",
    "round(event.amount * 0.05, 2)",
    'event.tier == "gold" ? 100.0 : 50.0',
    "event.items.size() > 0 && event.items[0].sku == 'A'",
    'event.items.exists(i, i.sku == "A-1")',
    "event.items.all(i, i.qty > 0)",
    'sets.contains(participant.tags, ["vip"]) && "gold" in participant.tags',
    'now.getDayOfWeek() == 6 && string(event.amount) != ""',
    # What order rules look like: a few tests on each line item, a prefix test, a lookup.
    'event.items.exists(i, i.sku == "A" && i.qty > 2 && i.price > 10.0 && i.category == "food")',
    'event.items.filter(i, i.category in ["a", "b", "c"]).size() > 2',
    'event.items.all(i, i.sku.startsWith("SKU-"))',
    'size(event.items) > 3 && event.items.exists(i, get(i, "promo", false) == true)',
]

# The 22-second kind: nested comprehensions over ranges the expression builds.
NESTED_LITERAL_RANGES = (
    "[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10]"
    ".map(c, [1,2,3,4,5,6,7,8,9,10].all(d, a + b + c + d > 0)))).size() > 0"
)


def _variables(event: dict[str, Any]) -> dict[str, Any]:
    return activation(event, Snapshot("p", None, "ACTIVE", ["vip"], {}, {}), NOW)


@pytest.mark.parametrize("text", SPEC_EXAMPLES)
def test_the_spec_examples_are_accepted(text: str) -> None:
    cel.check(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (NESTED_LITERAL_RANGES, "iterate"),
        # Comprehensions over the event multiply: each list may be as long as an event holds.
        ("event.a.exists(x, event.b.exists(y, event.c.exists(z, x == y && y == z)))", "cost"),
        # String growth inside nested comprehensions.
        ("event.a.map(x, event.b.map(y, event.s + event.s + event.s)).size() > 0", "cost"),
        # Scans of event lists repeated in the body of a comprehension.
        ("event.a.exists(x, x in event.b)", "cost"),
        ("1 in event.l && 2 in event.l && 3 in event.l && 4 in event.l", "cost"),
        ("round(event.amount, 1000000000) > 0.0", "decimal places"),
        ("round(event.amount, -3) > 0.0", "decimal places"),
        ("[1, 2].reduce(r, i, 0, r + i) == 3", "not a CEL macro"),
    ],
)
def test_costly_expressions_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(cel.CostlyExpression, match=reason):
        cel.check(text)


def test_a_long_operator_chain_is_a_cel_error_not_a_recursion_error() -> None:
    with pytest.raises(cel.CelError, match="too many operators"):
        cel.check("1+" * 1500 + "1 > 0")


def test_the_estimate_multiplies_nested_ranges_and_stays_below_the_budget_for_plain_rules() -> None:
    tree = cel.environment().compile("[1, 2, 3].exists(x, [1, 2].exists(y, x == y))")
    nested = cel_cost.estimate(tree)
    flat = cel_cost.estimate(cel.environment().compile("[1, 2, 3].exists(x, x == 2)"))
    assert flat < nested < cel_cost.BUDGET
    assert all(
        cel_cost.estimate(cel.environment().compile(cel._rewrite(text))) < cel_cost.BUDGET for text in SPEC_EXAMPLES
    )


def test_a_comprehension_over_a_long_event_list_stops_at_the_iteration_limit() -> None:
    text = "event.items.exists(i, i == 7)"
    short = _variables({"items": list(range(cel_cost.MAX_ITERATIONS - 10))})
    assert cel.judge_condition(text, short) == (True, None)
    long = _variables({"items": [0] * 10_000})
    started = time.perf_counter()
    matched, error = cel.judge_condition(text, long)
    assert not matched and error is not None and f"{cel_cost.MAX_ITERATIONS} comprehension elements" in error
    assert time.perf_counter() - started < 2  # ~40 ms; unbounded, a few hundred ms per 10,000 elements
    # The interpreter (which runs expressions that call our functions) stops at the limit too.
    matched, error = cel.judge_condition("round(1.0, 0) == 1.0 && event.items.exists(i, i == 7)", long)
    assert not matched and error is not None and "comprehension elements" in error


def test_runtime_round_digits_and_every_evaluation_failure_are_evaluation_errors() -> None:
    variables = _variables({"amount": Decimal("1.5"), "digits": Decimal(1_000_000_000), "big": Decimal("1e300")})
    matched, error = cel.judge_condition("round(event.amount, event.digits) > 0.0", variables)
    assert not matched and error is not None  # ArithmeticError out of processing before
    with pytest.raises(cel.AmountError):
        cel.evaluate_amount("round(event.amount, event.digits)", variables)
    assert cel.evaluate_amount("round(event.big, 2)", variables) == Decimal("1E+300")  # no decimals to round
    assert cel.evaluate_amount("round(event.amount * 1.005, 2)", variables) == Decimal("1.51")
    matched, error = cel.judge_condition("[1, 2].min() == 1", variables)  # CELSyntaxError at run time before
    assert not matched and error is not None


def test_a_condition_that_exceeds_the_limit_is_recorded_as_skipped_error() -> None:
    now = datetime.now(UTC)
    rule = Rule("o", "r", "p", "n", None, "event.items.all(i, i == 0)", [], 10, False, None, None, [],
                RuleStatus.ACTIVE, now, now, None)  # fmt: skip
    (verdict,) = judge([rule], _variables({"items": [0] * 5000}), now)
    assert verdict.status == SKIPPED_ERROR and "comprehension elements" in str(verdict.error_message)


def test_sets_functions_hash_and_keep_cel_equality() -> None:
    variables = _variables({"a": [[1, 2], {"k": 1}, 3], "b": [[1.0, 2.0], 3.0]})
    assert cel.judge_condition("sets.contains(event.a, event.b)", variables) == (True, None)
    assert cel.judge_condition("sets.intersects(event.b, [[2, 1]])", variables) == (False, None)
    big = _variables({"a": list(range(5000)), "b": list(range(4999, 10_000))})
    started = time.perf_counter()
    assert cel.judge_condition("sets.intersects(event.a, event.b)", big) == (True, None)
    assert time.perf_counter() - started < 2  # quadratic before: ~25 million comparisons


def test_string_takes_scalars_only_as_in_cel_go() -> None:
    variables = _variables({"n": Decimal(5), "l": [1, 2]})
    assert cel.judge_condition('string(event.n) == "5.0"', variables) == (True, None)
    matched, error = cel.judge_condition('string(event.l) != ""', variables)
    assert not matched and error is not None
