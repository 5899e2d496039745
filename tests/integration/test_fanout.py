"""The paged, resumable fan-out (services/fanouts.py) over ~1,000 enrolled participants.

The real stream drives it: the job item's INSERT and each cursor advance (MODIFY) reach
StreamDispatchFunction as stream records, one page per record. Faults are injected where a
Lambda can die (after a page's work, before its advance), a stale page record is delivered
again, and a cancel lands between pages. Whatever happens, each participant gets at most one
BROADCAST event, and exactly one when the job completes.

The generated events are not processed here (their processing is the event tests' subject):
the dispatcher's queueing is stubbed while the fan-out runs, and the events are deleted after
each test, so no later test's drain or sweep inherits a thousand of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from scrip.domain import clock
from scrip.domain.events import event_id as keyed_event_id
from scrip.domain.fanouts import FanOut, FanOutKind, FanOutStatus
from scrip.domain.organizations import Caller
from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
from scrip.services import fanouts, follow_ups
from scrip.services import programs as program_service
from scrip.storage import events as event_store
from scrip.storage import fanouts as fanout_store
from scrip.storage import keys, table, transactions
from scrip.storage import participants as participant_store

DISPATCH = "StreamDispatchFunction"
PARTICIPANTS = 1_000


class _World:
    def __init__(self, org: str, program: str, people: list[str]) -> None:
        self.org, self.program, self.people = org, program, people


def _batch_put(items: list[dict[str, Any]]) -> None:
    client = table.client()
    for start in range(0, len(items), 25):
        request = {table.table_name(): [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


@pytest.fixture(scope="module")
def world(stack: Any) -> _World:
    """An organization whose program has 1,000 enrolled participants (one of them CLOSED), and a
    participant enrolled elsewhere: written in batches, the service's upsert would take a minute."""
    org, _, _ = stack.bootstrap_organization(None)
    caller = Caller(org, "test")
    program = program_service.create_program(caller, name="Fan-out").id
    elsewhere = program_service.create_program(caller, name="Elsewhere").id
    now = clock.now()
    items: list[dict[str, Any]] = []
    people = []
    for i in range(PARTICIPANTS + 1):
        person = new_participant(
            organization_id=org,
            participant_id=str(uuid.uuid4()),
            external_id=f"fan-{i}",
            status=ParticipantStatus.CLOSED if i == 7 else ParticipantStatus.ACTIVE,
            profile={},
            now=now,
        )
        enrolled_in = elsewhere if i == PARTICIPANTS else program
        writes: list[transactions.Write] = [
            *participant_store.create_writes(person, [enrolled_in]),
            *participant_store.enrollment_writes(
                person, enrolled_in, Enrollment(enrolled_in, EnrollmentStatus.ACTIVE, now)
            ),
        ]
        items += [w.params["Item"] for w in writes if w.kind == "Put"]
        people.append(person.id)
    _batch_put(items)
    return _World(org, program, people)


class _Made:
    """What a test started: its jobs, and the keys of the events they may create."""

    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.events: list[dict[str, str]] = []


@pytest.fixture
def quiet_events(stack: Any, world: _World, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Made]:
    """Stub the dispatcher's queueing of the generated events; afterwards stop the test's jobs,
    deliver what the stream still holds (queueing still stubbed) and delete the events, so the
    next test's drain inherits none of it."""
    monkeypatch.setattr(follow_ups, "dispatch", lambda images: 0)
    made = _Made()
    yield made
    for job in made.jobs:
        fanouts.cancel(world.org, job)
    stack.drain()
    client = table.client()
    for start in range(0, len(made.events), 25):
        request: dict[str, Any] = {
            table.table_name(): [{"DeleteRequest": {"Key": k}} for k in made.events[start : start + 25]]
        }
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def _start(world: _World, made: _Made) -> tuple[str, str]:
    prefix = f"bcast:{uuid.uuid4()}"
    job = fanouts.start(
        world.org,
        kind=FanOutKind.BROADCAST,
        program_id=world.program,
        payload={"source_event_id": str(uuid.uuid4()), "key_prefix": prefix, "event_data": {"type": "promo"}},
    )
    made.jobs.append(job)
    made.events.extend(
        {"PK": keys.event(world.org, keyed_event_id(world.program, f"{prefix}:{p}")), "SK": keys.ENTITY_SK}
        for p in world.people
    )
    return job, prefix


