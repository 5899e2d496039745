"""The report routes' input (05 §4.1–4.4): every documented validation is a 400
``validation_error`` naming the field, unknown ids are 404, and a cursor pages the rows."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import make_ledger
from tests.conftest import Api

REPORTS = (
    "/v1/reports/ledger-summary",
    "/v1/reports/program-activity",
    "/v1/reports/liability",
    "/v1/reports/liability-rollforward",
)
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-31T23:59:59Z"}


def _invalid(api: Api, path: str, params: dict[str, str], field: str) -> dict[str, object]:
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["details"]["field"] == field, body
    return dict(body["details"])


@pytest.mark.parametrize("path", ["/v1/reports/ledger-summary", "/v1/reports/program-activity"])
@pytest.mark.parametrize(("given", "missing"), [("from", "to"), ("to", "from")])
def test_from_and_to_come_together(api: Api, path: str, given: str, missing: str) -> None:
    details = _invalid(api, path, {given: PERIOD[given]}, missing)
    assert details["reason"] == "missing"


def test_the_rollforward_requires_both_ends(api: Api) -> None:
    _invalid(api, "/v1/reports/liability-rollforward", {"to": PERIOD["to"]}, "from")
    _invalid(api, "/v1/reports/liability-rollforward", {"from": PERIOD["from"]}, "to")


@pytest.mark.parametrize("path", [p for p in REPORTS if "liability" not in p or "rollforward" in p])
def test_from_after_to_is_refused(api: Api, path: str) -> None:
    details = _invalid(api, path, {"from": PERIOD["to"], "to": PERIOD["from"]}, "from")
    assert details["reason"] == "invalid_range"


def test_from_equal_to_to_is_one_instant(api: Api) -> None:
    instant = PERIOD["from"]
    response = api.get("/v1/reports/liability-rollforward", params={"from": instant, "to": instant})
    assert response.status_code == 200, response.text
    assert response.json()["from"] == response.json()["to"] == "2026-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/reports/ledger-summary", "from"),
        ("/v1/reports/program-activity", "since"),
        ("/v1/reports/liability", "as_of"),
        ("/v1/reports/liability-rollforward", "to"),
    ],
)
@pytest.mark.parametrize("value", ["yesterday", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z"])
def test_malformed_timestamps_are_refused(api: Api, path: str, field: str, value: str) -> None:
    params = dict(PERIOD) if path != "/v1/reports/liability" else {}
    params[field] = value
    if path == "/v1/reports/program-activity":
        params = {field: value}
    _invalid(api, path, params, field)


@pytest.mark.parametrize("value", ["maybe", "2", ""])
def test_by_bucket_must_be_a_boolean(api: Api, value: str) -> None:
    _invalid(api, "/v1/reports/liability", {"by_bucket": value}, "by_bucket")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/reports/ledger-summary", "program_id"),
        ("/v1/reports/liability", "program_id"),
        ("/v1/reports/liability", "asset_id"),
        ("/v1/reports/liability-rollforward", "asset_id"),
    ],
)
def test_malformed_ids_are_refused(api: Api, path: str, field: str) -> None:
    params = dict(PERIOD) if "rollforward" in path else {}
    _invalid(api, path, {**params, field: "not-a-uuid"}, field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/reports/ledger-summary", "program_id"),
        ("/v1/reports/liability", "program_id"),
        ("/v1/reports/liability", "asset_id"),
        ("/v1/reports/liability-rollforward", "program_id"),
        ("/v1/reports/liability-rollforward", "asset_id"),
    ],
)
def test_unknown_ids_are_not_found(api: Api, other_api: Api, path: str, field: str) -> None:
    params = dict(PERIOD) if "rollforward" in path else {}
    unknown = api.get(path, params={**params, field: str(uuid.uuid4())})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "not_found"
    # Another organization's program or asset is as unknown as a made-up one.
    ledger = make_ledger(other_api)
    theirs = ledger.program["id"] if field == "program_id" else ledger.points["id"]
    assert api.get(path, params={**params, field: theirs}).status_code == 404


@pytest.mark.parametrize("path", REPORTS)
def test_limit_and_cursor_are_checked(api: Api, path: str) -> None:
    params = dict(PERIOD) if "rollforward" in path else {}
    _invalid(api, path, {**params, "limit": "0"}, "limit")
    _invalid(api, path, {**params, "limit": "201"}, "limit")
    _invalid(api, path, {**params, "cursor": "garbage"}, "cursor")


def test_an_organization_without_activity_reports_no_rows(api: Api) -> None:
    for path in REPORTS:
        params = dict(PERIOD) if "rollforward" in path else {}
        response = api.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["data"] == []
        assert response.json()["pagination"] == {"has_more": False, "next_cursor": None}
    as_of = api.get("/v1/reports/liability", params={"as_of": "2026-01-01T10:00:00+02:00"}).json()["as_of"]
    assert as_of == "2026-01-01T08:00:00.000000Z"


def test_a_cursor_pages_rows_and_belongs_to_its_query(api: Api) -> None:
    ledger = make_ledger(api)
    participant = ledger.participant()
    assert ledger.adjust(participant, "10").status_code == 200
    assert ledger.fund("100").status_code == 200
    assert ledger.adjust(participant, "2.50", asset=ledger.cash).status_code == 200
    first = api.get("/v1/reports/liability", params={"limit": "1"}).json()
    assert len(first["data"]) == 1 and first["pagination"]["has_more"]
    second = api.get("/v1/reports/liability", params={"limit": "1", "cursor": first["pagination"]["next_cursor"]})
    assert second.status_code == 200
    assert not second.json()["pagination"]["has_more"]
    assert {first["data"][0]["asset_id"], second.json()["data"][0]["asset_id"]} == {
        ledger.points["id"],
        ledger.cash["id"],
    }
    mismatch = api.get(
        "/v1/reports/liability",
        params={"limit": "1", "by_bucket": "true", "cursor": first["pagination"]["next_cursor"]},
    )
    assert mismatch.status_code == 400 and mismatch.json()["details"]["field"] == "cursor"


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    response = requests.get(f"{stack.base_url}/v1/openapi.json", timeout=60)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize("path", REPORTS)
def test_the_document_lists_each_report_s_errors_with_their_codes(document: dict[str, Any], path: str) -> None:
    responses = document["paths"][path]["get"]["responses"]
    expected = {
        "400": "validation_error",
        "401": "unauthorized",
        "500": "unclassified_activity",
        "503": "aggregates_behind",
    }
    if path != "/v1/reports/program-activity":
        expected["404"] = "not_found"
    for status, code in expected.items():
        assert code in responses[status]["description"], (path, status)
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_document_states_the_inferred_choices(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    activity = schemas["ProgramActivityRow"]["properties"]
    assert "COMPLETED" in activity["event_count"]["description"]
    assert "[inferred]" in activity["unique_participants"]["description"]
    summary = schemas["LedgerSummaryRow"]["properties"]
    assert "not zero" in summary["participant_count"]["description"]
    rollforward = document["paths"]["/v1/reports/liability-rollforward"]["get"]
    assert {p["name"] for p in rollforward["parameters"] if p.get("required")} == {"from", "to"}
