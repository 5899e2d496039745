"""Automation execution (services/automation_runs.py) with the real scheduler and stream shapes.

The scheduler runs as its function (a scheduled event), the fan-out pages through the stream
dispatcher; faults are injected where a Lambda can die. Whatever happens, each participant gets
exactly one event per fire, and the automation's counters count each page once.

As in test_fanout.py the generated events are not processed here (the HTTP tests follow them to
balances and webhooks): the dispatcher's queueing is stubbed and the events deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.automations import (
    Automation,
    AutomationStatus,
    ExecutionStatus,
    FilterHint,
    FilterHintType,
    Scope,
    TriggerType,
    idempotency_key,
)
from scrip.domain.errors import ValidationFailed
from scrip.domain.events import EventType
from scrip.domain.events import event_id as keyed_event_id
from scrip.domain.fanouts import FanOutKind, FanOutStatus
from scrip.domain.organizations import Caller
from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
from scrip.domain.state import Counter, Owner, OwnerKind
from scrip.services import automation_runs, events, fanouts, follow_ups
from scrip.services import programs as program_service
from scrip.storage import automation_runs as run_store
from scrip.storage import automations as automation_store
from scrip.storage import events as event_store
from scrip.storage import fanouts as fanout_store
from scrip.storage import keys, transactions
from scrip.storage import participants as participant_store
from scrip.storage import state as state_store
from tests.integration.automation_helpers import archive, batch_delete, batch_put, new_automation, stream_record

SCHEDULER = "AutomationSchedulerFunction"
DISPATCH = "StreamDispatchFunction"
PARTICIPANTS = 250
SUSPENDED = 3  # index of the one participant that is not a candidate
FILTER = '"vip" in participant.tags'
GUARD = 'get(participant.counters, "logins", 0.0) >= 2.0'


class _World:
    def __init__(self, org: str, program: str, people: list[str]) -> None:
        self.org, self.program, self.people = org, program, people

    def vip(self, index: int) -> bool:
        return index % 3 == 0

    def logins(self, index: int) -> int:
        return index % 5

    def selected(self) -> set[str]:
        return {p for i, p in enumerate(self.people) if i != SUSPENDED and self.vip(i)}

    def guarded(self) -> set[str]:
        return {p for i, p in enumerate(self.people) if p in self.selected() and self.logins(i) >= 2}


@pytest.fixture(scope="module")
def world(stack: Any) -> _World:
    """250 enrolled participants: every third one tagged ``vip``, ``logins`` = index mod 5, one SUSPENDED."""
    org, _, _ = stack.bootstrap_organization(None)
    program = program_service.create_program(Caller(org, "test"), name="Automations").id
    now = clock.now()
    items: list[dict[str, Any]] = []
    people = []
    for i in range(PARTICIPANTS):
        person = new_participant(
            organization_id=org,
            participant_id=str(uuid.uuid4()),
            external_id=f"auto-{i}",
            status=ParticipantStatus.SUSPENDED if i == SUSPENDED else ParticipantStatus.ACTIVE,
            profile={},
            now=now,
        )
        owner = Owner(OwnerKind.PARTICIPANT, person.id)
        writes: list[transactions.Write] = [
            *participant_store.create_writes(person, [program]),
            *participant_store.enrollment_writes(person, program, Enrollment(program, EnrollmentStatus.ACTIVE, now)),
            state_store.counter_put(org, owner, Counter("logins", Decimal(i % 5), None, None), None),
        ]
        if i % 3 == 0:
            writes.append(state_store.tag_add(org, owner, "vip", lambda: ValueError("tag")))
        items += [w.params["Item"] for w in writes if w.kind == "Put"]
        people.append(person.id)
    batch_put(items)
    return _World(org, program, people)


@pytest.fixture
def made(stack: Any, world: _World, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Stub the queueing of generated events and note every event ingested; afterwards archive
    the test's automations (no later test's scheduler run fires them), finish what the stream
    holds and delete the events."""
    monkeypatch.setattr(follow_ups, "dispatch", lambda images: 0)
    automations: list[str] = []
    created: list[dict[str, str]] = []
    real_ingest = events.ingest

    def noting(org: str, submission: Any, **kwargs: Any) -> Any:
        result = real_ingest(org, submission, **kwargs)
        created.append({"PK": keys.event(org, result[0].id), "SK": keys.ENTITY_SK})
        return result

    monkeypatch.setattr(events, "ingest", noting)
    yield automations
    archive(world.org, automations)
    stack.drain()
    batch_delete({k["PK"]: k for k in created}.values())


