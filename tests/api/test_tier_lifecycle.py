"""The tier lifecycle through HTTP (02 §4.7.3): explicit expiry, the period end with grace,
``min_level`` and the three downgrade policies, counter rollover. Time moves with the local
stack's clock route; the lifecycle job is the real schedule (TierJobsFunction), the period-end
fan-out is driven by the table's stream (``stack.drain()``).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from scrip.storage import keys, table
from scrip.storage import tiers as tier_store
from scrip_local.stack import LocalStack
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api

JOB = "TierJobsFunction"

THREE_LEVELS: dict[str, Any] = {
    "key": "status",
    "levels": [
        {
            "key": "bronze",
            "rank": 1,
            "qualification": {"mode": "ALL", "criteria": [{"counter": "nights", "operator": ">=", "threshold": 10}]},
        },
        {
            "key": "silver",
            "rank": 2,
            "qualification": {"mode": "ALL", "criteria": [{"counter": "nights", "operator": ">=", "threshold": 20}]},
        },
        {
            "key": "gold",
            "rank": 3,
            "qualification": {"mode": "ALL", "criteria": [{"counter": "nights", "operator": ">=", "threshold": 40}]},
        },
    ],
    "lifecycle": {
        "retention": {"mode": "PERIOD_BASED"},
        "qualification_period": {"type": "CALENDAR_YEAR"},
        "downgrade_policy": {"mode": "DROP_TO_QUALIFYING"},
        "counters": {"rollover": "EXCESS", "qualifying": ["nights"]},
    },
}


def _tier(**policy: Any) -> dict[str, Any]:
    body = copy.deepcopy(THREE_LEVELS)
    body["lifecycle"]["downgrade_policy"] = policy
    return body


def _boundary() -> datetime:
    """The next 1 January (UTC) after now."""
    return datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Program:
    def __init__(self, api: Api, tier: dict[str, Any]) -> None:
        self.api = api
        self.id = api.create_program()["id"]
        created = api.post(f"/v1/programs/{self.id}/tiers", json=tier)
        assert created.status_code == 201, created.text

    def participant(
        self, level: str | None = None, nights: int | None = None, external_id: str | None = None, **put: Any
    ) -> str:
        body = {"external_id": external_id or f"p-{uuid.uuid4().hex[:10]}", "program_id": self.id}
        response = self.api.post("/v1/participants", json=body)
        assert response.status_code == 201, response.text
        participant_id = str(response.json()["id"])
        if level is not None:
            assigned = self.api.put(self.url(participant_id), json={"level": level, **put})
            assert assigned.status_code == 200, assigned.text
        if nights is not None:
            self.set_nights(participant_id, nights)
        return participant_id

    def set_nights(self, participant_id: str, nights: int) -> None:
        url = f"/v1/participants/{participant_id}/state/counters/nights"
        assert self.api.put(url, json={"value": str(nights)}).status_code in (200, 201)

    def url(self, participant_id: str) -> str:
        return f"/v1/participants/{participant_id}/state/tiers/status?program_id={self.id}"

    def level(self, participant_id: str) -> dict[str, Any] | None:
        response = self.api.get(self.url(participant_id))
        return dict(response.json()) if response.status_code == 200 else None

    def nights(self, participant_id: str) -> str:
        return str(self.api.get(f"/v1/participants/{participant_id}/state/counters/nights").json()["value"])

    def history(self, participant_id: str) -> list[tuple[str | None, str | None]]:
        url = f"/v1/participants/{participant_id}/activity/state-history?state_type=tier"
        return [(h["old_value"], h["new_value"]) for h in reversed(self.api.get(url).json()["data"])]


def _state_entries(api: Api, moment: datetime) -> set[str]:
    """Owner partitions of the organization with a STATE entry in the tier due index at ``moment``'s hour."""
    found: set[str] = set()
    for shard in range(tier_store.DUE_SHARDS):
        response = table.client().query(
            TableName=table.table_name(),
            KeyConditionExpression=Key("PK").eq(keys.tiers_due(moment.strftime("%Y-%m-%dT%H"), shard)),
        )
        found |= {
            str(i["owner_partition"])
            for i in response["Items"]
            if i.get("due_kind") == "STATE" and i.get("organization_id") == api.organization_id
        }
    return found


def _period_end(stack: LocalStack, move_clock: Callable[[datetime], None], at: datetime) -> None:
    """Move to just after ``at``, run the job (it starts the fan-out) and let the stream drive it."""
    move_clock(at + timedelta(minutes=1))
    stack.fire_schedule(JOB)
    stack.drain()


def test_an_explicit_expiry_removes_the_level_once(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None], hooks: Receiver
) -> None:
    assert api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["participant.tier_changed"]})
    program = _Program(api, THREE_LEVELS)
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    person = program.participant("gold", nights=100, expires_at=_stamp(expires))
    stack.drain()

    move_clock(expires - timedelta(minutes=1))
    stack.fire_schedule(JOB)
    assert program.level(person) is not None  # not yet due
    move_clock(expires + timedelta(minutes=1))
    stack.fire_schedule(JOB)
    stack.fire_schedule(JOB)  # a second run finds nothing left to do
    stack.drain()

    # Removed although the counters still qualify: an explicit expiry ignores the policy.
    assert program.level(person) is None
    assert program.history(person) == [(None, "gold"), ("gold", None)]
    lifecycle = [json.loads(h.body)["data"] for h in hooks.received if json.loads(h.body)["data"]["new_rank"] == 0]
    assert [(d["participant_id"], d["source"], d["previous_level"]) for d in lifecycle] == [
        (person, "lifecycle", "gold")
    ]


