"""The simulated Lambda runtime: containers of one process that behave like separate ones."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from scrip_local import runtime
from scrip_local.stack import DEFAULT_TEMPLATE
from scrip_local.template import load


def test_cold_starts_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handler modules import shared modules; two imports at once in one interpreter deadlock or
    see a partly initialised module, which Lambda's one-process-per-container never does."""
    loading, most = 0, 0
    counter = threading.Lock()

    def slow_load(spec: Any) -> Any:
        nonlocal loading, most
        with counter:
            loading += 1
            most = max(most, loading)
        time.sleep(0.02)
        with counter:
            loading -= 1
        return lambda event, context: spec.logical_id

    monkeypatch.setattr(runtime, "_load", slow_load)
    specs = list(load(DEFAULT_TEMPLATE).functions.values())[:6]
    functions = [runtime.Function(spec, "us-east-1", "123456789012") for spec in specs]
    threads = [threading.Thread(target=f.invoke, args=({},)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert [f.invocations for f in functions] == [1] * len(functions)
