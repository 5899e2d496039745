"""participant_state subscriptions (services/subscriptions.py) with the real scheduler and stream
shapes: the create's refresh from its INSERT record (delivered again), the fire pass run twice
and after a crash between the event and the save, a counter's history line delivered twice.
Whatever happens, each subscription fires one event per instant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.automations import (
    Automation,
    ScheduleType,
    TriggerType,
    idempotency_key,
)
from scrip.domain.errors import ValidationFailed
from scrip.domain.events import event_id as keyed_event_id
from scrip.domain.fanouts import FanOutStatus
from scrip.domain.organizations import Caller
from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
from scrip.domain.state import Counter, Owner, OwnerKind
from scrip.domain.subscriptions import Subscription, SubscriptionStatus
from scrip.services import events, fanouts, follow_ups, subscriptions
from scrip.services import programs as program_service
from scrip.storage import automations as automation_store
from scrip.storage import events as event_store
from scrip.storage import keys, transactions
from scrip.storage import participants as participant_store
from scrip.storage import state as state_store
from scrip.storage import subscriptions as subscription_store
from tests.integration.automation_helpers import archive, batch_put, new_automation, stream_record

SCHEDULER = "AutomationSchedulerFunction"
DISPATCH = "StreamDispatchFunction"
PARTICIPANTS = 40


class _World:
    def __init__(self, org: str, program: str, people: list[str]) -> None:
        self.org, self.program, self.people = org, program, people

    def vips(self) -> set[str]:
        return {p for i, p in enumerate(self.people) if i % 2 == 0}


@pytest.fixture
def world(stack: Any) -> _World:
    org, _, _ = stack.bootstrap_organization(None)
    program = program_service.create_program(Caller(org, "test"), name="Subscriptions").id
    now = clock.now()
    people = []
    for i in range(PARTICIPANTS):
        person = new_participant(
            organization_id=org,
            participant_id=str(uuid.uuid4()),
            external_id=f"sub-{i}",
            status=ParticipantStatus.ACTIVE,
            profile={},
            now=now,
        )
        owner = Owner(OwnerKind.PARTICIPANT, person.id)
        writes: list[transactions.Write] = [
            *participant_store.create_writes(person, [program]),
            *participant_store.enrollment_writes(person, program, Enrollment(program, EnrollmentStatus.ACTIVE, now)),
            state_store.counter_put(org, owner, Counter("purchases", Decimal(5), None, None), None),
        ]
        if i % 2 == 0:
            writes.append(state_store.tag_add(org, owner, "vip", lambda: ValueError("tag")))
        batch_put(w.params["Item"] for w in writes if w.kind == "Put")
        people.append(person.id)
    return _World(org, program, people)


@pytest.fixture
def made(stack: Any, world: _World, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Stub the queueing of generated events; afterwards archive the test's automations."""
    monkeypatch.setattr(follow_ups, "dispatch", lambda images: 0)
    automations: list[str] = []
    yield automations
    archive(world.org, automations)
    stack.drain()


def _automation(world: _World, made: list[str], schedule_type: ScheduleType, config: dict[str, Any]) -> Automation:
    return new_automation(
        world.org,
        world.program,
        made,
        name=f"sub {uuid.uuid4()}",
        event_name="nudge",
        trigger_type=TriggerType.PARTICIPANT_STATE,
        schedule_type=schedule_type,
        schedule_config=config,
        participant_filter='"vip" in participant.tags',
    )


def _subscriptions(world: _World, automation_id: str) -> dict[str, Subscription]:
    return subscription_store.get_many(world.org, automation_id, world.people)


def _events(world: _World, automation_id: str, fire_at: datetime) -> dict[str, int]:
    ids = {keyed_event_id(world.program, idempotency_key(automation_id, fire_at, p)): p for p in world.people}
    found: dict[str, int] = {}
    for event in event_store._get_many(world.org, list(ids)).values():
        assert event.event_timestamp == fire_at
        found[ids[event.id]] = found.get(ids[event.id], 0) + 1
    return found


def _make_due(world: _World, automation_id: str, fire_at: datetime) -> None:
    """Move every active subscription's next trigger to ``fire_at`` (its due entry moves too)."""
    for current in _subscriptions(world, automation_id).values():
        if current.status is SubscriptionStatus.ACTIVE:
            due = replace(current, next_trigger_at=fire_at, version=current.version + 1)
            subscription_store.save(current, due)


