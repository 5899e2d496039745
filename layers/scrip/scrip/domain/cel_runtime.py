"""cel-python, behaving like cel-go: what ``cel`` loads on the first compile or evaluation.

Scrip's rules are written for cel-go; cel-python 0.5.0 differs where rules notice:

* Numbers. cel-go compares across numeric types (``event.amount >= 20.0`` holds for an amount
  sent as ``30``; ``75.0 == 75`` is true); cel-python raises. The comparison operators of its
  numeric types are widened here to compare by value, and an int operand meeting a double is
  promoted (03 §4.5: rules write ``event.amount * 10`` where the amount is a JSON double).
* Event data. JSON numbers are doubles in cel-go; DynamoDB hands back ``Decimal``, which
  cel-python cannot take. ``to_cel`` converts every number to a double.
* Helpers. ``get(map, key, default)``, ``round(x, n)`` (half away from zero),
  ``sets.contains`` and ``sets.intersects`` are provided; cel-python has no namespaced
  functions, so ``sets.x(`` is rewritten to ``sets_x(`` before parsing.
* A missing field makes a condition false rather than failing the event (03 §4).

The environment is built once per container and programs are cached by expression text (a
rule version's text never changes), so the ~200 ms environment build and the compile stay out
of the per-event path. Expressions are bounded in length and nesting depth, and their cost is
bounded before they run (``cel_cost``): cel-python cannot be interrupted, so one hostile rule
could otherwise hold every event of its program. While evaluating, comprehensions may step at
most ``cel_cost.MAX_ITERATIONS`` times in all; any failure of an evaluation, whatever Python
raised, is an evaluation error of the expression, never an escape.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, DecimalException
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import celpy
import lark
from celpy import celparser, celtypes
from celpy import evaluation as celpy_evaluation
from celpy.celparser import CELParseError, CELParser
from celpy.evaluation import CELEvalError, TranspilerTree

from scrip.domain import cel_cost
from scrip.domain.cel import (
    _STRING,
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING,
    PARSER_CACHE,
    SIGNIFICANT_DIGITS,
    WORKING_CACHE,
    AmountError,
    CelError,
    CostlyExpression,
    IterationLimit,
    MissingField,
    _nesting,
    _rewrite,
)


class _Iterations(threading.local):
    remaining: int | None = None  # None outside an evaluation of ours


_ITERATIONS = _Iterations()


def _counting(method: Callable[..., Any]) -> Callable[..., Any]:
    """Every comprehension step makes an activation (``clone`` when interpreted,
    ``nested_activation`` when compiled): counting them bounds an evaluation's steps."""

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        remaining = _ITERATIONS.remaining
        if remaining is not None:
            if remaining <= 0:
                raise IterationLimit(
                    f"the expression stepped through more than {cel_cost.MAX_ITERATIONS} comprehension elements"
                )
            _ITERATIONS.remaining = remaining - 1
        return method(self, *args, **kwargs)

    return counted


celpy_evaluation.Activation.clone = _counting(celpy_evaluation.Activation.clone)  # type: ignore[method-assign]
celpy_evaluation.Activation.nested_activation = _counting(  # type: ignore[method-assign]
    celpy_evaluation.Activation.nested_activation
)


_NUMERIC = (celtypes.IntType, celtypes.UintType, celtypes.DoubleType)


def _widen_numeric_comparisons() -> None:
    """Let numeric types compare by value across int, uint and double, as cel-go does."""
    for kind in _NUMERIC:
        for name in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
            strict = getattr(kind, name)
            plain = getattr(float if kind is celtypes.DoubleType else int, name)

            def compare(self: Any, other: Any, _strict: Any = strict, _plain: Any = plain, _name: str = name) -> Any:
                if _name in ("__eq__", "__ne__") and isinstance(other, _OTHER_KINDS):
                    return celtypes.BoolType(_name == "__ne__")  # cel-go: values of other kinds are unequal
                if isinstance(other, _NUMERIC) and not isinstance(other, type(self)):
                    if isinstance(other, celtypes.DoubleType) and math.isnan(other):
                        return _name == "__ne__"
                    return _plain(self, other) if type(self) is not celtypes.DoubleType else _plain(float(self), other)
                return _strict(self, other)

            setattr(kind, name, compare)
        kind.__hash__ = (float if kind is celtypes.DoubleType else int).__hash__  # type: ignore[assignment]


