"""Helpers shared by the automation HTTP tests (test_automation_runs.py, test_subscriptions.py):
create an automation noted for archiving, its routes, the scheduler's run, events by key."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api

SCHEDULER = "AutomationSchedulerFunction"


def create(
    api: Api, created: list[tuple[str, str]], program_id: str, *, event_name: str = "bonus", **body: Any
) -> dict[str, Any]:
    """POST an automation (a unique name unless given) and note it in the ``created`` fixture."""
    response = api.post(
        f"/v1/programs/{program_id}/automations",
        json={"name": f"auto {uuid.uuid4()}", "event_name": event_name, **body},
    )
    assert response.status_code == 201, response.text
    automation = dict(response.json())
    created.append((program_id, automation["id"]))
    return automation


def url(automation: dict[str, Any], action: str = "") -> str:
    base = f"/v1/programs/{automation['program_id']}/automations/{automation['id']}"
    return f"{base}/{action}" if action else base


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    return body


def by_key(api: Api, program_id: str, key: str) -> dict[str, Any] | None:
    """The event ingested under an idempotency key (an automation's fire), or None."""
    response = api.get("/v1/events/by-key", params={"program_id": program_id, "idempotency_key": key})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json())


def fire(api: Api) -> dict[str, Any]:
    """One run of the automation scheduler function (the local schedules route); its result."""
    response = api.post("/_local/schedules", json={"function": SCHEDULER})
    assert response.status_code == 200, response.text
    return dict(response.json()["result"])
