"""POST /v1/rules/validate (03 §3.7)."""

from __future__ import annotations

import pytest

from tests.conftest import Api


@pytest.mark.parametrize(
    "condition",
    [
        'event.type == "purchase"',
        "event.amount > 100",
        'sets.contains(participant.tags, ["vip"])',
        'get(participant.counters, "orders", 0.0) >= 10.0',
    ],
)
def test_valid_conditions(api: Api, condition: str) -> None:
    response = api.post("/v1/rules/validate", json={"condition": condition})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True and body["message"] == "CEL condition is valid" and "syntax only" in body["note"]


def test_invalid_condition_reports_where(api: Api) -> None:
    response = api.post("/v1/rules/validate", json={"condition": "event.amount >= "})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False and body["message"] and body["line"] == 1 and body["column"]
    assert body.get("note") is None


def test_bounds_and_input_validation(api: Api) -> None:
    too_long = api.post("/v1/rules/validate", json={"condition": "1 == 1 && " * 500 + "true"}).json()
    assert too_long["valid"] is False and "4096" in too_long["message"]
    for body in [{}, {"condition": ""}, {"condition": 5}]:
        assert api.post("/v1/rules/validate", json=body).status_code == 400
    assert api.post("/v1/rules/validate", json={"condition": "true"}, auth=False).status_code == 401
