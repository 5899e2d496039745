"""Helpers shared by the use cases."""

from __future__ import annotations

from collections.abc import Callable

from scrip.domain.errors import Conflict

_ATTEMPTS = 5


def retry_on_stale[T](operation: Callable[[], T], stale: type[Exception] | tuple[type[Exception], ...]) -> T:
    """Re-run a read-modify-write whose optimistic version check lost to another writer."""
    for _ in range(_ATTEMPTS - 1):
        try:
            return operation()
        except stale:
            continue
    try:
        return operation()
    except stale:
        raise Conflict("the resource changed concurrently; retry the request") from None
