"""How long the costliest expressions the CEL cost bound accepts take, on the largest events.

    PYTHONPATH=layers/scrip:local .venv/bin/python bench/cel_cost.py

Each case is near the budget (or the iteration limit) with its data at the size an event can
hold (32 KiB of JSON). Prints the estimate, the worst of three evaluations, and the outcome.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from scrip.domain import cel, cel_cost

_MAX = 32_768


def _fill(make: Any) -> list[Any]:
    """The longest list of make(i) that fits an event's 32 KiB of JSON."""
    items: list[Any] = []
    while len(json.dumps({"l": [*items, make(len(items))]})) <= _MAX - 64:
        items.append(make(len(items)))
    return items


NUMBERS = _fill(lambda i: 0)
MAPS = _fill(lambda i: {"a": i % 7})
NESTED = _fill(lambda i: [i % 3, 1])
LONG = "a" * (_MAX - 64)

CASES: list[tuple[str, dict[str, Any]]] = [
    ("event.l.exists(x, x == 1)", {"l": NUMBERS}),
    ("event.l.all(x, x == 0)", {"l": NUMBERS}),
    ("event.l.filter(x, x.a > 3).size() > 0", {"l": MAPS}),
    ("event.l.map(x, x.a * 2 + 1).size() > 0", {"l": MAPS}),
    ("event.l.exists(x, x.exists(y, y == 2))", {"l": NESTED}),
    ("event.l.exists(x, x.a in [1, 2, 3] && x.a != 4 && x.a > 0 && x.a < 9)", {"l": MAPS}),
    ("event.l.exists(x, get(x, 'a', 0) == 9)", {"l": MAPS}),
    ("1 in event.l && 2 in event.l && 3 in event.l && 4 in event.l", {"l": NUMBERS}),
    ("sets.intersects(event.l, event.m)", {"l": NUMBERS[: len(NUMBERS) // 2], "m": NUMBERS[: len(NUMBERS) // 2]}),
    ("event.s.matches('(a+)+b') || event.s.contains('b') || event.s + event.s == event.s", {"s": LONG}),
    (
        "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(a, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(b, a * b)).size() > 0",
        {},
    ),
    ("event.l == event.m", {"l": NUMBERS[: len(NUMBERS) // 2], "m": NUMBERS[: len(NUMBERS) // 2]}),
    ("round(event.x * 1.5, 2) > 0.0 && string(event.x) != ''", {"x": 10.0}),
]


def main() -> None:
    now = datetime.now(UTC)
    for text, event in CASES:
        variables = {"event": event, "participant": {"tags": [], "counters": {}, "attributes": {}}, "now": now}
        try:
            program = cel.compile_expression(text)
        except cel.CelError as error:
            print(f"refused   {text[:70]!r}: {error.message[:60]}")
            continue
        estimate = cel_cost.estimate(cel.environment().compile(cel._rewrite(text)))
        worst, outcome = 0.0, None
        for _ in range(3):
            started = time.perf_counter()
            outcome = cel.judge_condition(text, variables)
            worst = max(worst, time.perf_counter() - started)
            program.evaluate  # noqa: B018 - compiled once, above
        print(f"{estimate:8.0f} u {worst * 1000:7.1f} ms  {text[:70]!r} -> {outcome}")


if __name__ == "__main__":
    main()
