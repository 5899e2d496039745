"""Loading handler modules by path (``scrip.api.catalogue``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrip.api.catalogue import load_module


def test_a_module_that_failed_to_import_is_not_kept(tmp_path: Path) -> None:
    handler = tmp_path / "broken" / "get" / "app.py"
    handler.parent.mkdir(parents=True)
    handler.write_text("raise ImportError('not yet')\n")
    with pytest.raises(ImportError):
        load_module(tmp_path, handler)
    handler.write_text("ROUTE = 'fixed'\n")
    assert load_module(tmp_path, handler).ROUTE == "fixed"