def _automation(world: _World, made: list[str], **fields: Any) -> Automation:
    return new_automation(
        world.org,
        world.program,
        made,
        **{
            "name": f"auto {uuid.uuid4()}",
            "event_name": "weekly_check",
            "trigger_type": TriggerType.CRON,
            "payload": {"campaign": "c1"},
            **fields,
        },
    )


def _program_automation(world: _World, made: list[str], **fields: Any) -> Automation:
    """A program-scoped automation: it fires one event, with no run, so no execution counters."""
    return _automation(
        world,
        made,
        **{
            "scope": Scope.PROGRAM,
            "execution_status": None,
            "participants_total": None,
            "participants_processed": None,
            **fields,
        },
    )


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _events_by_participant(world: _World, automation_id: str, fire_at: datetime) -> dict[str, int]:
    ids = {keyed_event_id(world.program, idempotency_key(automation_id, fire_at, p)): p for p in world.people}
    found: dict[str, int] = {}
    for event in event_store._get_many(world.org, list(ids)).values():
        assert event.event_type is EventType.SYSTEM and event.event_timestamp == fire_at
        assert event.event_data == {"type": "weekly_check", "campaign": "c1"}
        found[ids[event.id]] = found.get(ids[event.id], 0) + 1
    return found


def _fire_scheduler(stack: Any) -> dict[str, Any]:
    result: dict[str, Any] = stack.fire_schedule(SCHEDULER)
    return result


def _get(world: _World, automation_id: str) -> Automation:
    found = automation_store.get(world.org, automation_id)
    assert found is not None
    return found


def test_a_due_participants_cron_fires_once_with_filter_and_guard(stack: Any, world: _World, made: list[str]) -> None:
    fire_at = _minute(clock.now()) - timedelta(minutes=1)
    automation = _automation(
        world,
        made,
        cron_expression="* * * * *",
        next_run_at=fire_at,
        participant_filter=FILTER,
        guard_condition=GUARD,
        filter_hints=(FilterHint(FilterHintType.HAS_TAG, "vip"),),
    )
    first = automation_runs.run_due()
    again = automation_runs.run_due()  # an overlapping or retried tick finds it no longer due
    assert first.fired >= 1 and again.fired == 0
    stack.drain()

    done = _get(world, automation.id)
    assert done.execution_status is ExecutionStatus.COMPLETED and done.execution_completed_at is not None
    assert done.participants_total == len(world.selected()) == done.participants_processed
    assert done.next_run_at is not None and done.next_run_at > clock.now() - timedelta(minutes=1)
    assert done.last_run_at is not None
    events_made = _events_by_participant(world, automation.id, fire_at)
    assert set(events_made) == world.guarded() and set(events_made.values()) == {1}
    job = fanout_store.get(world.org, automation_runs.fanout_id(automation.id, fire_at))
    assert job is not None and job.status is FanOutStatus.COMPLETED and job.kind is FanOutKind.AUTOMATION


def test_the_scheduler_function_fires_a_program_cron_at_its_instant_once(
    stack: Any, world: _World, made: list[str]
) -> None:
    fire_at = _minute(clock.now()) - timedelta(minutes=3)  # three slots late: fires once
    automation = _program_automation(world, made, cron_expression="* * * * *", next_run_at=fire_at)
    _fire_scheduler(stack)
    _fire_scheduler(stack)
    key = idempotency_key(automation.id, fire_at)
    event = event_store.get(world.org, keyed_event_id(world.program, key))
    assert event is not None and event.event_timestamp == fire_at and event.participant_id is None
    assert event.event_data == {"type": "weekly_check", "campaign": "c1"}
    missed = idempotency_key(automation.id, fire_at + timedelta(minutes=1))
    assert event_store.get(world.org, keyed_event_id(world.program, missed)) is None  # missed slots collapse
    after = _get(world, automation.id)
    assert after.next_run_at is not None and after.next_run_at > clock.now() - timedelta(seconds=1)
    assert after.last_error is None and after.consecutive_failures == 0


