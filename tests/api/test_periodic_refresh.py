"""The periodic subscription refresh through HTTP (06 §1.7.9): a participant who starts matching
the filter after the automation's creation is subscribed a period later, with no refresh call
and no PATCH: only the scheduler's ticks (the local schedules route) and the clock moving."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from scrip.domain.clock import parse_rfc3339
from scrip_local.stack import LocalStack
from tests.api.automations_helpers import create, fire, url
from tests.conftest import Api


def test_a_participant_tagged_after_the_create_is_subscribed_15_minutes_later(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], created: list[tuple[str, str]]
) -> None:
    program = api.create_program()
    automation = create(
        api,
        created,
        program["id"],
        name=f"periodic {uuid.uuid4()}",
        event_name="celebrate",
        scope="participants",
        trigger={
            "type": "participant_state",
            "schedule_type": "INTERVAL",
            "schedule_config": {"every": 1, "unit": "days"},
        },
        participant_filter='"vip" in participant.tags',
    )
    stack.drain()  # the create's refresh: nobody matches yet
    response = api.post(
        "/v1/participants", json={"external_id": f"p-{uuid.uuid4()}", "program_id": program["id"], "tags": ["vip"]}
    )
    assert response.status_code in (200, 201), response.text
    member = response.json()["id"]

    def subscribed() -> list[str]:
        found = api.get(url(automation, "subscriptions"))
        assert found.status_code == 200, found.text
        return [s["participant_id"] for s in found.json()["data"] if s["status"] == "active"]

    created_at = parse_rfc3339(automation["created_at"])
    move_clock(created_at + timedelta(minutes=14))
    fire(api)
    stack.drain()
    assert subscribed() == []  # not yet due
    move_clock(created_at + timedelta(minutes=15, seconds=5))
    assert fire(api)["refreshes"] >= 1
    stack.drain()
    assert subscribed() == [member]
    assert parse_rfc3339(api.get(url(automation)).json()["last_evaluated_at"]) >= created_at + timedelta(minutes=15)
