"""Regenerate layers/scrip/scrip/domain/cel_parser.cache (run with the layer's Python, 3.12).

cel-python builds its LALR parser tables on first use (~210 ms of each cold Lambda container);
the layer ships them prebuilt. tests/unit/test_cel_parser_cache.py fails when the shipped file
no longer matches the installed lark, cel-python grammar or Python version.

    .venv/bin/python tools/build_cel_parser_cache.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "scrip"))

import lark
from celpy import celparser

from scrip.domain import cel


def main() -> None:
    working = Path(cel.WORKING_CACHE)
    working.unlink(missing_ok=True)
    grammar = (Path(celparser.__file__).parent / "cel.lark").read_text()
    lark.Lark(grammar, cache=str(working), **cel.parser_options())
    shutil.copyfile(working, cel.PARSER_CACHE)
    print(f"wrote {cel.PARSER_CACHE} ({cel.PARSER_CACHE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
