"""What the local stack delivers to a stream consumer, kept so that a test can deliver it again
(a stream delivers at least once: a redelivered batch must change nothing)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scrip_local.stack import LocalStack


@contextmanager
def recorded(stack: LocalStack, function_name: str) -> Iterator[list[dict[str, Any]]]:
    """The events ``function_name`` is invoked with while the block runs, as they were delivered."""
    function = stack.functions[function_name]
    original = function.invoke
    delivered: list[dict[str, Any]] = []

    def recording(event: Any) -> Any:
        delivered.append(copy.deepcopy(event))
        return original(event)

    function.invoke = recording  # type: ignore[method-assign]
    try:
        yield delivered
    finally:
        function.invoke = original  # type: ignore[method-assign]
