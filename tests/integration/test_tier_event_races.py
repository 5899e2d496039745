"""Two events of one participant racing on its level (02 §4.7.1, issue 14): the level item's
version guard cancels the plan made from a stale level, and the processor plans it again.

Event B commits its upgrade between event A's read of the level and A's commit; A must start
over and find the level B gave, so one upgrade is written, one history line, one webhook.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import tier_qualification
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import EventStatus, Submission
from scrip.domain.state import Owner, OwnerKind, StateType
from scrip.services import event_processing, events
from scrip.services import state as state_service
from scrip.services import tiers as tier_service
from scrip.services.state import ChangeSource
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store
from tests.api.test_tiers import SPEC_EXAMPLE
from tests.integration.ledger_world import make_world


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _ingest(org: str, program: str, participant: str) -> str:
    submission = Submission(
        program_id=program,
        idempotency_key=str(uuid.uuid4()),
        event_timestamp=datetime(2025, 3, 2, tzinfo=UTC),
        event_data={"type": "visit"},
        participant_id=participant,
    )
    return events.ingest(org, submission)[0].id


def _tier_lines(org: str, participant: str) -> list[Any]:
    owner = Owner(OwnerKind.PARTICIPANT, participant)
    found, _ = state_store.history_page(
        org,
        owner,
        limit=100,
        after=None,
        state_type=StateType.TIER,
        key=None,
        program_id=None,
        operation=None,
        changed_from=None,
        changed_to=None,
        event_from=None,
        event_to=None,
    )
    return found


def test_two_events_planned_from_one_level_upgrade_once(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, program, _, (alice,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, alice)
    # The first event enrolls Alice; then her counters qualify for silver with no action needed,
    # so the two events race on the level item alone (not on a counter).
    assert event_processing.process(org, _ingest(org, program, alice)).status is EventStatus.COMPLETED
    state_service.increment_counter(org, owner, "qualifying_nights", Decimal(15), source=ChangeSource())
    tier_service.create_tier(caller, program, SPEC_EXAMPLE)
    first, second = _ingest(org, program, alice), _ingest(org, program, alice)

    real_upgrade = tier_qualification.upgrade
    raced: list[EventStatus | None] = []

    def upgrade(*args: Any, **kwargs: Any) -> Any:
        decided = real_upgrade(*args, **kwargs)
        if not raced:  # A has read base and decided silver: B commits silver first
            raced.append(None)
            raced[0] = event_processing.process(org, second).status
        return decided

    monkeypatch.setattr(tier_qualification, "upgrade", upgrade)
    outcome = event_processing.process(org, first)

    assert raced == [EventStatus.COMPLETED]
    assert outcome.status is EventStatus.COMPLETED  # planned again, not a failed attempt
    assert outcome.event is not None and outcome.event.attempts == 1
    stored = tier_store.owner_state(tier_service.owner_partition(org, owner), program, "status")
    assert stored is not None and stored.state.level == "silver" and stored.version == 1
    lines = _tier_lines(org, alice)
    assert [(line.old_value, line.new_value) for line in lines] == [(None, "silver")]
    assert lines[0].event_id == second


def test_an_archive_committed_during_the_plan_is_seen_by_the_next_plan(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, program, _, (alice,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, alice)
    assert event_processing.process(org, _ingest(org, program, alice)).status is EventStatus.COMPLETED
    state_service.increment_counter(org, owner, "qualifying_nights", Decimal(15), source=ChangeSource())
    tier_service.create_tier(caller, program, SPEC_EXAMPLE)
    event_id = _ingest(org, program, alice)

    real_upgrade = tier_qualification.upgrade
    archived: list[bool] = []

    def upgrade(*args: Any, **kwargs: Any) -> Any:
        decided = real_upgrade(*args, **kwargs)
        if not archived:  # the event decided silver; the tier is archived before it commits
            archived.append(True)
            # In a thread of its own: in this one, the write would join the event's unit of work.
            other = threading.Thread(target=tier_service.archive_tier, args=(caller, program, "status"))
            other.start()
            other.join()
        return decided

    monkeypatch.setattr(tier_qualification, "upgrade", upgrade)
    outcome = event_processing.process(org, event_id)

    assert archived == [True]
    assert outcome.status is EventStatus.COMPLETED and outcome.event is not None and outcome.event.attempts == 1
    assert tier_store.owner_state(tier_service.owner_partition(org, owner), program, "status") is None
    assert _tier_lines(org, alice) == []
