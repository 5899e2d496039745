"""Set-up and polling helpers for the events and rules-engine tests."""

from __future__ import annotations

import itertools
from typing import Any

from scrip_local.stack import LocalStack
from tests.conftest import Api

_keys = itertools.count()


def rule(api: Api, program_id: str, condition: str, actions: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body = {"program_id": program_id, "name": fields.pop("name", "rule"), "condition": condition, "actions": actions}
    response = api.post("/v1/rules", json={**body, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def send(
    api: Api,
    program_id: str,
    data: dict[str, Any],
    *,
    external_id: str | None = "cust_1",
    key: str | None = None,
    timestamp: str = "2025-03-02T18:04:00Z",
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "program_id": program_id,
        "idempotency_key": key or f"key-{next(_keys)}",
        "event_timestamp": timestamp,
        "event_data": data,
        **fields,
    }
    if external_id is not None and "participant_id" not in fields:
        body["external_id"] = external_id
    response = api.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def processed(api: Api, stack: LocalStack, event_id: str) -> dict[str, Any]:
    """Deliver what is waiting (stream → queue → processor), then read the event."""
    stack.drain()
    response = api.get(f"/v1/events/{event_id}?include_skipped=true")
    assert response.status_code == 200, response.text
    return dict(response.json())


def participant_id(api: Api, external_id: str) -> str:
    response = api.get(f"/v1/participants?external_id={external_id}")
    if response.status_code == 200 and response.json().get("data"):
        return str(response.json()["data"][0]["id"])
    created = api.post("/v1/participants", json={"external_id": external_id})
    assert created.status_code in (200, 201), created.text
    return str(created.json()["id"])


def balance(api: Api, participant: str, asset_id: str) -> dict[str, str]:
    response = api.get(f"/v1/participants/{participant}/balances?asset_id={asset_id}")
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    return rows[0] if rows else {"available": "0", "held": "0", "deferred": "0"}
