"""A state change commits only against what it read, so racing writers leave a history chain.

Each case lets a second writer commit between a change's read and its write (deterministically:
the second writer runs inside the first one's read, or just before its event's commit). Without
a condition on what was read, both writers record the same ``old_value``; with it, the first
attempt is stale, is planned again, and its history line starts where the other one ended.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.events import EventStatus, Submission
from scrip.domain.organizations import Caller
from scrip.domain.state import Owner, OwnerKind, StateType
from scrip.services import event_processing, events
from scrip.services import participants as participant_service
from scrip.services import rules as rule_service
from scrip.services import state as state_service
from scrip.storage import state as state_store
from scrip.storage import unit_of_work
from tests.integration.ledger_world import make_world

Chain = list[tuple[str, str, str | None, str | None]]


@pytest.fixture
def world(stack: Any) -> tuple[Caller, str, Owner]:
    caller, program, _, (participant,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE)
    return caller, program, Owner(OwnerKind.PARTICIPANT, participant)


def _once_after(monkeypatch: pytest.MonkeyPatch, name: str, between: Callable[[], Any]) -> list[int]:
    """Run ``between`` once, right after the first call of ``state_store.<name>`` returns."""
    real = getattr(state_store, name)
    calls: list[int] = []

    def read(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            between()
        return found

    monkeypatch.setattr(state_store, name, read)
    return calls


def _once_before_commit(monkeypatch: pytest.MonkeyPatch, between: Callable[[], Any]) -> None:
    """Run ``between`` once, after an event's plan is staged and before its unit commits."""
    real = unit_of_work.UnitOfWork.commit
    ran: list[int] = []

    def commit(self: unit_of_work.UnitOfWork, extra: Any = None) -> None:
        if not ran:
            ran.append(1)
            between()
        real(self, extra)

    monkeypatch.setattr(unit_of_work.UnitOfWork, "commit", commit)


def _history(caller: Caller, owner: Owner, state_type: StateType) -> Chain:
    """(key, operation, old, new) of every change of one state type, oldest first."""
    page = state_service.state_history(caller, owner, limit=100, cursor=None, state_type=state_type)
    return [(c.key, c.operation.value, c.old_value, c.new_value) for c in reversed(page.items)]


def test_racing_attribute_puts_record_a_chain(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    _once_after(monkeypatch, "read", lambda: state_service.set_attribute(caller, owner, "tier", "silver"))

    state_service.set_attribute(caller, owner, "tier", "gold")

    assert _history(caller, owner, StateType.ATTRIBUTE) == [
        ("tier", "set", None, "silver"),
        ("tier", "set", "silver", "gold"),
    ]
    assert state_store.read(caller.organization_id, owner).attributes == {"tier": "gold"}


def test_an_attribute_deletion_records_the_value_it_deleted(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    state_service.set_attribute(caller, owner, "tier", "gold")
    _once_after(monkeypatch, "read", lambda: state_service.set_attribute(caller, owner, "tier", "silver"))

    state_service.delete_attribute(caller, owner, "tier")

    assert _history(caller, owner, StateType.ATTRIBUTE) == [
        ("tier", "set", None, "gold"),
        ("tier", "set", "gold", "silver"),
        ("tier", "delete", "silver", None),
    ]


def test_two_racing_tag_removals_record_one_removal(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    state_service.add_tag(caller, owner, "vip")
    _once_after(monkeypatch, "read", lambda: state_service.remove_tag(caller, owner, "vip"))

    state_service.remove_tag(caller, owner, "vip")

    assert _history(caller, owner, StateType.TAG) == [("vip", "add", None, "vip"), ("vip", "remove", "vip", None)]


def test_a_tag_replacement_raced_by_a_removal_records_the_removal_once(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    state_service.add_tag(caller, owner, "old")
    _once_after(monkeypatch, "read", lambda: state_service.remove_tag(caller, owner, "old"))

    assert state_service.replace_tags(caller, owner, ["new"]) == ["new"]

    assert _history(caller, owner, StateType.TAG) == [
        ("old", "add", None, "old"),
        ("old", "remove", "old", None),
        ("new", "add", None, "new"),
    ]


def test_a_counter_deletion_records_the_value_it_deleted(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    state_service.set_counter(caller, owner, "visits", Decimal(5))
    _once_after(monkeypatch, "get_counter", lambda: state_service.set_counter(caller, owner, "visits", Decimal(7)))

    state_service.delete_counter(caller, owner, "visits")

    assert _history(caller, owner, StateType.COUNTER) == [
        ("visits", "set", None, "5"),
        ("visits", "set", "5", "7"),
        ("visits", "delete", "7", None),
    ]


def test_a_participant_update_raced_on_an_attribute_records_a_chain(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, owner = world
    _once_after(monkeypatch, "read", lambda: state_service.set_attribute(caller, owner, "tier", "silver"))

    detail = participant_service.update_participant(caller, owner.id, {"attributes": {"tier": "gold"}})

    assert detail.attributes == {"tier": "gold"}
    assert _history(caller, owner, StateType.ATTRIBUTE) == [
        ("tier", "set", None, "silver"),
        ("tier", "set", "silver", "gold"),
    ]


# ------------------------------------------------------------- rule actions


def _process_with_rule(caller: Caller, program: str, owner: Owner, actions: list[dict[str, Any]]) -> EventStatus:
    rule_service.create_rule(caller, program_id=program, name="State", condition="true", actions=actions)
    submission = Submission(
        program_id=program,
        idempotency_key=str(uuid.uuid4()),
        event_timestamp=datetime(2025, 3, 2, tzinfo=UTC),
        event_data={"type": "visit"},
        participant_id=owner.id,
    )
    event, _ = events.ingest(caller.organization_id, submission)
    status = event_processing.process(caller.organization_id, event.id).status
    assert status is not None
    return status


def test_a_rule_set_attribute_raced_before_its_commit_records_a_chain(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, program, owner = world
    _once_before_commit(monkeypatch, lambda: state_service.set_attribute(caller, owner, "tier", "silver"))

    status = _process_with_rule(caller, program, owner, [{"type": "SET_ATTRIBUTE", "key": "tier", "value": "'gold'"}])

    assert status is EventStatus.COMPLETED
    assert _history(caller, owner, StateType.ATTRIBUTE) == [
        ("tier", "set", None, "silver"),
        ("tier", "set", "silver", "gold"),
    ]


def test_a_rule_tag_raced_before_its_commit_is_planned_again(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staged tag's "not there yet" fails only at the event's commit: a stale read, not an error."""
    caller, program, owner = world
    _once_before_commit(monkeypatch, lambda: state_service.add_tag(caller, owner, "vip"))

    assert _process_with_rule(caller, program, owner, [{"type": "TAG", "tag": "vip"}]) is EventStatus.COMPLETED

    assert _history(caller, owner, StateType.TAG) == [("vip", "add", None, "vip")]


def test_a_rule_untag_raced_before_its_commit_records_one_removal(
    world: tuple[Caller, str, Owner], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, program, owner = world
    state_service.add_tag(caller, owner, "vip")
    _once_before_commit(monkeypatch, lambda: state_service.remove_tag(caller, owner, "vip"))

    assert _process_with_rule(caller, program, owner, [{"type": "UNTAG", "tag": "vip"}]) is EventStatus.COMPLETED

    assert _history(caller, owner, StateType.TAG) == [("vip", "add", None, "vip"), ("vip", "remove", "vip", None)]
