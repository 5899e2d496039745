"""Fixtures shared by the service-level tests that move the application clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    """Move the application clock to ``seconds`` from the wall clock (the HTTP handlers run in
    this process and read the same variable)."""

    def move(seconds: float) -> None:
        monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(seconds))

    yield move
    monkeypatch.delenv("SCRIP_CLOCK_OFFSET_SECONDS", raising=False)
