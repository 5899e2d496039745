"""Tiers on the event path through HTTP against the local stack: the SET_TIER action (02 §4.10),
automatic qualification after an event's rules (§4.7.1), the ACTIVITY_REFRESH timer (§4.7.3)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from scrip.domain import clock
from scrip_local.stack import LocalStack
from tests.api.events_helpers import processed, rule, send
from tests.api.test_participant_tiers import _due_entries
from tests.api.test_tiers import SPEC_EXAMPLE
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api

# The spec's tier (silver: nights >= 10; gold: nights >= 40 OR spend >= 8000) and a platinum
# level that needs both counters (ALL) and one that no counter reaches (no qualification).
TIER: dict[str, Any] = copy.deepcopy(SPEC_EXAMPLE)
TIER["levels"] += [
    {
        "key": "platinum",
        "rank": 3,
        "qualification": {
            "mode": "ALL",
            "criteria": [
                {"counter": "qualifying_nights", "operator": ">=", "threshold": 100},
                {"counter": "qualifying_spend", "operator": ">=", "threshold": 20000},
            ],
        },
    },
    {"key": "ambassador", "rank": 4},
]
NIGHTS = {"type": "COUNTER", "key": "qualifying_nights", "value": "event.nights"}
SPEND = {"type": "COUNTER", "key": "qualifying_spend", "value": "event.spend"}


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # A failed attempt is retried at once, so that a failing event reaches FAILED in one drain.
    monkeypatch.setenv("SCRIP_EVENT_RETRY_BASE_SECONDS", "0")


def _setup(api: Api, tier: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """(program id, participant id, external id): TIER in a program, one enrolled participant."""
    program_id = api.create_program()["id"]
    created = api.post(f"/v1/programs/{program_id}/tiers", json=tier or TIER)
    assert created.status_code == 201, created.text
    external_id = f"t-{uuid.uuid4().hex[:10]}"
    response = api.post("/v1/participants", json={"external_id": external_id, "program_id": program_id})
    assert response.status_code == 201, response.text
    return program_id, str(response.json()["id"]), external_id


def _event(api: Api, stack: LocalStack, program_id: str, external_id: str, **data: Any) -> dict[str, Any]:
    return processed(api, stack, send(api, program_id, {"type": "stay", **data}, external_id=external_id)["id"])


def _level(api: Api, participant_id: str, program_id: str, key: str = "status") -> dict[str, Any] | None:
    response = api.get(f"/v1/participants/{participant_id}/state/tiers/{key}?program_id={program_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json())


def _level_key(api: Api, participant_id: str, program_id: str) -> str | None:
    found = _level(api, participant_id, program_id)
    return found["level"] if found else None


def _history(api: Api, participant_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/participants/{participant_id}/activity/state-history?state_type=tier")
    assert response.status_code == 200, response.text
    return sorted(response.json()["data"], key=lambda line: line["changed_at"])


def _set_tier(level: str, **fields: Any) -> dict[str, Any]:
    return {"type": "SET_TIER", "tier": "status", "level": level, **fields}


def _state_changes(api: Api, event: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    response = api.get(f"/v1/events/{event['id']}/impact")
    assert response.status_code == 200, response.text
    return [(c["state_type"], c["old_value"], c["new_value"]) for c in response.json()["state_changes"]]


def _tier_action(event: dict[str, Any]) -> dict[str, Any]:
    actions = [a for e in event["rule_evaluations"] for a in e.get("actions") or [] if a["type"] == "SET_TIER"]
    assert len(actions) == 1, event
    return dict(actions[0]["resolved"])


# ---------------------------------------------------------------- SET_TIER


def test_set_tier_assigns_exactly_the_level_up_and_down(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    # One rule per level (tier and level are keys, not CEL).
    for level in ("silver", "gold", "ambassador"):
        rule(api, program_id, f"event.level == '{level}'", [_set_tier(level)], name=level)

    up = _event(api, stack, program_id, external_id, level="ambassador")
    assert up["status"] == "COMPLETED", up
    resolved = _tier_action(up)
    assert resolved["tier"] == "status" and resolved["level"] == "ambassador" and resolved["changed"] is True
    state = _level(api, participant_id, program_id)
    assert state is not None and (state["level"], state["rank"]) == ("ambassador", 4)
    # The lifecycle (FIXED_YEAR from 1 April, +2 months) gives the expiry: 1 June of a coming year.
    assert state["expires_at"] is not None and state["expires_at"][5:10] == "06-01"
    assert _state_changes(api, up) == [("tier", None, "ambassador")]

    down = _event(api, stack, program_id, external_id, level="silver")
    assert down["status"] == "COMPLETED", down
    assert _level_key(api, participant_id, program_id) == "silver"

    again = _event(api, stack, program_id, external_id, level="silver")  # the level it holds: nothing written
    assert _tier_action(again)["changed"] is False and _state_changes(api, again) == []

    lines = _history(api, participant_id)
    assert [(line["old_value"], line["new_value"]) for line in lines] == [
        (None, "ambassador"),
        ("ambassador", "silver"),
    ]
    assert all(line["rule_id"] and line["event_id"] for line in lines)


def test_two_set_tiers_of_one_event_build_on_each_other(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [_set_tier("gold", expires_at="48h")], name="first")
    rule(api, program_id, "true", [_set_tier("silver")], name="second")
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "COMPLETED", event
    state = _level(api, participant_id, program_id)
    assert state is not None and state["level"] == "silver" and state["expires_at"][5:10] == "06-01"
    # The first level's due entry went with it; the second's is the one left.
    in_48h = clock.to_rfc3339(clock.now() + timedelta(hours=48))
    assert _due_entries(api, participant_id, in_48h) == []
    assert [e["level"] for e in _due_entries(api, participant_id, state["expires_at"])] == ["silver"]
    lines = _history(api, participant_id)
    assert sorted((line["old_value"] or "", line["new_value"]) for line in lines) == [("", "gold"), ("gold", "silver")]


def test_set_tier_with_expires_at_is_an_explicit_expiry(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [_set_tier("gold", expires_at="48h")])
    before = clock.now()
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "COMPLETED", event
    state = _level(api, participant_id, program_id)
    assert state is not None and state["level"] == "gold"
    expires = clock.parse_rfc3339(state["expires_at"])
    assert before + timedelta(hours=48) <= expires <= clock.now() + timedelta(hours=48)


def test_set_tier_is_allowed_for_a_suspended_participant(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [_set_tier("gold")])
    suspended = api.patch(f"/v1/participants/{participant_id}", json={"status": "SUSPENDED"})
    assert suspended.status_code == 200, suspended.text
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "COMPLETED", event
    assert _level_key(api, participant_id, program_id) == "gold"


def test_set_tier_on_an_archived_tier_is_skipped_and_the_event_completes(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [_set_tier("gold"), {"type": "TAG", "tag": "seen"}])
    archived = api.post(f"/v1/programs/{program_id}/tiers/status/archive")
    assert archived.status_code == 200, archived.text
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "COMPLETED", event
    assert _tier_action(event)["skipped"] == "tier is archived"
    assert _level(api, participant_id, program_id) is None
    assert "seen" in api.get(f"/v1/participants/{participant_id}").json()["tags"]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (_set_tier("diamond"), "'diamond' is not a level"),
        ({**_set_tier("gold"), "tier": "vip"}, "tier 'vip' not found"),
    ],
    ids=["unknown level", "unknown tier"],
)
def test_set_tier_with_an_unknown_tier_or_level_fails_the_event(
    api: Api, stack: LocalStack, action: dict[str, Any], message: str
) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [{"type": "TAG", "tag": "seen"}, action])
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "FAILED", event
    assert message in event["error_message"], event["error_message"]
    assert _level(api, participant_id, program_id) is None
    assert "seen" not in api.get(f"/v1/participants/{participant_id}").json()["tags"]  # nothing half-written


def test_set_tier_validation(api: Api) -> None:
    program_id = api.create_program()["id"]
    for action, field in [
        ({"type": "SET_TIER", "level": "gold"}, "actions.0.tier"),
        (_set_tier("gold", expires_at="next year"), "actions.0.expires_at"),
        (_set_tier("gold", target={"type": "PROGRAM"}), "actions.0.target.type"),
    ]:
        body = {"program_id": program_id, "name": "r", "condition": "true", "actions": [action]}
        response = api.post("/v1/rules", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "validation_error"
        assert response.json()["details"]["field"] == field


def test_set_tier_with_a_group_target_assigns_the_group_a_level(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    members = [{"participant_id": participant_id, "role": "ADMIN"}]
    group = api.post("/v1/groups", json={"name": "Team", "program_id": program_id, "members": members})
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    rule(api, program_id, "true", [_set_tier("gold", target={"type": "GROUP", "id": group_id})])
    event = _event(api, stack, program_id, external_id)
    assert event["status"] == "COMPLETED", event
    assert _tier_action(event)["target_id"] == group_id
    history = api.get(f"/v1/groups/{group_id}/activity/state-history?state_type=tier")
    assert history.status_code == 200, history.text
    assert [(line["key"], line["new_value"]) for line in history.json()["data"]] == [("status", "gold")]


# ------------------------------------------------------- automatic qualification


def test_counters_upgrade_automatically_in_the_same_event(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "has(event.nights)", [NIGHTS], name="nights")
    rule(api, program_id, "has(event.spend)", [SPEND], name="spend")

    assert _event(api, stack, program_id, external_id, nights=9)["status"] == "COMPLETED"
    assert _level(api, participant_id, program_id) is None  # 9 < 10
    assert _event(api, stack, program_id, external_id, nights=1)["status"] == "COMPLETED"
    silver = _level(api, participant_id, program_id)
    assert silver is not None and (silver["level"], silver["rank"]) == ("silver", 1)
    assert silver["expires_at"] is not None and silver["expires_at"][5:10] == "06-01"
    # gold is ANY: spend alone reaches it, and the rank-2 level wins over silver.
    assert _event(api, stack, program_id, external_id, spend=8000)["status"] == "COMPLETED"
    assert _level_key(api, participant_id, program_id) == "gold"
    # platinum is ALL: nights 100 is not enough while spend is under 20000.
    _event(api, stack, program_id, external_id, nights=90)
    assert _level_key(api, participant_id, program_id) == "gold"
    _event(api, stack, program_id, external_id, spend=12000)
    assert _level_key(api, participant_id, program_id) == "platinum"
    # A level without qualification (ambassador) is never reached automatically.
    _event(api, stack, program_id, external_id, nights=1000, spend=1000000)
    assert _level_key(api, participant_id, program_id) == "platinum"

    lines = _history(api, participant_id)
    assert [(line["old_value"], line["new_value"]) for line in lines] == [
        (None, "silver"),
        ("silver", "gold"),
        ("gold", "platinum"),
    ]
    assert all(line["event_id"] and line["rule_id"] is None for line in lines)


def test_qualification_never_downgrades(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "has(event.nights)", [NIGHTS])
    assert (
        api.put(
            f"/v1/participants/{participant_id}/state/tiers/status?program_id={program_id}", json={"level": "gold"}
        ).status_code
        == 200
    )
    _event(api, stack, program_id, external_id, nights=15)  # qualifies for silver only
    assert _level_key(api, participant_id, program_id) == "gold"
    assert len(_history(api, participant_id)) == 1  # the API's line only


def test_a_set_tier_of_the_event_suppresses_automatic_evaluation_of_that_tier(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "true", [NIGHTS, _set_tier("silver")])
    event = _event(api, stack, program_id, external_id, nights=50)  # gold by its counter, silver by the rule
    assert event["status"] == "COMPLETED", event
    assert _level_key(api, participant_id, program_id) == "silver"
    # The next event without a SET_TIER evaluates again: gold.
    rule(api, program_id, "false", [{"type": "TAG", "tag": "never"}], name="quiet")
    _event(api, stack, program_id, external_id, nights=0)
    assert _level_key(api, participant_id, program_id) == "silver"  # the first rule set silver again
    other_program, other_id, other_external = _setup(api)
    rule(api, other_program, "has(event.nights)", [NIGHTS])
    _event(api, stack, other_program, other_external, nights=50)
    assert _level_key(api, other_id, other_program) == "gold"


def test_archived_tiers_are_not_assigned_automatically(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "has(event.nights)", [NIGHTS])
    assert api.post(f"/v1/programs/{program_id}/tiers/status/archive").status_code == 200
    assert _event(api, stack, program_id, external_id, nights=50)["status"] == "COMPLETED"
    assert _level(api, participant_id, program_id) is None


def test_a_later_rule_sees_the_level_qualification_gave(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "has(event.nights)", [NIGHTS], name="nights")
    rule(
        api,
        program_id,
        "has(participant.tiers.status) && participant.tiers.status.level == 'gold'",
        [{"type": "TAG", "tag": "gold_guest"}],
        name="gold perks",
    )
    first = _event(api, stack, program_id, external_id, nights=40)
    # The activation is the participant before the event: the upgrade shows from the next one.
    assert [e["status"] for e in first["rule_evaluations"]] == ["SUCCESS", "NOT_MATCHED"]
    second = _event(api, stack, program_id, external_id, nights=1)
    assert [e["status"] for e in second["rule_evaluations"]] == ["SUCCESS", "SUCCESS"]
    assert "gold_guest" in api.get(f"/v1/participants/{participant_id}").json()["tags"]


def test_tier_changed_webhooks_name_their_source_and_event(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["participant.tier_changed"]})
    assert created.status_code == 201, created.text
    program_id, participant_id, external_id = _setup(api)
    rule(api, program_id, "has(event.nights)", [NIGHTS], name="nights")
    rule(api, program_id, "has(event.level)", [_set_tier("silver")], name="demote")
    upgraded = _event(api, stack, program_id, external_id, nights=40)
    demoted = _event(api, stack, program_id, external_id, level="silver")
    _event(api, stack, program_id, external_id, level="silver")  # no change: no webhook
    stack.drain()
    stack.drain()

    got = sorted((json.loads(h.body)["data"] for h in hooks.received), key=lambda d: d["new_rank"], reverse=True)
    assert [(d["previous_level"], d["new_level"], d["source"], d["event_id"]) for d in got] == [
        (None, "gold", "qualification", upgraded["id"]),
        ("gold", "silver", "rule", demoted["id"]),
    ]
    assert all(d["participant_id"] == participant_id and d["program_id"] == program_id for d in got)


# ---------------------------------------------------------------- ACTIVITY_REFRESH

REFRESHED: dict[str, Any] = {
    "key": "status",
    "levels": [
        {
            "key": "member",
            "rank": 1,
            "qualification": {"mode": "ALL", "criteria": [{"counter": "visits", "operator": ">=", "threshold": 1}]},
        }
    ],
    "lifecycle": {"retention": {"mode": "ACTIVITY_REFRESH", "duration": "720h"}},
}


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_activity_refresh_moves_the_expiry_at_most_once_an_hour(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    program_id, participant_id, external_id = _setup(api, REFRESHED)
    rule(api, program_id, "true", [{"type": "COUNTER", "key": "visits", "value": "1"}])
    start = clock.now()
    _event(api, stack, program_id, external_id)
    state = _level(api, participant_id, program_id)
    assert state is not None and state["level"] == "member"
    first = clock.parse_rfc3339(state["expires_at"])
    # last activity + 720 h, rounded up to the hour: never earlier than the spec's instant.
    assert first in (_next_hour(start + timedelta(hours=720)), _next_hour(clock.now() + timedelta(hours=720)))

    _event(api, stack, program_id, external_id)  # the same hour: nothing to move
    same = _level(api, participant_id, program_id)
    assert same is not None and clock.parse_rfc3339(same["expires_at"]) == first

    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(timedelta(days=3).total_seconds()))
    later = clock.now()
    _event(api, stack, program_id, external_id)
    moved = _level(api, participant_id, program_id)
    assert moved is not None and moved["level"] == "member"
    assert clock.parse_rfc3339(moved["expires_at"]) == _next_hour(later + timedelta(hours=720))
    assert moved["acquired_at"] == state["acquired_at"]
    assert len(_history(api, participant_id)) == 1  # a refresh is no level change


def test_activity_refresh_leaves_an_explicit_expiry_alone(api: Api, stack: LocalStack) -> None:
    program_id, participant_id, external_id = _setup(api, REFRESHED)
    url = f"/v1/participants/{participant_id}/state/tiers/status?program_id={program_id}"
    explicit = (clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert api.put(url, json={"level": "member", "expires_at": explicit}).status_code == 200
    _event(api, stack, program_id, external_id)
    state = _level(api, participant_id, program_id)
    assert state is not None and state["expires_at"] == explicit  # a scheduled removal, not a timer


def test_simulation_describes_set_tier_against_the_given_levels(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = rule(api, program_id, "true", [_set_tier("gold")])

    def result(tiers: dict[str, Any]) -> dict[str, Any]:
        body = {"event": {"n": 1}, "participant_state": {"tiers": tiers}}
        response = api.post(f"/v1/rules/{created['id']}/simulate", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json()["evaluation"]["results"][0]["result"])

    assert result({"status": {"level": "gold", "rank": 2}}) == {
        "description": "Set tier status to gold",
        "current_level": "gold",
        "would_change": False,
    }
    assert result({})["would_change"] is True and result({})["current_level"] is None
