"""The LALR tables shipped with the layer are the ones cel-python's parser needs.

Lark rebuilds (and rewrites) a cache whose key differs: grammar, options (the cache path
included), lark version, Python version. A stale shipped file would silently cost every cold
container ~210 ms again. Regenerate with ``.venv/bin/python tools/build_cel_parser_cache.py``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import lark
from celpy import celparser

from scrip.domain import cel


def test_the_shipped_parser_tables_match_lark_cache_key() -> None:
    grammar = (Path(celparser.__file__).parent / "cel.lark").read_text()
    options = {"cache": cel.WORKING_CACHE, **cel.parser_options()}  # the order cel.py passes them
    options_text = "".join(k + str(v) for k, v in options.items() if k != "lexer_callbacks")
    key = hashlib.sha256(
        (grammar + options_text + lark.__version__ + str(sys.version_info[:2])).encode("utf8")
    ).hexdigest()

    shipped_key = cel.PARSER_CACHE.read_bytes().split(b"\n", 1)[0].decode()

    assert shipped_key == key


def test_expressions_without_custom_functions_use_the_compiled_runner() -> None:
    fast = cel.compile_expression("event.amount > 5.0 && event.note == 'get(x)'")
    slow = cel.compile_expression("get(participant.counters, 'visits', 0.0) >= 1.0")
    assert type(fast.runner).__name__ == "CompiledRunner"
    assert type(slow.runner).__name__ == "InterpretedRunner"
    variables = {"event": {"amount": 7, "note": "get(x)"}, "participant": {"counters": {"visits": 2}}}
    assert cel.judge_condition(fast.text, variables) == (True, None)
    assert cel.judge_condition(slow.text, variables) == (True, None)
