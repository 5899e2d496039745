"""The automation model's pure rules (06 §1.1, §1.4, §1.7.4, §1.9): no storage, no HTTP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scrip.domain import automations
from scrip.domain.automations import (
    AutomationArchived,
    AutomationStatus,
    ExecutionStatus,
    FilterHint,
    FilterHintType,
    Scope,
    TriggerType,
    apply_update,
    generated_event_data,
    idempotency_key,
    new_automation,
)
from scrip.domain.errors import ValidationFailed

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def _new(trigger: dict[str, Any], scope: Scope = Scope.PARTICIPANTS, **fields: Any) -> automations.Automation:
    return new_automation(
        organization_id="o",
        program_id="p",
        automation_id="a",
        now=NOW,
        name="n",
        event_name="bonus",
        scope=scope,
        trigger=trigger,
        **fields,
    )


CRON = {"type": "cron", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin"}


def test_generated_event_data_merges_the_payload_and_event_name_wins() -> None:
    automation = _new(CRON, payload={"amount": 5, "type": "spoofed"})
    assert generated_event_data(automation) == {"amount": 5, "type": "bonus"}
    assert generated_event_data(dataclasses.replace(automation, payload=None)) == {"type": "bonus"}
    assert automation.payload == {"amount": 5, "type": "spoofed"}  # not mutated


def test_idempotency_key_is_deterministic_per_fire_and_participant() -> None:
    fire = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)
    assert idempotency_key("a1", fire) == "automation:a1:2026-04-01T07:00:00.000000Z"
    assert idempotency_key("a1", fire, "p9") == "automation:a1:2026-04-01T07:00:00.000000Z:p9"
    berlin = fire.astimezone(ZoneInfo("Europe/Berlin"))  # the same instant names the same key
    assert idempotency_key("a1", berlin) == idempotency_key("a1", fire)


def test_a_cron_computes_next_run_at_in_its_zone_and_is_due_then() -> None:
    automation = _new(CRON)
    assert automation.next_run_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # after the DST change: CEST
    assert automation.due_at == automation.next_run_at
    assert automation.execution_status is ExecutionStatus.IDLE and automation.participants_total == 0


def test_program_scope_has_no_fan_out_state() -> None:
    automation = _new(CRON, Scope.PROGRAM)
    assert automation.execution_status is None and automation.participants_total is None


def test_immediate_is_pending_and_never_due() -> None:
    automation = _new({"type": "immediate"})
    assert automation.execution_status is ExecutionStatus.PENDING and automation.due_at is None


def test_one_time_is_due_until_processed_and_only_while_active() -> None:
    at = NOW - timedelta(days=1)
    automation = _new({"type": "one_time", "trigger_at": at}, Scope.PROGRAM)
    assert automation.due_at == at
    assert dataclasses.replace(automation, processed_at=NOW).due_at is None
    assert dataclasses.replace(automation, status=AutomationStatus.PAUSED).due_at is None


@pytest.mark.parametrize("trigger_type", [TriggerType.IMMEDIATE, TriggerType.PARTICIPANT_STATE])
def test_participants_only_triggers_refuse_program_scope(trigger_type: TriggerType) -> None:
    with pytest.raises(ValidationFailed) as failure:
        _new({"type": trigger_type}, Scope.PROGRAM)
    assert failure.value.details is not None and failure.value.details["reason"] == "invalid_combination"


def test_null_settings_count_as_absent() -> None:
    automation = _new({**CRON, "trigger_at": None, "schedule_config": None})
    assert automation.trigger_at is None


def test_bad_cel_reports_line_and_column() -> None:
    with pytest.raises(ValidationFailed) as failure:
        _new(CRON, participant_filter="1 +")
    details = failure.value.details
    assert details is not None and details["field"] == "participant_filter" and details["reason"] == "cel"
    assert details["line"] == 1 and isinstance(details["column"], int)


def test_filter_hints_parse_strictly() -> None:
    hints = automations.parse_filter_hints([{"type": "has_counter", "key": "purchases"}])
    assert hints == (FilterHint(FilterHintType.HAS_COUNTER, "purchases"),)
    for bad in ([{"type": "has_counter", "key": "x", "extra": 1}], [{"type": "x", "key": "y"}], {"type": "has_tag"}):
        with pytest.raises(ValidationFailed):
            automations.parse_filter_hints(bad)


def test_pause_clears_next_run_at_and_resume_recomputes_from_now() -> None:
    automation = _new(CRON)
    paused = apply_update(automation, {"status": "paused"}, NOW)
    assert paused.next_run_at is None and paused.due_at is None and paused.updated_at == NOW
    later = NOW + timedelta(days=3)
    resumed = apply_update(paused, {"status": "active"}, later)
    assert resumed.next_run_at == datetime(2026, 4, 1, 7, 0, tzinfo=UTC)  # not back-filled from 29 March


def test_an_update_that_changes_nothing_returns_the_same_automation() -> None:
    automation = _new(CRON)
    assert apply_update(automation, {}, NOW + timedelta(hours=1)) is automation
    assert apply_update(automation, {"name": "n", "status": "active"}, NOW + timedelta(hours=1)) is automation


def test_pausing_a_participant_state_keeps_its_schedule() -> None:
    trigger = {
        "type": "participant_state",
        "schedule_type": "INTERVAL",
        "schedule_config": {"every": 2, "unit": "days"},
    }
    automation = _new(trigger)
    paused = apply_update(automation, {"status": "paused"}, NOW)
    assert paused.schedule_config == {"every": 2, "unit": "days"} and paused.due_at is None


def test_archived_is_terminal() -> None:
    archived = dataclasses.replace(_new(CRON), status=AutomationStatus.ARCHIVED)
    with pytest.raises(AutomationArchived):
        apply_update(archived, {"status": "active"}, NOW)
    with pytest.raises(ValidationFailed):
        apply_update(_new(CRON), {"status": "archived"}, NOW)
