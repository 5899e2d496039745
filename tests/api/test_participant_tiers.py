"""Participants' tiers (02 §4.9, §4.11, §5) through HTTP against the local stack."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from scrip.domain.state import Owner, OwnerKind
from scrip.services import tiers as tier_service
from scrip.services.state import ChangeSource
from scrip.storage import keys, table, transactions
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store
from scrip_local.stack import LocalStack
from tests.api.events_helpers import processed, rule, send
from tests.api.test_tiers import SPEC_EXAMPLE
from tests.api.webhook_receiver import Receiver
from tests.conftest import Api


def _setup(api: Api, **participant: Any) -> tuple[str, str]:
    """(program id, participant id): the spec's tier in a program, one enrolled participant."""
    program_id = api.create_program()["id"]
    created = api.post(f"/v1/programs/{program_id}/tiers", json=SPEC_EXAMPLE)
    assert created.status_code == 201, created.text
    body = {"external_id": f"p-{uuid.uuid4().hex[:10]}", "program_id": program_id, **participant}
    response = api.post("/v1/participants", json=body)
    assert response.status_code == 201, response.text
    return program_id, str(response.json()["id"])


def _url(participant_id: str, program_id: str, key: str | None = "status") -> str:
    path = f"/v1/participants/{participant_id}/state/tiers" + (f"/{key}" if key else "")
    return f"{path}?program_id={program_id}"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    return body


def _future(days: int = 30) -> str:
    """A whole second in the future, as the API renders timestamps."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _due_entries(api: Api, participant_id: str, *moments: str) -> list[dict[str, Any]]:
    """The participant's entries in the tier expiry due index, in the hour buckets of ``moments``."""
    partition = keys.participant(api.organization_id, participant_id)
    found = []
    for hour in sorted({m[:13] for m in moments}):
        for shard in range(tier_store.DUE_SHARDS):
            response = table.client().query(
                TableName=table.table_name(), KeyConditionExpression=Key("PK").eq(keys.tiers_due(hour, shard))
            )
            found += [i for i in response["Items"] if i.get("owner_partition") == partition]
    return found