def test_drop_to_qualifying_at_the_period_end_with_excess_rollover(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    program = _Program(api, THREE_LEVELS)
    boundary = _boundary()
    stays = program.participant("gold", nights=45)
    drops = program.participant("gold", nights=25)
    base = program.participant(nights=7)
    assert program.level(stays)["expires_at"] == _stamp(boundary)  # type: ignore[index]
    # The period end evaluates these levels: none has an entry of its own in the due index.
    assert _state_entries(api, boundary) == set()

    _period_end(stack, move_clock, boundary)
    stack.fire_schedule(JOB)  # a second run starts nothing twice
    stack.drain()

    kept, dropped = program.level(stays), program.level(drops)
    assert (
        kept is not None
        and kept["level"] == "gold"
        and kept["expires_at"] == _stamp(boundary.replace(year=boundary.year + 1))
    )
    assert dropped is not None and dropped["level"] == "silver"
    # EXCESS: the threshold of the level held after the evaluation is subtracted, once.
    assert (program.nights(stays), program.nights(drops), program.nights(base)) == ("5", "5", "0")
    assert program.history(drops) == [(None, "gold"), ("gold", "silver")]
    assert program.history(stays) == [(None, "gold")]


def test_drop_one_with_grace_and_min_level(api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]) -> None:
    program = _Program(api, _tier(mode="DROP_ONE", grace_days=10, min_level="silver"))
    boundary = _boundary()
    graced = program.participant("gold", nights=0)
    requalifies = program.participant("gold", nights=0)
    floored = program.participant("silver", nights=0)

    _period_end(stack, move_clock, boundary)
    grace_end = boundary + timedelta(days=10)
    for person in (graced, requalifies, floored):
        got = program.level(person)
        assert got is not None
    assert program.level(graced)["expires_at"] == _stamp(grace_end)  # type: ignore[index]
    assert program.level(floored)["level"] == "silver"  # type: ignore[index]  # min_level: no lower, no grace
    assert program.history(graced) == [(None, "gold")]  # postponed, not changed

    program.set_nights(requalifies, 40)  # inside the grace window
    move_clock(grace_end + timedelta(minutes=1))
    stack.fire_schedule(JOB)
    stack.fire_schedule(JOB)

    next_boundary = _stamp(boundary.replace(year=boundary.year + 1))
    assert program.level(graced)["level"] == "silver"  # type: ignore[index]  # DROP_ONE, no second grace
    assert program.level(graced)["expires_at"] == next_boundary  # type: ignore[index]
    assert program.level(requalifies)["level"] == "gold"  # type: ignore[index]  # the downgrade cancelled
    assert program.level(requalifies)["expires_at"] == next_boundary  # type: ignore[index]
    assert program.history(graced) == [(None, "gold"), ("gold", "silver")]
    assert program.history(requalifies) == [(None, "gold")]


def test_hold_keeps_the_level_and_none_rollover_resets(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    body = _tier(mode="HOLD")
    body["lifecycle"]["counters"]["rollover"] = "NONE"
    program = _Program(api, body)
    boundary = _boundary()
    held = program.participant("gold", nights=3)

    _period_end(stack, move_clock, boundary)

    got = program.level(held)
    assert got is not None and got["level"] == "gold"
    assert got["expires_at"] == _stamp(boundary.replace(year=boundary.year + 1))
    assert program.nights(held) == "0"
    assert program.history(held) == [(None, "gold")]


def test_min_level_floors_drop_to_qualifying(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    program = _Program(api, _tier(mode="DROP_TO_QUALIFYING", min_level="bronze"))
    boundary = _boundary()
    person = program.participant("gold", nights=0)

    _period_end(stack, move_clock, boundary)

    assert program.level(person)["level"] == "bronze"  # type: ignore[index]
    assert program.history(person) == [(None, "gold"), ("gold", "bronze")]


def test_an_archived_tier_or_a_changed_period_starts_no_period_end(
    api: Api, stack: LocalStack, move_clock: Callable[[datetime], None]
) -> None:
    archived = _Program(api, THREE_LEVELS)
    kept = archived.participant("gold", nights=0)
    assert api.post(f"/v1/programs/{archived.id}/tiers/status/archive").status_code == 200
    changed = _Program(api, THREE_LEVELS)
    moved = changed.participant("gold", nights=25)
    fixed_year = {
        **THREE_LEVELS["lifecycle"],
        "qualification_period": {"type": "FIXED_YEAR", "start_month": 4, "start_day": 1},
    }
    patched = api.patch(f"/v1/programs/{changed.id}/tiers/status", json={"lifecycle": fixed_year})
    assert patched.status_code == 200, patched.text
    boundary = _boundary()

    _period_end(stack, move_clock, boundary)

    # 02 §4.7.4: an archived tier's levels are preserved, never re-evaluated.
    assert archived.level(kept)["level"] == "gold"  # type: ignore[index]
    assert archived.nights(kept) == "0"
    # The 1 January filed before the PATCH is no boundary of the new lifecycle: no period end
    # (no rollover). The level keeps the expiry it was given and lapses then, through the due index.
    assert changed.level(moved)["level"] == "silver"  # type: ignore[index]
    assert changed.nights(moved) == "25"