def _events_of(world: _World, prefix: str) -> dict[str, int]:
    """How many events exist per participant for this broadcast (the key names the event)."""
    found: dict[str, int] = {}
    ids = {keyed_event_id(world.program, f"{prefix}:{p}"): p for p in world.people}
    for event in event_store._get_many(world.org, list(ids)).values():
        assert event.origin_event_id and event.broadcast
        found[ids[event.id]] = found.get(ids[event.id], 0) + 1
    return found


def _record(job: FanOut, event_name: str = "MODIFY") -> dict[str, Any]:
    """The stream record DynamoDB emits for the job's item as ``job`` shows it."""
    image = {k: TypeSerializer().serialize(v) for k, v in fanout_store.start_writes(job)[0].params["Item"].items()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"PK": image["PK"], "SK": image["SK"]},
            "NewImage": image,
            "SequenceNumber": str(uuid.uuid4().int)[:20],
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
    }


def _expected(world: _World) -> set[str]:
    return {p for i, p in enumerate(world.people[:PARTICIPANTS]) if i != 7}


def test_a_broadcast_reaches_every_enrolled_participant_once_in_pages(
    stack: Any, world: _World, quiet_events: _Made
) -> None:
    calls: list[tuple[str, int, int]] = []  # (job, page, effects created)
    real_run_page = fanouts.run_page

    def counting(org: str, fanout_id: str, page: int) -> int:
        created = real_run_page(org, fanout_id, page)
        calls.append((fanout_id, page, created))
        return created

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanouts, "run_page", counting)
        job_id, prefix = _start(world, quiet_events)
        stack.drain()
    # Only this job's pages: the drain may also run what an earlier test left in the stream.
    calls_of_job = [(page, created) for job, page, created in calls if job == job_id]

    job = fanout_store.get(world.org, job_id)
    assert job is not None and job.status is FanOutStatus.COMPLETED
    assert job.participants_processed == PARTICIPANTS
    pages = PARTICIPANTS // fanouts.PAGE_SIZE
    assert [page for page, created in calls_of_job if created] == list(range(pages))  # one invocation per page
    # Beside them at most the record of the finished job, which the stream filter lets through
    # (its patterns are shared by several entities) and which creates nothing.
    assert len(calls_of_job) <= pages + 1
    events = _events_of(world, prefix)
    assert set(events) == _expected(world)  # the CLOSED one and the other program's get none
    assert set(events.values()) == {1}


def test_a_crash_after_a_pages_work_loses_nothing_and_repeats_nothing(
    stack: Any, world: _World, quiet_events: _Made
) -> None:
    real_advance = fanout_store.advance
    crashes: list[int] = []

    def crash_once_on_page_4(job: FanOut, **kwargs: Any) -> bool:
        if job.page == 4 and not crashes:
            crashes.append(job.page)
            raise TimeoutError("the Lambda died after the page's events, before the cursor moved")
        return real_advance(job, **kwargs)

    created: list[int] = []
    real_work = fanouts.WORK[FanOutKind.BROADCAST]

    def counting(job: FanOut, ids: list[str]) -> int:
        created.append(real_work(job, ids))
        return created[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanout_store, "advance", crash_once_on_page_4)
        patch.setitem(fanouts.WORK, FanOutKind.BROADCAST, counting)
        job_id, prefix = _start(world, quiet_events)
        stack.drain()  # the stream redelivers page 4's record after the failure

    job = fanout_store.get(world.org, job_id)
    assert crashes == [4]
    assert job is not None and job.status is FanOutStatus.COMPLETED
    assert job.participants_processed == PARTICIPANTS
    # page 4 ran twice; its second run created nothing
    assert len(created) == PARTICIPANTS // fanouts.PAGE_SIZE + 1 and created[5] == 0
    assert sum(created) == len(_expected(world))
    events = _events_of(world, prefix)
    assert set(events) == _expected(world) and set(events.values()) == {1}


