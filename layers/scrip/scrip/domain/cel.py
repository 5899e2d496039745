"""CEL for rule conditions and amounts (03 §4): the bounds, the errors and the entry points.

Expressions run on cel-python, made to behave like cel-go, in ``cel_runtime``. Importing
cel-python and lark costs about 0.1 s of CPU, half of ``import boto3``, so ``cel_runtime`` is
loaded by the first compile or evaluation: handlers that only read or store rules
(``GET /v1/rules``) never pay for it, and this module stays cheap to import.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import celpy

    from scrip.domain.cel_runtime import Program

MAX_EXPRESSION_LENGTH = 4096
MAX_NESTING = 32
SIGNIFICANT_DIGITS = 15  # decision 2: strips binary noise such as 4.550000000000001


class CelError(Exception):
    """An expression that does not parse, or exceeds the bounds."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class CostlyExpression(CelError):
    """Valid CEL that may cost more than an evaluation is allowed (``cel_cost``)."""


class IterationLimit(Exception):
    """An evaluation stepped through more comprehension elements than allowed.

    Not one of the exceptions cel-python turns into values, so it ends the evaluation at once.
    """


class AmountError(Exception):
    """An amount expression that did not produce a usable number."""


class MissingField(AmountError):
    """An action expression read a field the event does not have (03 §4.5: an action error)."""


_SETS = re.compile(r"\bsets\.(contains|intersects)\s*\(")
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")


def _rewrite(text: str) -> str:
    """``sets.contains(`` → ``sets_contains(``, leaving string literals alone."""
    parts, last = [], 0
    for literal in _STRING.finditer(text):
        parts.append(_SETS.sub(lambda m: f"sets_{m.group(1)}(", text[last : literal.start()]))
        parts.append(literal.group(0))
        last = literal.end()
    parts.append(_SETS.sub(lambda m: f"sets_{m.group(1)}(", text[last:]))
    return "".join(parts)


def _nesting(text: str) -> int:
    depth = deepest = 0
    for character in _STRING.sub('""', text):
        if character in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in ")]}":
            depth -= 1
    return deepest


PARSER_CACHE = Path(__file__).with_name("cel_parser.cache")
# Lark's cache key includes the cache file's path: tables are built for, and loaded from, this one.
WORKING_CACHE = "/tmp/scrip-cel-parser.cache"  # noqa: S108 - Lambda's only writable directory


def check(text: str) -> None:
    """Raise ``CelError`` (with a position when there is one) unless ``text`` compiles."""
    compile_expression(text)


def compile_expression(text: str) -> Program:
    """The program for ``text``, cached by text; ``CelError`` when it does not compile or exceeds the bounds."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.compile_expression(text)


def prepare(text: str) -> None:
    """Load cel-python and compile ``text`` into the cache, so that what follows measures the
    evaluation alone; a text that does not compile is left for its evaluation to report."""
    with contextlib.suppress(CelError):
        compile_expression(text)


def evaluate_condition(text: str, activation: dict[str, Any]) -> bool:
    """True when the condition holds; a missing field or any evaluation error makes it false (03 §4)."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.evaluate_condition(text, activation)


def judge_condition(text: str, activation: dict[str, Any]) -> tuple[bool, str | None]:
    """(matched, error): a missing field is a plain non-match (03 §2.3); any other failure,
    or a result that is not a bool, is an error the evaluation records as SKIPPED_ERROR."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.judge_condition(text, activation)


def evaluate_value(text: str, activation: dict[str, Any]) -> Any:
    """Any expression's value as plain Python (strings for targets and references)."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.evaluate_value(text, activation)


def evaluate_amount(text: str, activation: dict[str, Any]) -> Decimal:
    """An amount expression's value as an exact decimal, rounded to 15 significant digits."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.evaluate_amount(text, activation)


def to_cel(value: Any) -> Any:
    """Python (and DynamoDB) values as CEL values; every number becomes a double, as JSON's do."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.to_cel(value)


def environment(compiled: bool = False) -> celpy.Environment:
    """cel-python's environments; the parser they share is built once per container (cached tables)."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.environment(compiled)


def parser_options() -> dict[str, Any]:
    """cel-python's Lark options (``CELParser.__init__``), with the tree class of its compiled runner."""
    from scrip.domain import cel_runtime  # cel-python loads on first use (module docstring)

    return cel_runtime.parser_options()
