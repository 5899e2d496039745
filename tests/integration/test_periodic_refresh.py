"""The periodic subscription refresh (06 §1.7.9; services/subscriptions.py): the automation
scheduler, run with its real schedule event, starts one refresh per participant_state automation
and due instant, however often or overlapping it runs; a fire while the last one still runs is
skipped; pausing removes the due entry, resuming files it a period on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.automations import Automation, AutomationStatus, ScheduleType, Scope, TriggerType
from scrip.domain.fanouts import FanOutStatus
from scrip.domain.organizations import Caller
from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
from scrip.domain.state import Owner, OwnerKind
from scrip.services import automation_runs, follow_ups, subscriptions
from scrip.services import automations as automation_service
from scrip.services import programs as program_service
from scrip.storage import automations as automation_store
from scrip.storage import fanouts as fanout_store
from scrip.storage import participants as participant_store
from scrip.storage import state as state_store
from scrip.storage import subscriptions as subscription_store
from scrip.storage import table, transactions
from tests.integration.automation_helpers import archive, batch_put, new_automation

SCHEDULER = "AutomationSchedulerFunction"
PERIOD = timedelta(minutes=15)


def _person(org: str, program: str, *, vip: bool) -> str:
    now = clock.now()
    person = new_participant(
        organization_id=org,
        participant_id=str(uuid.uuid4()),
        external_id=f"pr-{uuid.uuid4()}",
        status=ParticipantStatus.ACTIVE,
        profile={},
        now=now,
    )
    writes: list[transactions.Write] = [
        *participant_store.create_writes(person, [program]),
        *participant_store.enrollment_writes(person, program, Enrollment(program, EnrollmentStatus.ACTIVE, now)),
    ]
    if vip:
        writes.append(state_store.tag_add(org, Owner(OwnerKind.PARTICIPANT, person.id), "vip", lambda: ValueError()))
    batch_put(w.params["Item"] for w in writes if w.kind == "Put")
    return person.id


@pytest.fixture
def world(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, list[str]]]:
    monkeypatch.setattr(follow_ups, "dispatch", lambda images: 0)
    org, _, _ = stack.bootstrap_organization(None)
    program = program_service.create_program(Caller(org, "test"), name="Periodic refresh").id
    made: list[str] = []
    yield org, program, made
    archive(org, made)
    stack.drain()


def _due_automation(org: str, program: str, made: list[str], due_at: datetime) -> Automation:
    return new_automation(
        org,
        program,
        made,
        name=f"refresh {uuid.uuid4()}",
        event_name="nudge",
        trigger_type=TriggerType.PARTICIPANT_STATE,
        schedule_type=ScheduleType.INTERVAL,
        schedule_config={"every": 1, "unit": "days"},
        participant_filter='"vip" in participant.tags',
        next_refresh_at=due_at,
    )


def _get(org: str, automation_id: str) -> Automation:
    found = automation_store.get(org, automation_id)
    assert found is not None
    return found


def _has_due_entry(automation: Automation) -> bool:
    key = automation_store.due_entry_key(automation)
    return key is not None and "Item" in table.client().get_item(TableName=table.table_name(), Key=key)


def test_the_scheduler_run_twice_or_overlapping_starts_one_refresh(
    stack: Any, world: tuple[str, str, list[str]]
) -> None:
    org, program, made = world
    vip = _person(org, program, vip=True)
    _person(org, program, vip=False)
    due = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    automation = _due_automation(org, program, made, due)
    stale = _get(org, automation.id)  # an overlapping run read it before the first committed
    assert _has_due_entry(stale)

    first = stack.fire_schedule(SCHEDULER)
    second = stack.fire_schedule(SCHEDULER)
    assert first["refreshes"] >= 1 and second["refreshes"] == 0
    with pytest.raises(automation_store.StaleAutomation):
        automation_runs._fire(stale, due, clock.now(), automation_runs.SchedulerReport())

    job_id = subscriptions.periodic_refresh_id(automation.id, due)
    moved = _get(org, automation.id)
    assert moved.refresh_job_id == job_id and moved.next_refresh_at == due + PERIOD
    assert _has_due_entry(moved) and not _has_due_entry(stale)  # the next entry filed in the same transaction
    stack.drain()
    job = fanout_store.get(org, job_id)
    assert job is not None and job.status is FanOutStatus.COMPLETED
    assert set(subscription_store.get_many(org, automation.id, [vip])) == {vip}
    assert _get(org, automation.id).last_evaluated_at is not None


def test_a_fire_while_the_last_refresh_runs_is_skipped_and_moves_on(
    stack: Any, world: tuple[str, str, list[str]]
) -> None:
    org, program, made = world
    now = clock.now()
    due = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    automation = _due_automation(org, program, made, due)
    assert stack.fire_schedule(SCHEDULER)["refreshes"] >= 1
    # Before the job ran (no drain), the automation falls due again: that fire is skipped.
    current = _get(org, automation.id)
    again = due + timedelta(seconds=30)
    automation_store.save(current, replace(current, next_refresh_at=again, version=current.version + 1))
    report = automation_runs.SchedulerReport()
    automation_runs._fire(_get(org, automation.id), again, clock.now(), report)
    assert (report.refreshes, report.skipped) == (0, 1)
    assert fanout_store.get(org, subscriptions.periodic_refresh_id(automation.id, again)) is None
    after = _get(org, automation.id)
    assert after.refresh_job_id == subscriptions.periodic_refresh_id(automation.id, due)
    assert after.next_refresh_at is not None and after.next_refresh_at > now
    # A scheduler late by several periods refreshes once, on the cadence.
    assert subscriptions.next_refresh(due, due + 3 * PERIOD + timedelta(seconds=1)) == due + 4 * PERIOD
    assert subscriptions.next_refresh(due, due) == due + PERIOD


def test_pause_removes_the_due_entry_and_resume_files_it_a_period_on(
    stack: Any, world: tuple[str, str, list[str]]
) -> None:
    org, program, made = world
    caller = Caller(org, "test")
    created = automation_service.create_automation(
        caller,
        program,
        {
            "name": f"refresh {uuid.uuid4()}",
            "event_name": "nudge",
            "scope": Scope.PARTICIPANTS,
            "trigger": {
                "type": "participant_state",
                "schedule_type": "INTERVAL",
                "schedule_config": {"every": 1, "unit": "days"},
            },
        },
    )
    made.append(created.id)
    assert created.next_refresh_at == created.created_at + PERIOD and _has_due_entry(created)
    paused = automation_service.update_automation(caller, program, created.id, {"status": "paused"})
    assert paused.next_refresh_at is None and paused.status is AutomationStatus.PAUSED
    assert not _has_due_entry(created)
    before = clock.now()
    resumed = automation_service.update_automation(caller, program, created.id, {"status": "active"})
    assert resumed.next_refresh_at is not None and resumed.next_refresh_at >= before + PERIOD
    assert _has_due_entry(resumed)
    automation_service.archive_automation(caller, program, created.id)
    assert not _has_due_entry(resumed)
    stack.drain()


def test_the_period_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIP_SUBSCRIPTION_REFRESH_SECONDS", "3600")
    assert subscriptions.refresh_period() == timedelta(hours=1)
    monkeypatch.setenv("SCRIP_SUBSCRIPTION_REFRESH_SECONDS", "30")
    with pytest.raises(ValueError, match="SCRIP_SUBSCRIPTION_REFRESH_SECONDS"):
        subscriptions.refresh_period()