def test_a_duplicated_or_stale_page_record_does_nothing(stack: Any, world: _World, quiet_events: _Made) -> None:
    job_id, prefix = _start(world, quiet_events)
    first = fanout_store.get(world.org, job_id)
    assert first is not None
    dispatch = stack.functions[DISPATCH]
    # The INSERT record delivered twice in one batch, then once more after the page advanced.
    assert dispatch.invoke({"Records": [_record(first, "INSERT"), _record(first, "INSERT")]}) == {
        "batchItemFailures": []
    }
    assert dispatch.invoke({"Records": [_record(first, "INSERT")]}) == {"batchItemFailures": []}
    after = fanout_store.get(world.org, job_id)
    assert after is not None and after.page == 1 and after.participants_processed == fanouts.PAGE_SIZE
    assert len(_events_of(world, prefix)) <= fanouts.PAGE_SIZE

    stack.drain()
    done = fanout_store.get(world.org, job_id)
    assert done is not None and done.status is FanOutStatus.COMPLETED
    assert done.participants_processed == PARTICIPANTS
    events = _events_of(world, prefix)
    assert set(events) == _expected(world) and set(events.values()) == {1}


def test_two_deliveries_of_one_page_racing_advance_it_once(world: _World, quiet_events: _Made) -> None:
    """Both read the job at page 0 and did the page's work; only one advance may count it."""
    job_id, _ = _start(world, quiet_events)
    job = fanout_store.get(world.org, job_id)
    assert job is not None
    now = clock.now()
    assert fanout_store.advance(job, cursor="a", processed=100, finished=False, now=now)
    assert not fanout_store.advance(job, cursor="a", processed=100, finished=False, now=now)
    again = fanout_store.get(world.org, job_id)
    assert again is not None and again.page == 1 and again.participants_processed == 100


def test_cancel_stops_the_fan_out_between_pages(stack: Any, world: _World, quiet_events: _Made) -> None:
    real_advance = fanout_store.advance

    def cancel_after_page_2(job: FanOut, **kwargs: Any) -> bool:
        advanced = real_advance(job, **kwargs)
        if job.page == 2:
            assert fanouts.cancel(job.organization_id, job.id)
        return advanced

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanout_store, "advance", cancel_after_page_2)
        job_id, prefix = _start(world, quiet_events)
        stack.drain()

    job = fanout_store.get(world.org, job_id)
    assert job is not None and job.status is FanOutStatus.CANCELLED
    assert job.page == 3 and job.participants_processed == 3 * fanouts.PAGE_SIZE
    events = _events_of(world, prefix)
    assert len(events) == 3 * fanouts.PAGE_SIZE - (1 if _closed_in_first_pages(world, job) else 0)
    assert set(events.values()) == {1}
    assert not fanouts.cancel(world.org, job_id)  # already stopped
    # a late record of the cancelled job does nothing
    assert stack.functions[DISPATCH].invoke({"Records": [_record(job)]}) == {"batchItemFailures": []}
    assert len(_events_of(world, prefix)) == len(events)


def test_a_cancel_during_a_page_stops_its_advance(world: _World, quiet_events: _Made) -> None:
    job_id, _ = _start(world, quiet_events)
    real_work = fanouts.WORK[FanOutKind.BROADCAST]

    def cancelled_meanwhile(job: FanOut, ids: list[str]) -> int:
        assert fanouts.cancel(job.organization_id, job.id)
        return real_work(job, ids)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(fanouts.WORK, FanOutKind.BROADCAST, cancelled_meanwhile)
        fanouts.run_page(world.org, job_id, 0)
    job = fanout_store.get(world.org, job_id)
    assert job is not None and job.status is FanOutStatus.CANCELLED and job.page == 0
    assert job.participants_processed == 0


def _closed_in_first_pages(world: _World, job: FanOut) -> bool:
    """Whether the CLOSED participant sits before the job's cursor (the list is in id order)."""
    return job.cursor is not None and world.people[7] <= job.cursor
