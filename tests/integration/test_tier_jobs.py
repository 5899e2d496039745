"""The tier lifecycle job (services/tier_jobs.py) under repeated, overlapping and crashing runs.

The job is invoked as EventBridge invokes it (``fire_schedule``: a real scheduled event), the
period-end fan-out is driven by the real stream records of its job item. Whatever repeats or
dies, each lapse is applied once and each participant's counters roll over once.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrip.domain.fanouts import FanOut, FanOutStatus
from scrip.services import fanouts, tier_jobs
from scrip.storage import fanouts as fanout_store
from scrip.storage import keys, table
from scrip.storage import tiers as tier_store
from scrip_local.stack import LocalStack
from tests.api.test_tier_lifecycle import THREE_LEVELS, _Program
from tests.conftest import Api

JOB = "TierJobsFunction"


def _move_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str((moment - datetime.now(UTC)).total_seconds()))


def test_repeated_and_overlapping_runs_apply_each_lapse_once(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = copy.deepcopy(THREE_LEVELS)
    body["lifecycle"] = {
        "retention": {"mode": "ACTIVITY_REFRESH", "duration": "24h"},
        "downgrade_policy": {"mode": "DROP_ONE"},
    }
    program = _Program(api, body)
    lapsing = [program.participant("gold", nights=0) for _ in range(4)]
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    explicit = [program.participant("gold", nights=0, expires_at=soon) for _ in range(3)]

    # After the explicit expiries and the 1-day inactivity window, before a second window ends.
    _move_clock(monkeypatch, datetime.now(UTC) + timedelta(days=1, hours=3))
    reports: list[dict[str, Any]] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        reports.append(stack.fire_schedule(JOB))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports.append(stack.fire_schedule(JOB))  # and once more after them

    for person in lapsing:
        got = program.level(person)
        assert got is not None and got["level"] == "silver"  # DROP_ONE, one rank, once
        assert program.history(person) == [(None, "gold"), ("gold", "silver")]
    for person in explicit:
        assert program.level(person) is None
        assert program.history(person) == [(None, "gold"), ("gold", None)]


def test_a_crash_inside_and_after_a_period_end_page_loses_nothing_and_repeats_nothing(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _Program(api, THREE_LEVELS)
    keeps = [program.participant("gold", nights=45) for _ in range(5)]
    drops = [program.participant("gold", nights=25) for _ in range(3)]
    boundary = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    tier = tier_store.require(api.organization_id, program.id, "status").tier
    fanout_id = tier_jobs.period_fanout_id(tier, boundary)

    monkeypatch.setattr(fanouts, "PAGE_SIZE", 3)
    real_evaluate, real_advance = tier_jobs._evaluate, fanout_store.advance
    evaluations: list[int] = []
    crashes: list[str] = []

    def evaluate_crashing_mid_page(*args: Any) -> int:
        evaluations.append(1)
        if len(evaluations) == 5 and not crashes:  # the second participant of the second page
            crashes.append("inside page 1")
            raise TimeoutError("the Lambda died in the middle of a page")
        return real_evaluate(*args)

    def advance_crashing_after_page_2(job: FanOut, **kwargs: Any) -> bool:
        if job.id == fanout_id and job.page == 2 and len(crashes) == 1:
            crashes.append("after page 2")
            raise TimeoutError("the Lambda died after the page's work, before the cursor moved")
        return real_advance(job, **kwargs)

    monkeypatch.setattr(tier_jobs, "_evaluate", evaluate_crashing_mid_page)
    monkeypatch.setattr(fanout_store, "advance", advance_crashing_after_page_2)
    _move_clock(monkeypatch, boundary + timedelta(minutes=1))
    stack.fire_schedule(JOB)
    stack.fire_schedule(JOB)  # an overlapping or repeated run starts no second fan-out
    stack.drain()  # the stream redelivers the failed pages' records

    assert crashes == ["inside page 1", "after page 2"]
    job = fanout_store.get(api.organization_id, fanout_id)
    assert job is not None and job.status is FanOutStatus.COMPLETED and job.participants_processed == 8
    # Each participant rolled over once (EXCESS applied twice would leave 0), lapsed once.
    assert {program.nights(p) for p in keeps + drops} == {"5"}
    for person in keeps:
        assert program.level(person)["level"] == "gold"  # type: ignore[index]
        assert program.history(person) == [(None, "gold")]
    for person in drops:
        assert program.level(person)["level"] == "silver"  # type: ignore[index]
        assert program.history(person) == [(None, "gold"), ("gold", "silver")]
    # The next boundary is filed, this one cleared.
    assert _period_entries(api, program.id, boundary) == []
    assert len(_period_entries(api, program.id, boundary.replace(year=boundary.year + 1))) == 1


def _period_entries(api: Api, program_id: str, boundary: datetime) -> list[dict[str, Any]]:
    partition = keys.program_tiers(api.organization_id, program_id)
    shard = keys.shard_of(partition + "status", tier_store.DUE_SHARDS)
    response = table.client().query(
        TableName=table.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": keys.tiers_due(boundary.strftime("%Y-%m-%dT%H"), shard)},
    )
    return [i for i in response["Items"] if i.get("program_id") == program_id and i.get("due_kind") == "PERIOD"]


def test_a_change_committed_while_the_job_plans_wins(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job read the level, then a manual assignment (or an event's upgrade) committed before
    its write: the job's write fails on the level's version, its retry finds the entry's expiry
    gone and drops it. The later assignment stands."""
    program = _Program(api, THREE_LEVELS)
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    person = program.participant("silver", nights=0, expires_at=soon)
    real = tier_jobs.level_change_writes
    raced: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        writes = real(*args, **kwargs)
        if not raced and args[4] is None:  # the job is about to remove the level
            raced.append(1)
            assert api.put(program.url(person), json={"level": "gold"}).status_code == 200
        return writes

    monkeypatch.setattr(tier_jobs, "level_change_writes", racing)
    _move_clock(monkeypatch, datetime.now(UTC) + timedelta(hours=2))
    stack.fire_schedule(JOB)

    assert raced == [1]
    got = program.level(person)
    assert got is not None and got["level"] == "gold"
    assert program.history(person) == [(None, "silver"), ("silver", "gold")]
