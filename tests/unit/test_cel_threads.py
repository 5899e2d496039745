"""Two threads evaluating CEL at once each get their own answer.

cel-python's compiled runner keeps the activation and result of the evaluation under way in
module globals; the local stack runs handlers in threads of one process, so evaluations there
must not interleave (``cel_runtime._COMPILED_RUNNER``).
"""

from __future__ import annotations

import threading

from scrip.domain import cel
from tests.interleaving import run_switching_often


def test_concurrent_compiled_evaluations_do_not_swap_results() -> None:
    text = "event.n * 2.0"
    program = cel.compile_expression(text)
    assert program.fallback is not None, "the expression should take the compiled runner"
    wrong: list[tuple[int, object]] = []

    def evaluate(n: int) -> None:
        for _ in range(1500):
            result = program.evaluate({"event": {"n": n}})
            if float(result) != n * 2:
                wrong.append((n, result))

    threads = [threading.Thread(target=evaluate, args=(n,)) for n in range(1, 5)]
    run_switching_often(threads)
    assert wrong == []