def _tier_history(api: Api, participant_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/participants/{participant_id}/activity/state-history?state_type=tier")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def test_put_get_list_delete_and_history(api: Api) -> None:
    program_id, participant_id = _setup(api)
    assert api.get(_url(participant_id, program_id, None)).json() == {"data": []}
    _error(api.get(_url(participant_id, program_id)), 404, "not_found")

    response = api.put(_url(participant_id, program_id), json={"level": "gold"})
    assert response.status_code == 200, response.text
    gold = response.json()
    assert gold["level"] == "gold" and gold["rank"] == 2
    # No explicit expiry: the lifecycle's (FIXED_YEAR from 1 June), which the lifecycle job re-evaluates.
    assert gold["expires_at"].endswith("-06-01T00:00:00.000000Z")
    assert gold["benefits"] == {"bonus_pct": 25, "late_checkout": True} and "key" not in gold
    assert api.get(_url(participant_id, program_id)).json() == gold
    assert api.get(_url(participant_id, program_id, None)).json() == {"data": [{**gold, "key": "status"}]}
    detail = api.get(f"/v1/participants/{participant_id}").json()
    assert detail["tiers"] == {"status": {"level": "gold", "rank": 2, "program_id": program_id}}

    silver = api.put(_url(participant_id, program_id), json={"level": "silver"}).json()  # a manual downgrade
    assert silver["rank"] == 1 and silver["acquired_at"] >= gold["acquired_at"]
    same = api.put(_url(participant_id, program_id), json={"level": "silver"})
    assert same.status_code == 200 and same.json() == silver  # no change: no history line

    assert api.delete(_url(participant_id, program_id)).status_code == 204
    _error(api.get(_url(participant_id, program_id)), 404, "not_found")
    assert api.delete(_url(participant_id, program_id)).status_code == 204  # already at base
    assert api.get(f"/v1/participants/{participant_id}").json()["tiers"] == {}

    lines = [(h["operation"], h["key"], h["old_value"], h["new_value"]) for h in _tier_history(api, participant_id)]
    assert lines == [
        ("delete", "status", "silver", None),
        ("set", "status", "gold", "silver"),
        ("set", "status", None, "gold"),
    ]
    assert all(h["program_id"] == program_id for h in _tier_history(api, participant_id))


def test_expires_at_files_replaces_and_cancels_a_due_entry(api: Api) -> None:
    program_id, participant_id = _setup(api)
    first = _future(10)
    assigned = api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": first}).json()
    assert assigned["expires_at"] == first
    (entry,) = _due_entries(api, participant_id, first)
    assert entry["expires_at"] == first and entry["tier_key"] == "status" and entry["program_id"] == program_id

    later = _future(20)
    moved = api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": later}).json()
    assert moved["expires_at"] == later and moved["acquired_at"] == assigned["acquired_at"]
    assert [e["expires_at"] for e in _due_entries(api, participant_id, first, later)] == [later]
    assert len(_tier_history(api, participant_id)) == 1  # only the expiry moved: the level did not change

    api.put(_url(participant_id, program_id), json={"level": "silver"})  # no expires_at: cancelled
    assert _due_entries(api, participant_id, first, later) == []
    api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": first})
    assert len(_due_entries(api, participant_id, first, later)) == 1
    assert api.delete(_url(participant_id, program_id)).status_code == 204
    assert _due_entries(api, participant_id, first, later) == []


def test_errors(api: Api, other_api: Api) -> None:
    program_id, participant_id = _setup(api)
    unknown = str(uuid.uuid4())
    for method in ("get", "put", "delete"):
        call = getattr(api, method)
        kwargs = {"json": {"level": "gold"}} if method == "put" else {}
        _error(call(_url(unknown, program_id), **kwargs), 404, "not_found")
        _error(call(_url(participant_id, unknown), **kwargs), 404, "not_found")
        _error(getattr(other_api, method)(_url(participant_id, program_id), **kwargs), 404, "not_found")
    _error(api.put(_url(participant_id, program_id, "nope"), json={"level": "gold"}), 404, "not_found")
    _error(api.delete(_url(participant_id, program_id, "nope")), 404, "not_found")
    _error(api.get(f"/v1/participants/{participant_id}/state/tiers"), 400, "validation_error")  # no program_id

    body = _error(api.put(_url(participant_id, program_id), json={"level": "bronze"}), 400, "validation_error")
    assert body["details"]["reason"] == "unknown_level"
    _error(api.put(_url(participant_id, program_id), json={}), 400, "validation_error")
    past = "2020-01-01T00:00:00Z"
    body = _error(
        api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": past}), 400, "validation_error"
    )
    assert body["details"]["field"] == "expires_at"

    # Enrolled elsewhere only.
    other_program = api.create_program()["id"]
    assert api.post(f"/v1/programs/{other_program}/tiers", json=SPEC_EXAMPLE).status_code == 201
    _error(api.put(_url(participant_id, other_program), json={"level": "gold"}), 404, "not_found")
    _error(api.get(_url(participant_id, other_program, None)), 404, "not_found")
    assert api.get(_url(participant_id, program_id, None)).json() == {"data": []}


def test_inactive_participant_is_409(api: Api) -> None:
    program_id, participant_id = _setup(api)
    assert api.put(_url(participant_id, program_id), json={"level": "gold"}).status_code == 200
    suspended = api.patch(f"/v1/participants/{participant_id}/status", json={"status": "SUSPENDED"})
    assert suspended.status_code == 200, suspended.text
    _error(api.put(_url(participant_id, program_id), json={"level": "silver"}), 409, "participant_inactive")
    _error(api.delete(_url(participant_id, program_id)), 409, "participant_inactive")
    assert api.get(_url(participant_id, program_id)).json()["level"] == "gold"  # reads still work


def test_program_not_active_is_422(api: Api) -> None:
    program_id, participant_id = _setup(api)
    assert api.patch(f"/v1/programs/{program_id}", json={"status": "SUSPENDED"}).status_code == 200
    _error(api.put(_url(participant_id, program_id), json={"level": "gold"}), 422, "program_not_active")
    _error(api.delete(_url(participant_id, program_id)), 422, "program_not_active")


def test_archived_tier_refuses_put_but_allows_delete_and_reads(api: Api) -> None:
    program_id, participant_id = _setup(api)
    assert api.put(_url(participant_id, program_id), json={"level": "gold"}).status_code == 200
    assert api.post(f"/v1/programs/{program_id}/tiers/status/archive").status_code == 200
    _error(api.put(_url(participant_id, program_id), json={"level": "silver"}), 409, "tier_archived")
    assert api.get(_url(participant_id, program_id)).json()["level"] == "gold"  # preserved
    assert api.delete(_url(participant_id, program_id)).status_code == 204


def test_a_change_planned_from_a_stale_level_never_applies(api: Api) -> None:
    """Two writers that read the same level: the second one's commit fails its version condition."""
    program_id, participant_id = _setup(api)
    assert api.put(_url(participant_id, program_id), json={"level": "silver"}).status_code == 200
    owner = Owner(OwnerKind.PARTICIPANT, participant_id)
    partition = state_store.partition(api.organization_id, owner)
    stale = tier_store.owner_state(partition, program_id, "status")
    tier = tier_store.require(api.organization_id, program_id, "status").tier
    assert api.put(_url(participant_id, program_id), json={"level": "gold"}).status_code == 200
    assert stale is not None
    expires_at = datetime.now(UTC) + timedelta(days=1)
    writes = tier_service.level_change_writes(
        api.organization_id,
        owner,
        tier,
        stale,
        tier.by_rank(1),
        now=datetime.now(UTC),
        expires_at=expires_at,
        source=tier_service.TierChangeSource.RULE,
        change_source=ChangeSource(),
    )
    with pytest.raises(tier_store.StaleTierState):
        transactions.write(writes)
    with pytest.raises(tier_store.StaleTierState):
        transactions.write(tier_store.delete_state(api.organization_id, partition, stale))
    assert api.get(_url(participant_id, program_id)).json()["level"] == "gold"
    assert _due_entries(api, participant_id, expires_at.isoformat()) == []


def test_tier_changed_webhook(api: Api, stack: LocalStack, hooks: Receiver) -> None:
    created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["participant.tier_changed"]})
    assert created.status_code == 201, created.text
    program_id, participant_id = _setup(api)
    api.put(_url(participant_id, program_id), json={"level": "silver"})
    api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": _future()})
    api.put(_url(participant_id, program_id), json={"level": "gold", "expires_at": _future(5)})  # expiry only
    api.delete(_url(participant_id, program_id))
    stack.drain()
    stack.drain()  # a second pass finds nothing new to send

    got = sorted(
        (json.loads(h.body) for h in hooks.received), key=lambda e: (e["data"]["previous_rank"], e["data"]["new_rank"])
    )
    assert all(e["type"] == "participant.tier_changed" for e in got)
    changes = [
        (e["data"]["previous_level"], e["data"]["previous_rank"], e["data"]["new_level"], e["data"]["new_rank"])
        for e in got
    ]
    assert sorted(changes, key=str) == sorted(
        [(None, 0, "silver", 1), ("silver", 1, "gold", 2), ("gold", 2, None, 0)], key=str
    )
    for envelope in got:
        data = envelope["data"]
        assert data["participant_id"] == participant_id and data["program_id"] == program_id
        assert data["tier_key"] == "status" and data["source"] == "api" and data["event_id"] is None
    assert len({e["id"] for e in got}) == 3