_OTHER_KINDS = (
    celtypes.StringType,
    celtypes.ListType,
    celtypes.MapType,
    celtypes.TimestampType,
    celtypes.DurationType,
    celtypes.BytesType,
)


def _unequal_across_kinds() -> None:
    """``"5812" == 5812`` is false in cel-go (heterogeneous equality), an error in cel-python."""
    for name in ("__eq__", "__ne__"):
        strict = getattr(celtypes.StringType, name)

        def compare(self: Any, other: Any, _strict: Any = strict, _name: str = name) -> Any:
            if isinstance(other, (*_NUMERIC, celtypes.ListType, celtypes.MapType)):
                return celtypes.BoolType(_name == "__ne__")
            return _strict(self, other)

        setattr(celtypes.StringType, name, compare)
    celtypes.StringType.__hash__ = str.__hash__  # type: ignore[assignment]


_widen_numeric_comparisons()
_unequal_across_kinds()
# The compiled runner logs every failed evaluation as an internal error before we fall back
# to the interpreter (a missing field is ordinary): keep those out of the function's logs.
logging.getLogger("celpy.Transpiler").setLevel(logging.CRITICAL)
# Its function wrappers log every exception they pass on at ERROR, arguments and all (a whole
# event's list): the evaluation records the error itself.
logging.getLogger("celpy.celpy.evaluation").setLevel(logging.CRITICAL)

_ARITHMETIC = {
    "__add__": lambda a, b: a + b,
    "__sub__": lambda a, b: a - b,
    "__mul__": lambda a, b: a * b,
    "__truediv__": lambda a, b: a / b if b else math.copysign(math.inf, a) if a else math.nan,
    "__radd__": lambda a, b: b + a,
    "__rsub__": lambda a, b: b - a,
    "__rmul__": lambda a, b: b * a,
    "__rtruediv__": lambda a, b: b / a if a else math.copysign(math.inf, b) if b else math.nan,
}


def _promote_mixed_arithmetic() -> None:
    """``event.amount * 10`` with a double amount: an int operand is promoted to double.

    Event numbers are doubles (JSON) while the spec's rules multiply and add integer literals
    (03 §4.5 asks for the promotion); two ints stay integer arithmetic.
    """
    for kind in _NUMERIC:
        for name, operation in _ARITHMETIC.items():
            strict = getattr(kind, name, None)
            if strict is None:
                continue

            def arithmetic(self: Any, other: Any, _strict: Any = strict, _operation: Any = operation) -> Any:
                mixed = isinstance(other, _NUMERIC) and not isinstance(other, type(self))
                if mixed and celtypes.DoubleType in (type(self), type(other)):
                    return celtypes.DoubleType(_operation(float(self), float(other)))
                return _strict(self, other)

            setattr(kind, name, arithmetic)


_promote_mixed_arithmetic()


