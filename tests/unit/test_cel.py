"""CEL behaves as cel-go does for the rules Scrip users write (03 §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scrip.domain import cel

EVENT = {
    "type": "purchase",
    "amount": Decimal("30"),
    "price": Decimal("75.0"),
    "sku": "A-1",
    "items": [Decimal(1), Decimal(2)],
}
PARTICIPANT = {"tags": ["vip", "gold"], "counters": {"orders": Decimal("8")}, "attributes": {"home_store": "leeds"}}


def _condition(text: str, **extra: object) -> bool:
    return cel.evaluate_condition(text, {"event": EVENT, "participant": PARTICIPANT, **extra})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event.amount >= 20.0", True),  # sent as 30: cel-python alone raises here
        ("event.amount >= 20", True),
        ("event.price == 75", True),  # 75.0 == 75 in cel-go
        ("75 >= 50.0", True),
        ("75.5 >= 50", True),
        ("event.amount < 30", False),
        ('event.type == "purchase" && event.amount > 10.0', True),
        ('"vip" in participant.tags', True),
        ('!("welcome_done" in participant.tags)', True),
        ('sets.contains(participant.tags, ["vip", "gold"])', True),
        ('sets.contains(participant.tags, ["vip", "silver"])', False),
        ('sets.intersects(participant.tags, ["vip", "silver"])', True),
        ('get(participant.counters, "orders", 0.0) >= 8.0', True),
        ('get(participant.counters, "missing", 0.0) >= 10.0', False),
        ('participant.attributes.home_store == "leeds"', True),
        ("has(event.sku)", True),
        ("has(event.coupon)", False),
        ("size(event.items) == 2", True),
        ('"sets.contains(x)" == "sets.contains(x)"', True),  # string literals are not rewritten
    ],
)
def test_conditions_like_cel_go(text: str, expected: bool) -> None:
    assert _condition(text) is expected


@pytest.mark.parametrize(
    "text", ['event.coupon == "X"', "event.missing.deeper > 1", "participant.counters.absent >= 1.0", '1 + "a" == 2']
)
def test_a_missing_field_or_type_error_makes_the_condition_false(text: str) -> None:
    assert _condition(text) is False


def test_now_is_a_timestamp() -> None:
    assert _condition('now > timestamp("2020-01-01T00:00:00Z")', now=datetime(2025, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"10"', None),
        ("10", Decimal(10)),
        ("event.amount * 10.0", Decimal(300)),
        ("event.amount * 0.03", Decimal("0.9")),
        ("round(event.amount * 0.0315, 2)", Decimal("0.95")),  # 0.945 → 0.95 half away from zero
        ("round(2.345, 2)", Decimal("2.35")),
        ("round(-2.345, 2)", Decimal("-2.35")),
        ("1.1 + 3.45", Decimal("4.55")),  # 4.550000000000001 → 15 significant digits
        ('double("2.5") * 2.0', Decimal(5)),
    ],
)
def test_amounts_are_exact_decimals(text: str, expected: Decimal | None) -> None:
    activation = {"event": EVENT, "participant": PARTICIPANT}
    if expected is None:
        with pytest.raises(cel.AmountError):
            cel.evaluate_amount(text, activation)
    else:
        assert cel.evaluate_amount(text, activation) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event.amount * 10", Decimal("755")),  # 03 §4.5: the spec's own amount expression
        ("10 * event.amount", Decimal("755")),
        ("2 + 1.5", Decimal("3.5")),
        ("event.amount - 1", Decimal("74.5")),
        ("7 / 2", Decimal("3")),  # two ints stay integer arithmetic
    ],
)
def test_mixed_int_and_double_arithmetic_promotes_to_double(text: str, expected: Decimal) -> None:
    assert cel.evaluate_amount(text, {"event": {"amount": 75.5}}) == expected


def test_division_by_zero_is_not_an_amount() -> None:
    with pytest.raises(cel.AmountError):
        cel.evaluate_amount("event.amount / 0", {"event": {"amount": 75.5}})


@pytest.mark.parametrize(
    "text",
    ["event.amount >", 'event.type == "a', "", "   ", "x" * (cel.MAX_EXPRESSION_LENGTH + 1), "(" * 40 + "1" + ")" * 40],
)
def test_bad_expressions_are_refused_at_compile_time(text: str) -> None:
    with pytest.raises(cel.CelError) as raised:
        cel.check(text)
    assert raised.value.message


def test_syntax_errors_carry_a_position() -> None:
    with pytest.raises(cel.CelError) as raised:
        cel.check("event.amount >= ")
    assert raised.value.line == 1 and raised.value.column is not None


def test_programs_are_compiled_once_per_text() -> None:
    assert cel.compile_expression("event.amount > 1.0") is cel.compile_expression("event.amount > 1.0")
    assert cel.environment() is cel.environment()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('event.mcc in ["5812"]', False),  # a number is never equal to a string (cel-go)
        ('event.mcc == "5812"', False),
        ('event.mcc != "5812"', True),
        ('"x" == event.mcc', False),
        ("event.type in [1, 2]", False),
        ('event.code in ["5812"]', True),
        ("event.mcc in [5812]", True),
    ],
)
def test_equality_across_kinds_is_false_not_an_error(text: str, expected: bool) -> None:
    variables = {"event": {"mcc": 5812, "type": "purchase", "code": "5812"}}
    assert cel.judge_condition(text, variables) == (expected, None)


def test_ordering_across_kinds_stays_an_error() -> None:
    matched, error = cel.judge_condition("event.code < 3", {"event": {"code": "5812"}})
    assert not matched and error is not None
