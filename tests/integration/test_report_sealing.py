"""The reports' sealing work (``ledger_aggregates.sealed_point``) is bounded per call and never lost.

Verifying goes in steps, each saved as soon as it is verified, within a wall-time budget: a
first report after a long history answers 503 rather than run past the API's timeout with
nothing saved, and each retry goes on from the saved checkpoint. The step adapts to the
entries it finds; an organization without a checkpoint starts at its creation minute; a lost
race for the checkpoint stops the call; a stream behind seals up to its first incomplete minute.

Organizations are created with the application clock moved back, so that they have a history.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from scrip.domain import clock
from scrip.domain.report_lines import AggregatesBehind, Level, floor_to
from scrip.services import ledger_aggregates
from scrip.storage import ledger as ledger_store
from scrip.storage import organizations as organization_store
from scrip.storage import report_aggregates as aggregate_store
from scrip.storage.report_aggregates import Checkpoint
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, ok
from tests.conftest import new_api

MINUTE, HOUR = 60, 3600


def created_minute(org: str) -> datetime:
    created = organization_store.created_at(org)
    assert created is not None
    return floor_to(Level.MINUTE, created)


def target(now: datetime) -> datetime:
    return floor_to(Level.MINUTE, now - ledger_aggregates.SEAL_DELAY)


def saved_points(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Record every checkpoint a call saves (and save it)."""
    saved: list[datetime] = []
    real = aggregate_store.save_checkpoint

    def recording(org_id: str, previous: Checkpoint, sealed_until: datetime) -> bool:
        saved.append(sealed_until)
        return real(org_id, previous, sealed_until)

    monkeypatch.setattr(aggregate_store, "save_checkpoint", recording)
    return saved


def _organization_since(seconds: float, stack: LocalStack, at: Callable[[float], None]) -> tuple[str, Ledger, str]:
    """An organization created ``seconds`` from now (negative: in the past), with a program,
    its points and a participant."""
    at(seconds)
    org_api = new_api(stack)
    ledger = make_ledger(org_api)
    return org_api.organization_id, ledger, ledger.participant()


