"""A create whose commit's answer is lost answers 201 with the resource, once (issue P6).

The first ``TransactWriteItems`` of the request commits, its answer is lost and botocore sends it
again: the re-sent call fails every ``attribute_not_exists`` of the create. The request must
still answer ``201`` with what it created, and exactly one resource must exist: no ``409`` from
the uniqueness claims, no ``500``, no second resource from a re-planned attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.integration.fault_injection import Fault, faulted


def _participant(api: Api, name: str) -> dict[str, Any]:
    return {"external_id": name, "tags": ["vip"], "attributes": {"tier": "gold"}}


def _program(api: Api, name: str) -> dict[str, Any]:
    return {"name": name, "key": name}


def _asset(api: Api, name: str) -> dict[str, Any]:
    program = api.create_program()
    return {
        "program_id": program["id"],
        "name": name,
        "symbol": name[:8].upper(),
        "inventory_mode": "SIMPLE",
        "issuance_policy": "UNLIMITED",
        "scale": 0,
    }


def _group(api: Api, name: str) -> dict[str, Any]:
    admin = api.post("/v1/participants", json={"external_id": f"admin-{name}"}).json()
    return {"name": name, "members": [{"participant_id": admin["id"], "role": "ADMIN"}]}


def _rule(api: Api, name: str) -> dict[str, Any]:
    program = api.create_program()
    asset = api.create_asset(program["id"], symbol=f"R{uuid.uuid4().hex[:6].upper()}")
    return {
        "program_id": program["id"],
        "name": name,
        "condition": 'event.type == "purchase"',
        "actions": [{"type": "CREDIT", "asset_id": asset["id"], "amount": "10"}],
    }


def _endpoint(api: Api, name: str) -> dict[str, Any]:
    return {"url": "https://8.8.8.8/hook", "enabled_events": ["*"], "description": name}


RESOURCES: dict[str, tuple[str, Callable[[Api, str], dict[str, Any]], str]] = {
    # path, request body, the field that names the resource in a list
    "participant": ("/v1/participants", _participant, "external_id"),
    "program": ("/v1/programs", _program, "name"),
    "asset": ("/v1/assets", _asset, "name"),
    "group": ("/v1/groups", _group, "name"),
    "rule": ("/v1/rules", _rule, "name"),
    "webhook endpoint": ("/v1/webhook-endpoints", _endpoint, "description"),
}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_a_create_whose_commit_answer_is_lost_answers_201_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, resource: str
) -> None:
    path, body_of, naming_field = RESOURCES[resource]
    name = f"lost{uuid.uuid4().hex[:8]}"
    body = body_of(api, name)
    with faulted(monkeypatch, "transact_write_items", Fault.LOSE) as client:
        response = api.post(path, json=body)
    assert client.faulted == "transact_write_items"
    assert response.status_code == 201, response.text
    created = response.json()
    assert api.get(f"{path}/{created['id']}").status_code == 200
    listed = api.get(path, params={"limit": 100}).json()["data"]
    assert [item["id"] for item in listed if item.get(naming_field) == name] == [created["id"]]