def test_a_one_time_program_automation_fires_once_for_its_participant(
    stack: Any, world: _World, made: list[str]
) -> None:
    fire_at = clock.now() - timedelta(seconds=30)
    automation = _program_automation(
        world,
        made,
        trigger_type=TriggerType.ONE_TIME,
        trigger_at=fire_at,
        participant_id=world.people[1],
    )
    automation_runs.run_due()
    automation_runs.run_due()
    event = event_store.get(world.org, keyed_event_id(world.program, idempotency_key(automation.id, fire_at)))
    assert event is not None and event.participant_id == world.people[1]
    after = _get(world, automation.id)
    assert after.processed_at is not None and after.error_message is None
    assert after.due_at is None and automation_store.due_entry_key(after) is None  # never again


def test_five_consecutive_failed_fires_pause_the_automation(
    world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = events.ingest

    def refuse(org: str, submission: Any, **kwargs: Any) -> Any:
        if org == world.org:  # other organizations' automations due meanwhile are not this test's
            raise ValidationFailed("the program is not active")
        return real_ingest(org, submission, **kwargs)

    monkeypatch.setattr(events, "ingest", refuse)
    automation = _program_automation(
        world, made, cron_expression="* * * * *", next_run_at=_minute(clock.now()) - timedelta(minutes=1)
    )
    moment = clock.now()
    for fire in range(1, 6):
        current = _get(world, automation.id)
        assert current.status is AutomationStatus.ACTIVE and current.next_run_at is not None
        moment = max(moment, current.next_run_at) + timedelta(seconds=1)
        report = automation_runs.run_due(moment)
        assert report.failed >= 1
        after = _get(world, automation.id)
        assert after.consecutive_failures == fire and after.last_error == "the program is not active"
    assert _get(world, automation.id).status is AutomationStatus.PAUSED
    assert automation_store.due_entry_key(_get(world, automation.id)) is None  # paused: off the index


def test_a_crashed_page_is_applied_again_and_counted_once(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_advance = fanout_store.advance
    crashes: list[int] = []

    def crash_once_on_page_1(job: Any, **kwargs: Any) -> bool:
        if job.page == 1 and not crashes:
            crashes.append(job.page)
            raise TimeoutError("the Lambda died after the page's events, before the cursor moved")
        return bool(real_advance(job, **kwargs))

    monkeypatch.setattr(fanout_store, "advance", crash_once_on_page_1)
    automation = _automation(world, made, trigger_type=TriggerType.IMMEDIATE, participant_filter=FILTER)
    started = automation_runs.trigger(Caller(world.org, "test"), world.program, automation.id)
    assert started.execution_status is ExecutionStatus.PENDING and started.participants_total == 0
    stack.drain()  # the stream redelivers page 1's record after the failure
    assert crashes == [1]
    done = _get(world, automation.id)
    assert done.execution_status is ExecutionStatus.COMPLETED
    assert done.participants_total == len(world.selected()) == done.participants_processed
    assert started.execution_started_at is not None
    events_made = _events_by_participant(world, automation.id, started.execution_started_at)
    assert set(events_made) == world.selected() and set(events_made.values()) == {1}


def test_an_immediate_automation_starts_from_its_insert_once(stack: Any, world: _World, made: list[str]) -> None:
    automation = _automation(world, made, trigger_type=TriggerType.IMMEDIATE, execution_status=ExecutionStatus.PENDING)
    record = stream_record("INSERT", automation_store.create_writes(automation)[1].params["Item"])
    # The real INSERT is in the stream too: deliver it again, twice, before and after the drain.
    dispatch = stack.functions[DISPATCH]
    assert dispatch.invoke({"Records": [record, record]}) == {"batchItemFailures": []}
    stack.drain()
    assert dispatch.invoke({"Records": [record]}) == {"batchItemFailures": []}
    run = run_store.get(world.org, automation.id)
    assert run is not None and run.fire_at == automation.created_at
    done = _get(world, automation.id)
    assert done.execution_status is ExecutionStatus.COMPLETED
    assert done.participants_total == PARTICIPANTS - 1  # no filter: every active participant
    events_made = _events_by_participant(world, automation.id, automation.created_at)
    assert len(events_made) == PARTICIPANTS - 1 and set(events_made.values()) == {1}


def test_cancel_stops_a_run_between_pages(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = Caller(world.org, "test")
    automation = _automation(world, made)
    real_advance = fanout_store.advance

    def cancel_after_page_1(job: Any, **kwargs: Any) -> bool:
        advanced = bool(real_advance(job, **kwargs))
        # Only this run's job: another test's job (a periodic refresh) may be drained meanwhile.
        if job.page == 1 and job.payload.get("automation_id") == automation.id:
            cancelled = automation_runs.cancel(caller, world.program, automation.id)
            assert cancelled.execution_status is ExecutionStatus.FAILED and cancelled.execution_error == "canceled"
        return advanced

    monkeypatch.setattr(fanout_store, "advance", cancel_after_page_1)
    started = automation_runs.trigger(caller, world.program, automation.id)
    stack.drain()
    done = _get(world, automation.id)
    assert done.execution_status is ExecutionStatus.FAILED and done.execution_completed_at is not None
    assert done.status is AutomationStatus.ACTIVE  # it fires again at its next trigger
    assert started.execution_started_at is not None
    events_made = _events_by_participant(world, automation.id, started.execution_started_at)
    # Two pages of the program's enrolled participants in id order; the SUSPENDED one, when it
    # falls in them, is no candidate (its place depends on the random ids).
    two_pages = sorted(world.people)[: 2 * fanouts.PAGE_SIZE]
    assert len(events_made) == done.participants_processed == len(two_pages) - (world.people[SUSPENDED] in two_pages)
    job = fanout_store.get(world.org, automation_runs.fanout_id(automation.id, started.execution_started_at))
    assert job is not None and job.status is FanOutStatus.CANCELLED
    with pytest.raises(ValidationFailed):
        automation_runs.cancel(caller, world.program, automation.id)  # nothing running any more
    # It may be triggered again: a new run with its own instant.
    monkeypatch.setattr(fanout_store, "advance", real_advance)
    again = automation_runs.trigger(caller, world.program, automation.id)
    assert again.execution_status is ExecutionStatus.PENDING and again.participants_processed == 0
    stack.drain()
    assert _get(world, automation.id).execution_status is ExecutionStatus.COMPLETED


def test_a_fire_while_a_run_is_going_is_skipped_and_trigger_refused(world: _World, made: list[str]) -> None:
    caller = Caller(world.org, "test")
    fire_at = _minute(clock.now()) - timedelta(minutes=1)
    automation = _automation(
        world, made, cron_expression="* * * * *", next_run_at=fire_at, execution_status=ExecutionStatus.EXECUTING
    )
    report = automation_runs.run_due()
    assert report.skipped >= 1
    after = _get(world, automation.id)
    assert after.next_run_at is not None and after.next_run_at > fire_at  # the schedule moved on
    assert run_store.get(world.org, automation.id) is None  # no run was started
    with pytest.raises(ValidationFailed, match="must be active and idle or cron\\+program"):
        automation_runs.trigger(caller, world.program, automation.id)


def test_hints_are_used_only_when_the_filter_implies_them() -> None:
    tag = FilterHint(FilterHintType.HAS_TAG, "vip")
    attribute = FilterHint(FilterHintType.HAS_ATTRIBUTE, "birthday")
    assert automation_runs.usable_hints('"vip" in participant.tags && x > 1', (tag, attribute)) == (tag,)
    assert automation_runs.usable_hints("has(participant.attributes.birthday)", (tag, attribute)) == (attribute,)
    # Under an "||", or inside a string, the term is not required: the hint would change the result.
    assert automation_runs.usable_hints('"vip" in participant.tags || true', (tag,)) == ()
    assert automation_runs.usable_hints('x == "a && \\"vip\\" in participant.tags"', (tag,)) == ()
    assert automation_runs.usable_hints(None, (tag,)) == ()
    assert automation_runs.top_level_terms('(a && b) && "c&&d"') == ["(a&&b)", '"c&&d"']


def test_an_overlapping_scheduler_run_that_read_the_same_version_fires_nothing_more(
    stack: Any, world: _World, made: list[str]
) -> None:
    fire_at = _minute(clock.now()) - timedelta(minutes=1)
    program_cron = _program_automation(world, made, cron_expression="* * * * *", next_run_at=fire_at)
    people_cron = _automation(world, made, cron_expression="* * * * *", next_run_at=fire_at)
    # The overlapping run read both automations before the first run committed.
    stale = [_get(world, program_cron.id), _get(world, people_cron.id)]
    automation_runs.run_due()
    for automation in stale:
        with pytest.raises(automation_store.StaleAutomation):
            automation_runs._fire(automation, fire_at, clock.now(), automation_runs.SchedulerReport())
    # Its retry re-reads, finds them no longer due at that instant and only drops its entry.
    stack.drain()
    assert event_store.get(world.org, keyed_event_id(world.program, idempotency_key(program_cron.id, fire_at)))
    run = run_store.get(world.org, people_cron.id)
    assert run is not None and run.fanout_id == automation_runs.fanout_id(people_cron.id, fire_at)
    done = _get(world, people_cron.id)
    assert done.execution_status is ExecutionStatus.COMPLETED and done.participants_processed == PARTICIPANTS - 1
    events_made = _events_by_participant(world, people_cron.id, fire_at)
    assert len(events_made) == PARTICIPANTS - 1 and set(events_made.values()) == {1}


def _ended_event(world: _World, automation: Automation, fire_at: datetime, status: str) -> dict[str, Any]:
    """A stream image of a program fire's event that just ended (what the dispatcher passes on)."""
    return {
        "entity": "EVENT",
        "organization_id": world.org,
        "id": str(uuid.uuid4()),
        "program_id": world.program,
        "status": status,
        "event_type": "SYSTEM",
        "idempotency_key": idempotency_key(automation.id, fire_at),
        "error_message": "action CREDIT failed: no" if status == "FAILED" else None,
    }


def test_a_program_fire_s_event_outcome_is_the_automation_s_last_error_counted_once(
    world: _World, made: list[str]
) -> None:
    """The stream delivers at least once: the same event's failure counts one failure however
    often it is seen; five events failed in a row pause the automation; a completion resets."""
    fire_at = _minute(clock.now()) + timedelta(hours=1)
    automation = _program_automation(world, made, cron_expression="0 * * * *", next_run_at=fire_at)
    first = _ended_event(world, automation, fire_at, "FAILED")
    assert automation_runs.on_event_record(first, {"status": "PROCESSING"})
    assert not automation_runs.on_event_record(first, {"status": "PROCESSING"})  # redelivered
    after = _get(world, automation.id)
    assert (
        after.consecutive_failures == 1 and after.last_error == f"event {first['id']} failed: action CREDIT failed: no"
    )
    # Not a program fire's: a fan-out event's key names its participant; an API event is not SYSTEM.
    people_key = {**first, "idempotency_key": idempotency_key(automation.id, fire_at, world.people[0])}
    assert not automation_runs.on_event_record(people_key, {})
    assert not automation_runs.on_event_record(
        {**_ended_event(world, automation, fire_at, "FAILED"), "event_type": None}, {}
    )
    assert automation_runs.on_event_record(_ended_event(world, automation, fire_at, "COMPLETED"), {})
    assert _get(world, automation.id).consecutive_failures == 0 and _get(world, automation.id).last_error is None
    for count in range(1, 6):
        assert automation_runs.on_event_record(_ended_event(world, automation, fire_at, "FAILED"), {})
        assert _get(world, automation.id).consecutive_failures == count
    assert _get(world, automation.id).status is AutomationStatus.PAUSED
