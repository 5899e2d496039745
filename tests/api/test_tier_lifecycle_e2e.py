"""Issue 14's end-to-end year, through HTTP: a tier with three levels, counter qualification and
a ``CALENDAR_YEAR`` lifecycle. Events upgrade a participant (automatic qualification), a rule
condition sees the level in ``participant.tiers``, the year boundary (the local clock route moves
time; the real schedule and the stream run the period end) downgrades per policy with EXCESS
rollover, and the history lines and ``participant.tier_changed`` webhooks tell the story.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scrip_local.stack import LocalStack
from tests.api.events_helpers import processed, rule, send
from tests.api.test_tier_lifecycle import THREE_LEVELS, _Program
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api


def test_a_year_of_a_three_level_calendar_year_tier(
    api: Api,
    stack: LocalStack,
    move_clock: Callable[[datetime], None],
    hooks: Receiver,
) -> None:
    created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["participant.tier_changed"]})
    assert created.status_code == 201, created.text
    program = _Program(api, THREE_LEVELS)  # DROP_TO_QUALIFYING, EXCESS rollover of "nights"
    rule(api, program.id, "has(event.nights)", [{"type": "COUNTER", "key": "nights", "value": "event.nights"}])
    for level in ("gold", "silver"):
        rule(
            api,
            program.id,
            f"has(participant.tiers.status) && participant.tiers.status.level == '{level}'",
            [{"type": "TAG", "tag": f"{level}_perks"}],
            name=f"{level} perks",
        )
    external_id = f"e2e-{uuid.uuid4().hex[:10]}"
    person = program.participant(external_id=external_id)

    def stay(nights: int) -> dict[str, object]:
        sent = send(api, program.id, {"nights": nights}, external_id=external_id)
        event = processed(api, stack, str(sent["id"]))
        assert event["status"] == "COMPLETED", event
        return event

    stay(15)
    assert program.level(person)["level"] == "bronze"  # type: ignore[index]
    stay(30)  # 45 nights: gold
    gold = program.level(person)
    boundary = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    assert gold is not None and gold["level"] == "gold"
    assert gold["expires_at"] == boundary.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stay(-20)  # a correction: 25 nights; upgrade only, so still gold until the year ends
    tags = api.get(f"/v1/participants/{person}").json()["tags"]
    assert "gold_perks" in tags and "silver_perks" not in tags  # the rule saw participant.tiers

    move_clock(boundary + timedelta(minutes=1))
    stack.fire_schedule("TierJobsFunction")
    stack.drain()

    silver = program.level(person)
    assert silver is not None and silver["level"] == "silver"  # 25 nights qualify for silver only
    assert silver["expires_at"] == boundary.replace(year=boundary.year + 1).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert program.nights(person) == "5"  # EXCESS over silver's 20, after the evaluation
    stay(0)
    assert "silver_perks" in api.get(f"/v1/participants/{person}").json()["tags"]

    assert program.history(person) == [(None, "bronze"), ("bronze", "gold"), ("gold", "silver")]
    stack.drain()
    received = [json.loads(h.body)["data"] for h in hooks.received]
    changes = sorted(
        ((d["previous_level"], d["new_level"], d["source"]) for d in received if d["participant_id"] == person),
        key=str,
    )
    assert changes == sorted(
        [(None, "bronze", "qualification"), ("bronze", "gold", "qualification"), ("gold", "silver", "lifecycle")],
        key=str,
    )