def test_a_zero_budget_verifies_one_step_a_call_and_each_call_goes_on(
    stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, ledger, alice = _organization_since(-9 * HOUR, stack, at)
    for offset in (-9 * HOUR + MINUTE, -5 * HOUR, -2 * HOUR):
        at(offset)
        ok(ledger.adjust(alice, "3"))
    at(0)
    stack.drain()
    now = clock.now()
    # The report's first call verifies one hour of the nine and answers 503: the rest is too long a tail.
    monkeypatch.setattr(ledger_aggregates, "SEAL_BUDGET_SECONDS", 0.0)
    with pytest.raises(AggregatesBehind) as raised:
        ledger_aggregates.movements(org, until=now)
    assert (raised.value.status, raised.value.code, raised.value.retry_after_seconds) == (503, "aggregates_behind", 1)
    point = aggregate_store.read_checkpoint(org).sealed_until
    assert point == created_minute(org) + timedelta(hours=1)
    calls = 0
    while point != target(now):
        sealed = ledger_aggregates.sealed_point(org, now, budget_seconds=0)
        assert sealed == aggregate_store.read_checkpoint(org).sealed_until  # saved
        assert sealed == min(point + timedelta(hours=1), target(now))  # one step, from where the last stopped
        point, calls = sealed, calls + 1
        assert calls < 12
    assert calls >= 8
    # The same answer as an unbudgeted seal, and the report is read from the aggregates.
    assert ledger_aggregates.sealed_point(org, now) == target(now)
    (movement,) = ledger_aggregates.movements(org, until=now)
    assert movement.net == 9 and movement.entry_count == 3


def test_the_step_halves_after_a_heavy_one_and_doubles_after_a_light_one(
    stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, ledger, alice = _organization_since(-10 * HOUR, stack, at)
    for _ in range(3):  # in the first hour: a heavy step, then none
        ok(ledger.adjust(alice, "1"))
    at(0)
    stack.drain()
    now = clock.now()
    monkeypatch.setattr(ledger_aggregates, "LIGHT_STEP_ENTRIES", 1)
    monkeypatch.setattr(ledger_aggregates, "HEAVY_STEP_ENTRIES", 2)
    saved = saved_points(monkeypatch)
    assert ledger_aggregates.sealed_point(org, now) == target(now)
    points = [created_minute(org), *saved]
    steps = [int((b - a).total_seconds()) // MINUTE for a, b in itertools.pairwise(points)]
    assert steps[:5] == [60, 30, 60, 120, 240], steps
    assert saved[-1] == target(now)


def test_an_organization_without_a_checkpoint_starts_at_its_creation(
    stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    at(-3 * HOUR)
    org = new_api(stack).organization_id
    at(0)
    starts: list[datetime | None] = []
    real = ledger_store.journal_count_between

    def recording(org_id: str, start: datetime | None, end: datetime) -> int:
        starts.append(start)
        return real(org_id, start, end)

    monkeypatch.setattr(ledger_store, "journal_count_between", recording)
    sealed = ledger_aggregates.sealed_point(org, budget_seconds=0)
    assert starts == [created_minute(org)]  # not 1970
    assert sealed == created_minute(org) + timedelta(hours=1)


def test_an_entry_dated_before_the_creation_is_verified_too(stack: LocalStack, at: Callable[[float], None]) -> None:
    """Only a moved clock dates an entry before its organization: the first verification starts
    at that entry, which the stream has not applied, so nothing after it is sealed."""
    org, ledger, alice = _organization_since(-HOUR, stack, at)
    at(-3 * HOUR)
    early = ok(ledger.adjust(alice, "4"))["journal_entry_id"]
    at(0)
    created = ledger_store.get_entry(org, early).created_at
    assert ledger_aggregates.sealed_point(org) == floor_to(Level.MINUTE, created)
    stack.drain()
    assert ledger_aggregates.sealed_point(org) == target(clock.now())


def test_a_lost_race_for_the_checkpoint_stops_at_the_larger_point(
    stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    at(-5 * HOUR)
    org = new_api(stack).organization_id
    at(0)
    now = clock.now()
    first_step = created_minute(org) + timedelta(hours=1)
    theirs = first_step + timedelta(hours=2)  # what another report verified meanwhile
    real = aggregate_store.save_checkpoint
    attempts: list[datetime] = []

    def racing(org_id: str, previous: Checkpoint, sealed_until: datetime) -> bool:
        if not attempts:
            assert real(org_id, previous, theirs)
        attempts.append(sealed_until)
        return real(org_id, previous, sealed_until)

    monkeypatch.setattr(aggregate_store, "save_checkpoint", racing)
    assert ledger_aggregates.sealed_point(org, now) == theirs
    assert attempts == [first_step]  # stopped: no later save moves their checkpoint back
    assert aggregate_store.read_checkpoint(org).sealed_until == theirs


def test_a_stream_behind_seals_up_to_its_first_incomplete_minute(
    stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, ledger, alice = _organization_since(-6 * HOUR, stack, at)
    ok(ledger.adjust(alice, "1"))
    at(-3 * HOUR - 30 * MINUTE)
    ok(ledger.adjust(alice, "2"))
    stack.drain()
    at(-2 * HOUR)
    late = ok(ledger.adjust(alice, "5"))["journal_entry_id"]  # its stream record waits
    at(0)
    saved = saved_points(monkeypatch)
    behind = floor_to(Level.MINUTE, ledger_store.get_entry(org, late).created_at)
    assert ledger_aggregates.sealed_point(org) == behind
    assert len(saved) == 3 and saved[-1] == behind  # two whole steps, then up to the minute behind
    assert aggregate_store.read_checkpoint(org).sealed_until == behind
    stack.drain()
    assert ledger_aggregates.sealed_point(org) == target(clock.now())