def test_the_create_refresh_runs_once_and_the_fire_pass_fires_once_per_instant(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    automation = _automation(world, made, ScheduleType.INTERVAL, {"every": 1, "unit": "hours"})
    insert = stream_record("INSERT", automation_store.create_writes(automation)[1].params["Item"])
    dispatch = stack.functions[DISPATCH]
    # The real INSERT is in the stream too: deliver it again, before and after the drain.
    assert dispatch.invoke({"Records": [insert, insert]}) == {"batchItemFailures": []}
    stack.drain()
    assert dispatch.invoke({"Records": [insert]}) == {"batchItemFailures": []}
    stack.drain()
    subscribed = _subscriptions(world, automation.id)
    assert set(subscribed) == world.vips()
    assert {s.version for s in subscribed.values()} == {1}  # one refresh applied, once
    stored = automation_store.get(world.org, automation.id)
    assert stored is not None and stored.last_evaluated_at is not None

    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    _make_due(world, automation.id, fire_at)
    # A crash between a fire's event and its save, for the first few subscriptions: their entries
    # stay, the next pass fires them again under the same key, which replays.
    real_save = subscription_store.save
    crashes = {"left": 5}

    def crash_after_event(before: Any, after: Any) -> None:
        if crashes["left"] > 0 and after.trigger_count == 1:
            crashes["left"] -= 1
            raise RuntimeError("Lambda timed out")
        real_save(before, after)

    monkeypatch.setattr(subscription_store, "save", crash_after_event)
    first = stack.fire_schedule(SCHEDULER)["subscriptions"]
    assert first["jobs_started"] >= 1  # the tick fires nothing itself: the shard-hours' jobs do
    stack.drain()
    assert set(_events(world, automation.id, fire_at)) == world.vips()  # events generated, five saves lost
    assert sum(s.trigger_count for s in _subscriptions(world, automation.id).values()) == len(world.vips()) - 5
    second = stack.fire_schedule(SCHEDULER)["subscriptions"]
    assert second["jobs_started"] >= 1  # the five entries left: their jobs start again and replay them
    stack.drain()
    third = stack.fire_schedule(SCHEDULER)["subscriptions"]
    assert third == {"jobs_started": 0, "jobs_running": 0}
    made_events = _events(world, automation.id, fire_at)
    assert set(made_events) == world.vips() and set(made_events.values()) == {1}
    after = _subscriptions(world, automation.id)
    assert {s.trigger_count for s in after.values()} == {1}
    assert all(s.next_trigger_at is not None and s.next_trigger_at > clock.now() for s in after.values())


def test_an_overlapping_pass_that_read_the_same_version_fires_nothing_more(
    stack: Any, world: _World, made: list[str]
) -> None:
    automation = _automation(world, made, ScheduleType.INTERVAL, {"every": 1, "unit": "days"})
    stack.drain()
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    _make_due(world, automation.id, fire_at)
    stale = list(_subscriptions(world, automation.id).values())
    subscriptions.fire_due()
    stack.drain()
    for current in stale:
        report = subscriptions.FireReport()
        after = subscriptions._fired(current, fire_at, clock.now(), report)
        with pytest.raises(subscription_store.StaleSubscription):
            subscription_store.save(current, after)
    made_events = _events(world, automation.id, fire_at)
    assert set(made_events) == world.vips() and set(made_events.values()) == {1}


def test_a_counter_line_delivered_twice_fires_a_threshold_once(stack: Any, world: _World, made: list[str]) -> None:
    automation = _automation(
        world, made, ScheduleType.THRESHOLD, {"counter": "purchases", "operator": ">", "threshold": 5}
    )
    stack.drain()
    who = sorted(world.vips())[0]
    changed_at = clock.now()
    line = {
        "PK": keys.state_history(keys.participant(world.org, who)),
        "SK": f"{clock.to_rfc3339(changed_at)}#{uuid.uuid4()}",
        "entity": "STATE_CHANGE",
        "state_type": "counter",
        "key": "purchases",
        "operation": "set",
        "old_value": "5",
        "new_value": "6",
        "changed_at": clock.to_rfc3339(changed_at),
    }
    dispatch = stack.functions[DISPATCH]
    assert dispatch.invoke({"Records": [stream_record("INSERT", line), stream_record("INSERT", line)]}) == {
        "batchItemFailures": []
    }
    assert dispatch.invoke({"Records": [stream_record("INSERT", line)]}) == {"batchItemFailures": []}
    fired = _subscriptions(world, automation.id)[who]
    assert fired.status is SubscriptionStatus.COMPLETED and fired.trigger_count == 1
    assert _events(world, automation.id, changed_at) == {who: 1}
    # Another counter, or another participant's line, fires nothing.
    other = sorted(world.vips())[1]
    assert _subscriptions(world, automation.id)[other].status is SubscriptionStatus.ACTIVE
    elsewhere = {**line, "key": "logins", "PK": keys.state_history(keys.participant(world.org, other))}
    assert dispatch.invoke({"Records": [stream_record("INSERT", elsewhere)]}) == {"batchItemFailures": []}
    assert _subscriptions(world, automation.id)[other].trigger_count == 0


def test_a_fire_that_cannot_generate_its_event_is_retried_then_fails(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    automation = _automation(world, made, ScheduleType.INTERVAL, {"every": 1, "unit": "days"})
    stack.drain()
    who = sorted(world.vips())[0]

    def refuse(org: str, submission: Any, **kwargs: Any) -> Any:
        raise ValidationFailed("event refused", field="event_data")

    monkeypatch.setattr(events, "ingest", refuse)
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    current = _subscriptions(world, automation.id)[who]
    subscription_store.save(current, replace(current, next_trigger_at=fire_at, version=current.version + 1))
    for attempt in (1, 2, 3):
        assert subscriptions.fire_due(clock.now() + timedelta(minutes=60 * attempt)).started >= 1
        stack.drain()
        failing = _subscriptions(world, automation.id)[who]
        assert failing.retry_count == attempt and failing.last_error == "event refused"
    assert failing.status is SubscriptionStatus.FAILED and failing.next_trigger_at is None
    subscriptions.fire_due(clock.now() + timedelta(hours=4))
    stack.drain()
    assert _subscriptions(world, automation.id)[who] == failing  # out of the due index


class _LambdaDied(BaseException):
    """A timeout or crash: nothing of the page's own error handling runs (not an ``Exception``)."""


def test_a_fire_job_crashed_mid_page_fires_each_subscription_once(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fire pass as a job per shard-hour, paged: a page that dies after some of its fires is
    applied again from the same cursor (the stream redelivers its record), and every due
    subscription gets exactly one event for the instant."""
    monkeypatch.setattr(subscriptions, "FIRE_PAGE_SIZE", 3)
    monkeypatch.setattr(subscription_store, "SHARDS", 1)  # every entry in one shard-hour: pages of 3
    automation = _automation(world, made, ScheduleType.INTERVAL, {"every": 1, "unit": "days"})
    stack.drain()
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    _make_due(world, automation.id, fire_at)
    real_fire = subscriptions._fire_entry
    fires = {"n": 0}

    def dies_on_the_fifth_fire(*args: Any, **kwargs: Any) -> None:
        fires["n"] += 1
        if fires["n"] == 5:  # the second fire of the second page
            raise _LambdaDied
        real_fire(*args, **kwargs)

    monkeypatch.setattr(subscriptions, "_fire_entry", dies_on_the_fifth_fire)
    subscriptions.fire_due()
    # The jobs' pages, as the dispatcher runs them from each RUNNING record, redelivering a page
    # whose invocation died (its job did not advance, so the same record shows the same page).
    job_id = subscriptions.fire_job_id(subscription_store.due_partition(fire_at, 0))
    died, pages = 0, 0
    for _ in range(100):
        job = fanouts.get(subscriptions.FIRE_JOBS_OWNER, job_id)
        assert job is not None
        if job.status is not FanOutStatus.RUNNING:
            break
        try:
            fanouts.run_page(subscriptions.FIRE_JOBS_OWNER, job_id, job.page)
            pages += 1
        except _LambdaDied:
            died += 1
    assert died == 1 and pages >= len(world.vips()) // 3  # every page bounded, the died one applied again
    made_events = _events(world, automation.id, fire_at)
    assert set(made_events) == world.vips() and set(made_events.values()) == {1}
    assert {s.trigger_count for s in _subscriptions(world, automation.id).values()} == {1}


def test_a_fire_job_whose_record_was_lost_is_driven_again(
    stack: Any, world: _World, made: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job left RUNNING without a record to drive it (dead-lettered after the dispatcher's
    retries) is written again by a tick once it has not moved for ``FIRE_JOB_STALLED``."""
    automation = _automation(world, made, ScheduleType.INTERVAL, {"every": 1, "unit": "days"})
    stack.drain()
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    _make_due(world, automation.id, fire_at)
    real_run_page = fanouts.run_page
    monkeypatch.setattr(fanouts, "run_page", lambda *args, **kwargs: 0)  # the records are lost
    assert subscriptions.fire_due().started >= 1
    stack.drain()
    monkeypatch.setattr(fanouts, "run_page", real_run_page)
    assert _events(world, automation.id, fire_at) == {}
    assert subscriptions.fire_due().running >= 1  # still RUNNING, not yet stalled: left alone
    stack.drain()
    assert _events(world, automation.id, fire_at) == {}
    subscriptions.fire_due(clock.now() + subscriptions.FIRE_JOB_STALLED + timedelta(minutes=1))
    stack.drain()
    made_events = _events(world, automation.id, fire_at)
    assert set(made_events) == world.vips() and set(made_events.values()) == {1}