def _round_half_away(value: Any, digits: Any) -> celtypes.DoubleType:
    places = int(digits)
    if not 0 <= places <= cel_cost.MAX_ROUND_DIGITS:  # a literal is refused at validation already
        raise ValueError(f"round() takes 0 to {cel_cost.MAX_ROUND_DIGITS} decimal places, not {places}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"round() of a non-finite number ({number})")
    quantum = Decimal(1).scaleb(-places)
    try:
        rounded = Decimal(repr(number)).quantize(quantum, rounding=ROUND_HALF_UP)
    except DecimalException:  # more digits than the context holds: the number is too large to round there
        return celtypes.DoubleType(number)
    return celtypes.DoubleType(float(rounded))


def _get(container: Any, key: Any, default: Any) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        return default


def _frozen(value: Any) -> Any:
    """A hashable stand-in with the same equality (numbers hash by value across int and double)."""
    if isinstance(value, dict):
        return frozenset((_frozen(k), _frozen(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _members(items: Any) -> set[Any]:
    # Hashed, so that two lists from the event cost their lengths, not their product.
    if not isinstance(items, list):
        raise TypeError(f"sets functions take lists, not {type(items).__name__}")
    return {_frozen(item) for item in items}


def _sets_contains(items: Any, wanted: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_members(wanted) <= _members(items))


def _sets_intersects(items: Any, wanted: Any) -> celtypes.BoolType:
    return celtypes.BoolType(not _members(items).isdisjoint(_members(wanted)))


def _string(value: Any) -> celtypes.StringType:
    """cel-go's string() takes scalars; cel-python's would spell out a whole list of the event."""
    if isinstance(value, (list, dict)):
        raise TypeError(f"no such overload: string({type(value).__name__})")
    return celtypes.StringType(value)


FUNCTIONS: dict[str, Any] = {
    "get": _get,
    "round": _round_half_away,
    "string": _string,
    "sets_contains": _sets_contains,
    "sets_intersects": _sets_intersects,
}


def parser_options() -> dict[str, Any]:
    """cel-python's Lark options (``CELParser.__init__``), with the tree class of its compiled runner."""
    return {
        "parser": "lalr",
        "start": "expr",
        "debug": True,
        "g_regex_flags": re.M,
        "lexer_callbacks": {"IDENT": CELParser.ambiguous_literals},
        "propagate_positions": True,
        "maybe_placeholders": False,
        "priority": "invert",
        "tree_class": TranspilerTree,  # a lark.Tree that both runners can evaluate
    }


def _load_parser() -> None:
    """Build cel-python's parser from the LALR tables shipped with the layer.

    Building the tables is ~210 ms of every cold container; loading them ~13 ms. Lark checks
    that the file matches the grammar, its own version and Python's, and rebuilds when not;
    the copy in /tmp is what it may rewrite (the layer itself is read-only).
    """
    if CELParser.CEL_PARSER is not None:
        return
    grammar = (Path(celparser.__file__).parent / "cel.lark").read_text()
    if not Path(WORKING_CACHE).exists() and PARSER_CACHE.exists():
        shutil.copyfile(PARSER_CACHE, WORKING_CACHE)
    CELParser.CEL_PARSER = lark.Lark(grammar, cache=WORKING_CACHE, **parser_options())


_CUSTOM_CALL = re.compile(r"\b(get|round|string|sets_contains|sets_intersects)\s*\(")


@cache
def environment(compiled: bool = False) -> celpy.Environment:
    """cel-python's environments; the parser they share is built once per container (cached tables)."""
    _load_parser()
    return celpy.Environment(runner_class=celpy.CompiledRunner if compiled else celpy.InterpretedRunner)


@dataclass(frozen=True)
class Program:
    text: str
    runner: Any
    fallback: Any = None  # the interpreted runner, when ``runner`` is the compiled one

    def evaluate(self, activation: dict[str, Any]) -> Any:
        values = {name: to_cel(value) for name, value in activation.items()}
        if self.fallback is None:
            return _bounded(self.runner.evaluate, values)
        # The compiled runner evaluates both sides of && and || and wraps every error as an
        # opaque "evaluation error": on any error the interpreter decides, with CEL's
        # short-circuits (`has(event.x) && event.x == 1`) and the error's own kind.
        try:
            with _COMPILED_RUNNER:
                result = _bounded(self.runner.evaluate, values)
        except Exception as error:  # noqa: BLE001 - the interpreter tells which error it is
            if _kind(error) is IterationLimit:  # the interpreter would only step as far again
                raise IterationLimit(*error.args[2]) from None
            return _bounded(self.fallback.evaluate, values)
        return _bounded(self.fallback.evaluate, values) if isinstance(result, CELEvalError) else result


def _kind(error: BaseException) -> Any:
    """The Python exception a CELEvalError stands for (its second argument)."""
    args = error.args
    return args[1] if isinstance(error, CELEvalError) and len(args) > 2 else type(error)


# The compiled runner keeps the activation and the result of the evaluation under way in its
# module's globals: two threads evaluating at once (the local stack's handler threads) would
# read each other's. A Lambda runs one evaluation at a time, so the lock costs it nothing.
_COMPILED_RUNNER = threading.Lock()


def _bounded(run: Callable[[Any], Any], values: dict[str, Any]) -> Any:
    """One evaluation, allowed ``MAX_ITERATIONS`` comprehension steps (and its own activation)."""
    _ITERATIONS.remaining = cel_cost.MAX_ITERATIONS + 1
    try:
        return run(values)
    finally:
        _ITERATIONS.remaining = None


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Program:
    if not text.strip():
        raise CelError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise CelError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    if _nesting(text) > MAX_NESTING:
        raise CelError(f"the expression nests deeper than {MAX_NESTING} levels")
    rewritten = _rewrite(text)
    # The compiled runner evaluates about 5x faster but cannot call our custom functions.
    compiled = _CUSTOM_CALL.search(_STRING.sub('""', rewritten)) is None
    env = environment(compiled=compiled)
    try:
        ast = env.compile(rewritten)
        cel_cost.estimate(ast)
        fallback = environment().program(ast, functions=FUNCTIONS) if compiled else None
        program = Program(text, env.program(ast, functions=FUNCTIONS), fallback)
    except CELParseError as error:
        raise CelError(
            str(error).splitlines()[0], getattr(error, "line", None), getattr(error, "column", None)
        ) from None
    except cel_cost.TooCostly as error:
        raise CostlyExpression(str(error)) from None
    except RecursionError:  # a long chain of operators (`1 + 1 + … + 1`) nests as deep as it is long
        raise CelError("the expression chains too many operators to evaluate") from None
    return program


def to_cel(value: Any) -> Any:
    """Python (and DynamoDB) values as CEL values; every number becomes a double, as JSON's do."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, (int, float, Decimal)):
        return celtypes.DoubleType(float(value))
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, datetime):
        return celtypes.TimestampType(value)
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, (list, tuple, set, frozenset)):
        return celtypes.ListType([to_cel(v) for v in value])
    if value is None:
        return None
    return value


def evaluate_condition(text: str, activation: dict[str, Any]) -> bool:
    """True when the condition holds; a missing field or any evaluation error makes it false (03 §4)."""
    try:
        result = compile_expression(text).evaluate(activation)
    except Exception:  # noqa: BLE001 - whatever failed, the condition does not hold
        return False
    if isinstance(result, CELEvalError):
        return False
    return bool(result) if isinstance(result, (bool, celtypes.BoolType)) else False


def _reason(error: BaseException) -> str:
    return str(error.args[0]) if error.args else type(error).__name__


def _missing_field(error: Any) -> bool:
    """A map key the data lacks; not an undeclared name (``gold`` as a literal value)."""
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    undeclared = bool(args) and str(args[0]).startswith("undeclared reference")
    return not undeclared and (isinstance(error, KeyError) or (len(args) > 1 and args[1] is KeyError))


def judge_condition(text: str, activation: dict[str, Any]) -> tuple[bool, str | None]:
    """(matched, error): a missing field is a plain non-match (03 §2.3); any other failure,
    or a result that is not a bool, is an error the evaluation records as SKIPPED_ERROR."""
    try:
        result = compile_expression(text).evaluate(activation)
    except CelError as error:  # a rule stored before a bound it now exceeds
        return False, f"condition evaluation failed: {error.message}"
    except Exception as error:  # noqa: BLE001 - every failure of an evaluation is its error (SKIPPED_ERROR)
        return False, None if _missing_field(error) else f"condition evaluation failed: {_reason(error)}"
    if isinstance(result, CELEvalError):
        return False, None if _missing_field(result) else f"condition evaluation failed: {result.args[0]}"
    if not isinstance(result, (bool, celtypes.BoolType)):
        return False, f"condition evaluation failed: the condition returned {type(result).__name__}, not a bool"
    return bool(result), None


def evaluate_value(text: str, activation: dict[str, Any]) -> Any:
    """Any expression's value as plain Python (strings for targets and references)."""
    try:
        result = compile_expression(text).evaluate(activation)
    except CostlyExpression as error:
        raise AmountError(f"expression {text!r} failed: {error.message}") from None
    except CelError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure of an evaluation is its error
        kind = MissingField if _missing_field(error) else AmountError
        raise kind(f"expression {text!r} failed: {_reason(error)}") from None
    if isinstance(result, CELEvalError):
        kind = MissingField if _missing_field(result) else AmountError
        raise kind(f"expression {text!r} failed: {result.args[0]}")
    return result


def evaluate_amount(text: str, activation: dict[str, Any]) -> Decimal:
    """An amount expression's value as an exact decimal, rounded to 15 significant digits."""
    try:
        result = compile_expression(text).evaluate(activation)
    except CelError as error:
        raise AmountError(f"amount expression failed: {error.message}") from None
    except Exception as error:  # noqa: BLE001 - every failure of an evaluation is its error
        raise AmountError(f"amount expression failed: {_reason(error)}") from None
    if isinstance(result, CELEvalError) or not isinstance(result, (int, float)) or isinstance(result, bool):
        raise AmountError(f"amount expression did not produce a number: {result!r}")
    if isinstance(result, float) and not math.isfinite(result):
        raise AmountError("amount expression produced a non-finite number")
    value = Decimal(repr(float(result))) if isinstance(result, float) else Decimal(int(result))
    if value == 0:
        return Decimal(0)
    exponent = value.adjusted() - (SIGNIFICANT_DIGITS - 1)
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP).normalize()
