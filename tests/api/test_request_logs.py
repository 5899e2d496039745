"""Usage and request logs over HTTP (05 §4.7-4.8): requests are logged off their latency path
(the log group's subscription, drained here), found by request id, filtered, sorted, redacted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from scrip.services import request_logs as request_log_service
from scrip_local.log_subscriptions import subscription_event
from scrip_local.stack import LocalStack
from tests.api.test_webhook_endpoints import create_endpoint
from tests.conftest import Api

LOGS = "/v1/logs"


def logs(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get(LOGS, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def all_pages(api: Api, **params: Any) -> tuple[list[dict[str, Any]], int]:
    found, pages, cursor = [], 0, None
    while True:
        response = api.get(LOGS, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["data"])
        pages += 1
        cursor = body["pagination"]["next_cursor"]
        if not body["pagination"]["has_more"]:
            return found, pages


def assert_invalid(response: requests.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field


def three_requests(api: Api) -> dict[str, str]:
    """A 200, a 400 and a 404: their request ids by status."""
    ok = api.get("/v1/programs")
    invalid = api.post("/v1/programs", json={"name": ""})
    missing = api.get(f"/v1/participants/{uuid.uuid4()}")
    assert (ok.status_code, invalid.status_code, missing.status_code) == (200, 400, 404)
    return {str(r.status_code): r.headers["X-Request-Id"] for r in (ok, invalid, missing)}


def test_an_error_responses_request_id_finds_its_log_with_its_error_code(api: Api, stack: LocalStack) -> None:
    missing = api.get(f"/v1/participants/{uuid.uuid4()}", headers={"User-Agent": "scrip-tests/1"})
    request_id = missing.json()["request_id"]
    assert missing.headers["X-Request-Id"] == request_id
    assert logs(api, request_id=request_id) == []  # not delivered yet: nothing was written by the request
    stack.drain()
    for spelling in (request_id, request_id.removeprefix("req_")):
        (found,) = logs(api, request_id=spelling)
        assert found["request_id"] == request_id
        assert (found["status_code"], found["error_code"], found["method"]) == (404, "not_found", "GET")
        assert found["route_pattern"] == "/v1/participants/{id}"
        assert found["path"].startswith("/v1/participants/")
        assert found["auth_type"] == "api_key"
        assert found["duration_ms"] > 0
    detail = api.get(f"{LOGS}/{found['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["id"] == str(uuid.UUID(request_id.removeprefix("req_")))
    assert body["user_agent"] == "scrip-tests/1"
    assert body["ip_address"] == "127.0.0.1"
    assert body["request_body"] is None
    assert '"code":"not_found"' in body["response_body"]
    assert api.key not in detail.text


def test_secrets_are_redacted_in_the_stored_bodies(api: Api, stack: LocalStack) -> None:
    created = create_endpoint(api, metadata={"note": "kept", "password": "hunter2", "nested": {"api_key": api.key}})
    assert created["secret"].startswith("whsec_")
    stack.drain()
    (line,) = logs(api, method="POST", route_pattern="/v1/webhook-endpoints")
    detail = api.get(f"{LOGS}/{line['id']}").json()
    assert created["secret"] not in detail["response_body"]
    assert '"secret":"[REDACTED]"' in detail["response_body"]
    assert '"note":"kept"' in detail["request_body"]
    assert "hunter2" not in detail["request_body"] and api.key not in detail["request_body"]
    assert '"password":"[REDACTED]"' in detail["request_body"]
    assert created["id"] in detail["response_body"]  # only the secrets go


def test_usage_counts_each_days_requests_errors_and_latency(api: Api, stack: LocalStack) -> None:
    three_requests(api)
    stack.drain()
    response = api.get("/v1/usage")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 31  # the last 30 days and today, oldest first
    today = datetime.now(UTC).date().isoformat()
    assert body["data"][-1]["date"] == today
    assert (body["data"][-1]["request_count"], body["data"][-1]["error_count"]) == (3, 2)
    assert body["data"][-1]["avg_latency_ms"] > 0
    assert all(row["request_count"] == 0 for row in body["data"][:-1])
    window = api.get("/v1/usage", params={"from": f"{today}T00:00:00Z", "to": f"{today}T23:59:59Z"}).json()
    assert window["from"] == f"{today}T00:00:00.000000Z"
    assert [row["date"] for row in window["data"]] == [today]
    assert window["data"][0]["request_count"] == 3  # the usage request before it is not delivered yet
    stack.drain()
    assert api.get("/v1/usage").json()["data"][-1]["request_count"] == 5


def test_a_repeated_subscription_delivery_changes_no_count(api: Api, stack: LocalStack) -> None:
    three_requests(api)
    lines = stack.log_subscriptions.waiting()
    stack.drain()
    ingest = stack.functions["RequestLogIngestFunction"]
    again = ingest.invoke(subscription_event("FunctionLogGroup", "RequestLogSubscription", lines))
    assert again["stored"] == 0 and again["received"] >= 3
    usage = api.get("/v1/usage").json()["data"][-1]
    assert (usage["request_count"], usage["error_count"]) == (3, 2)
    assert len(logs(api)) == 3


def test_filters_select_by_method_route_auth_type_and_status(api: Api, stack: LocalStack) -> None:
    ids = three_requests(api)
    stack.drain()
    assert [log["request_id"] for log in logs(api, method="post")] == [ids["400"]]
    assert [log["request_id"] for log in logs(api, route_pattern="/v1/participants/{id}")] == [ids["404"]]
    assert {log["request_id"] for log in logs(api, status_min=400)} == {ids["400"], ids["404"]}
    assert [log["request_id"] for log in logs(api, status_min=400, status_max=499, method="GET")] == [ids["404"]]
    assert len(logs(api, auth_type="api_key")) == 3  # the list requests are not delivered yet
    soon, later = ((datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ") for hours in (1, 2))
    assert logs(api, **{"from": soon, "to": later}) == []
    assert logs(api, **{"from": "1970-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z"}) == []
    assert len(logs(api, **{"from": "1970-01-01T00:00:00Z", "status_min": 400})) == 2


def test_logs_are_newest_first_and_sort_by_status_or_duration(api: Api, stack: LocalStack) -> None:
    ids = three_requests(api)
    stack.drain()
    newest_first = logs(api)
    assert [log["request_id"] for log in newest_first] == [ids["404"], ids["400"], ids["200"]]
    assert [log["request_id"] for log in logs(api, sort_dir="asc")][:3] == [ids["200"], ids["400"], ids["404"]]
    by_status = logs(api, sort_by="status_code", sort_dir="asc")
    assert [log["status_code"] for log in by_status] == sorted(log["status_code"] for log in by_status)
    assert by_status[-1]["request_id"] == ids["404"]
    slowest = logs(api, sort_by="duration_ms")
    assert [log["duration_ms"] for log in slowest] == sorted((log["duration_ms"] for log in slowest), reverse=True)


@pytest.mark.parametrize("params", [{}, {"sort_by": "duration_ms", "sort_dir": "asc"}, {"sort_dir": "asc"}])
def test_pages_follow_the_cursor_without_repeats_or_gaps(api: Api, stack: LocalStack, params: dict[str, str]) -> None:
    for _ in range(5):
        api.get("/v1/programs")
    stack.drain()
    found, pages = all_pages(api, limit=2, status_max=299, route_pattern="/v1/programs", **params)
    assert len(found) == 5 and len({log["id"] for log in found}) == 5
    assert pages == 3


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_a_page_stops_at_its_read_budget_and_the_cursor_goes_on(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch, sort_dir: str
) -> None:
    """Filters that rarely match make short pages (each reads at most its budget), never lost rows."""
    wanted = [api.get(f"/v1/participants/{uuid.uuid4()}").headers["X-Request-Id"] for _ in range(2)]
    for _ in range(12):
        api.get("/v1/programs")
    stack.drain()
    monkeypatch.setattr(request_log_service, "MAX_EXAMINED_PER_PAGE", 8)  # 2 lines per shard and page
    found, pages = all_pages(api, status_min=404, sort_dir=sort_dir)
    assert [log["request_id"] for log in found] == (wanted if sort_dir == "asc" else wanted[::-1])
    assert pages > 1


def test_sorting_a_window_with_too_many_requests_asks_for_a_narrower_one(
    api: Api, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_requests(api)
    stack.drain()
    monkeypatch.setattr(request_log_service, "MAX_SORTED_WINDOW", 2)
    assert_invalid(api.get(LOGS, params={"sort_by": "status_code"}), "from")
    assert len(logs(api)) == 3  # the default sort walks the index: no bound


def test_another_organizations_log_is_not_found(api: Api, other_api: Api, stack: LocalStack) -> None:
    request_id = api.get("/v1/programs").headers["X-Request-Id"]
    stack.drain()
    log_id = str(uuid.UUID(request_id.removeprefix("req_")))
    assert api.get(f"{LOGS}/{log_id}").status_code == 200
    for response in (other_api.get(f"{LOGS}/{log_id}"), api.get(f"{LOGS}/{uuid.uuid4()}")):
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert logs(other_api, request_id=request_id) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort_by": "path"}, "sort_by"),
        ({"sort_dir": "up"}, "sort_dir"),
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"status_min": 500, "status_max": 400}, "status_min"),
        ({"status_min": 99}, "status_min"),
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-03-01T00:00:00"}, "to"),
        ({"request_id": "req_not-a-request"}, "request_id"),
        ({"auth_type": "password"}, "auth_type"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_log_queries_are_400(api: Api, params: dict[str, Any], field: str) -> None:
    assert_invalid(api.get(LOGS, params=params), field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"from": "2026-03-01"}, "from"),
    ],
)
def test_bad_usage_windows_are_400(api: Api, params: dict[str, Any], field: str) -> None:
    assert_invalid(api.get("/v1/usage", params=params), field)


def test_a_bad_log_id_is_400(api: Api) -> None:
    assert_invalid(api.get(f"{LOGS}/not-a-uuid"), "id")
