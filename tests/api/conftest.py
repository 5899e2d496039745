"""Fixtures shared by the HTTP tests that move the application clock, receive webhooks or create
automations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tests.api.webhook_receiver import Receiver, receiver
from tests.conftest import Api


@pytest.fixture
def move_clock(api: Api) -> Iterator[Callable[[datetime], None]]:
    """Move the application clock to a moment (the local clock route); back to the wall clock after."""

    def to(moment: datetime) -> None:
        offset = (moment - datetime.now(UTC)).total_seconds()
        assert api.post("/_local/clock", json={"offset_seconds": offset}).status_code == 200

    yield to
    api.post("/_local/clock", json={"offset_seconds": 0})


@pytest.fixture
def created(api: Api) -> Iterator[list[tuple[str, str]]]:
    """(program, automation) pairs to archive afterwards, so no later scheduler run fires them."""
    made: list[tuple[str, str]] = []
    yield made
    for program_id, automation_id in made:
        api.delete(f"/v1/programs/{program_id}/automations/{automation_id}")


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    """A webhook receiver for the test's organization to subscribe (tests/api/webhook_receiver.py)."""
    with receiver() as found:
        yield found