def test_participant_tiers_in_a_rule_condition(api: Api, stack: LocalStack) -> None:
    program_id, participant_id = _setup(api, external_id="tiered-1")
    rule(
        api,
        program_id,
        "has(participant.tiers.status) && participant.tiers.status.rank >= 2",
        [{"type": "TAG", "tag": "gold_or_better"}],
    )
    before = processed(api, stack, send(api, program_id, {"n": 1}, external_id="tiered-1")["id"])
    assert before["status"] == "COMPLETED", before
    assert [e["status"] for e in before["rule_evaluations"]] == ["NOT_MATCHED"]
    api.put(_url(participant_id, program_id), json={"level": "silver"})
    silver = processed(api, stack, send(api, program_id, {"n": 1}, external_id="tiered-1")["id"])
    assert [e["status"] for e in silver["rule_evaluations"]] == ["NOT_MATCHED"]
    api.put(_url(participant_id, program_id), json={"level": "gold"})
    gold = processed(api, stack, send(api, program_id, {"n": 1}, external_id="tiered-1")["id"])
    assert [e["status"] for e in gold["rule_evaluations"]] == ["SUCCESS"]
    assert "gold_or_better" in api.get(f"/v1/participants/{participant_id}").json()["tags"]


def test_simulation_takes_participant_tiers(api: Api) -> None:
    program_id = api.create_program()["id"]
    created = rule(api, program_id, "participant.tiers.status.rank >= 2", [{"type": "TAG", "tag": "gold_or_better"}])

    def matched(tiers: dict[str, Any]) -> bool:
        body = {"event": {"n": 1}, "participant_state": {"tiers": tiers}}
        response = api.post(f"/v1/rules/{created['id']}/simulate", json=body)
        assert response.status_code == 200, response.text
        return bool(response.json()["evaluation"]["matched"])

    assert matched({"status": {"level": "gold", "rank": 2}})
    assert not matched({"status": {"level": "silver", "rank": 1}})
    assert not matched({})  # no such key: the condition errs, so it does not match
