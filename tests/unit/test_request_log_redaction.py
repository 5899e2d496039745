"""What a request log line may hold (domain/request_logs.py, api/endpoint.py): one test per
redaction rule, and the line read back as it was written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from scrip.api.endpoint import _request_log
from scrip.domain.organizations import Caller
from scrip.domain.request_logs import (
    LINE_KEY,
    REDACTED,
    NotARequestLog,
    error_code_of,
    from_line,
    log_id_of,
    redact_body,
    to_line,
)
from scrip_local.log_subscriptions import pattern_matcher

API_KEY = "sk_live_" + "A1b2C3d4" * 6
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
MOMENT = datetime(2026, 3, 2, 14, 5, 11, 123456, tzinfo=UTC)


def _event(body: str | None = None, method: str = "POST") -> dict[str, Any]:
    return {
        "resource": "/v1/programs/{id}",
        "path": "/v1/programs/p1",
        "httpMethod": method,
        "headers": {"Authorization": f"Bearer {API_KEY}", "X-API-Key": API_KEY, "User-Agent": "curl/8"},
        "requestContext": {
            "requestId": "4b2a3c1d-0000-4000-8000-00000000abcd",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _line(event: dict[str, Any], response: dict[str, Any]) -> str:
    log = _request_log(event, response, "req_4b2a3c1d00004000800000000000abcd", Caller("o1", "k1"), MOMENT, 12.5)
    return json.dumps(to_line(log))


def test_the_authorization_header_and_api_key_never_reach_the_line() -> None:
    line = _line(_event('{"name": "x"}'), {"statusCode": 200, "body": '{"id": "p1"}'})
    assert API_KEY not in line
    assert "Authorization" not in line and "Bearer" not in line
    fields = json.loads(line)[LINE_KEY]
    assert (fields["user_agent"], fields["ip_address"], fields["auth_type"]) == ("curl/8", "203.0.113.9", "api_key")
    assert fields["id"] == "4b2a3c1d-0000-4000-8000-00000000abcd"


def test_fields_named_like_secrets_are_redacted_at_any_depth() -> None:
    body = {"name": "n", "password": "p", "config": {"Client_Secret": "s", "apiKey": "k", "items": [{"token": "t"}]}}
    redacted = json.loads(redact_body(json.dumps(body)) or "")
    assert redacted == {
        "name": "n",
        "password": REDACTED,
        "config": {"Client_Secret": REDACTED, "apiKey": REDACTED, "items": [{"token": REDACTED}]},
    }


def test_a_webhook_endpoints_secret_in_a_response_is_redacted() -> None:
    response = {"statusCode": 201, "body": json.dumps({"id": "e1", "secret": WEBHOOK_SECRET, "url": "https://x"})}
    fields = json.loads(_line(_event("{}"), response))[LINE_KEY]
    assert WEBHOOK_SECRET not in json.dumps(fields)
    assert json.loads(fields["response_body"]) == {"id": "e1", "secret": REDACTED, "url": "https://x"}


def test_values_shaped_like_keys_or_secrets_are_redacted_whatever_their_field() -> None:
    body = json.dumps({"note": f"my key is {API_KEY}", "external_id": WEBHOOK_SECRET, "key": "gold", "tier": "sk_x"})
    assert json.loads(redact_body(body) or "") == {
        "note": f"my key is {REDACTED}",
        "external_id": REDACTED,
        "key": "gold",  # a program's or tier's key is data, not a secret
        "tier": "sk_x",
    }
    assert redact_body(f"not json {API_KEY} {WEBHOOK_SECRET}") == f"not json {REDACTED} {REDACTED}"


def test_a_long_body_is_cut_with_a_marker() -> None:
    text = json.dumps({"description": "é" * 20_000}, ensure_ascii=False, separators=(",", ":"))
    cut = redact_body(text, max_bytes=1000) or ""
    kept, _, marker = cut.partition("…[truncated ")
    assert len(kept.encode()) <= 1000
    assert marker == f"{len(text.encode()) - len(kept.encode())} bytes]"
    assert redact_body('{"a": 1}') == '{"a":1}' and redact_body("") is None and redact_body(None) is None


def test_a_body_too_large_to_redact_quickly_is_not_kept() -> None:
    huge = json.dumps({"password": "p", "padding": "x" * (1024 * 1024)})
    assert redact_body(huge) == f"[body of {len(huge)} characters not kept]"


def test_a_get_requests_body_is_not_kept_and_an_error_keeps_its_code() -> None:
    fields = json.loads(_line(_event("ignored", method="GET"), {"statusCode": 404, "body": '{"code": "not_found"}'}))
    assert fields[LINE_KEY]["request_body"] is None
    assert fields[LINE_KEY]["error_code"] == "not_found"
    assert error_code_of(200, '{"code": "x"}') is None and error_code_of(500, "not json") is None


def test_a_line_reads_back_as_the_log_it_was_written_from() -> None:
    log = _request_log(_event('{"a": 1}'), {"statusCode": 200, "body": "{}"}, "req_" + "ab" * 16, None, MOMENT, 3.25)
    assert from_line(json.loads(json.dumps(to_line(log)))) == log
    assert log.organization_id is None and log.auth_type is None


@pytest.mark.parametrize(
    "line",
    [
        None,
        [],
        {"other": {}},
        {LINE_KEY: {"v": 2}},
        {LINE_KEY: {"v": 1, "id": "x", "status_code": 200, "duration_ms": 1}},
    ],
)
def test_other_lines_are_not_request_logs(line: Any) -> None:
    with pytest.raises(NotARequestLog):
        from_line(line)


def test_request_ids_map_to_log_ids_with_or_without_their_prefix() -> None:
    uuid_text = "4b2a3c1d-0000-4000-8000-00000000abcd"
    assert log_id_of("req_4b2a3c1d00004000800000000000abcd") == uuid_text
    assert log_id_of("4b2a3c1d00004000800000000000abcd") == uuid_text
    assert log_id_of(uuid_text) == uuid_text
    assert log_id_of("req_nope") is None


def test_the_local_filter_pattern_selects_request_log_lines_only() -> None:
    matches = pattern_matcher('{ $.scrip_request_log.request_id = "*" }')
    assert matches(json.dumps({LINE_KEY: {"request_id": "req_1"}}))
    assert not matches(json.dumps({"level": "INFO", "message": "scrip_request_log"}))
    assert not matches("START RequestId: 1")
    with pytest.raises(NotImplementedError):
        pattern_matcher("ERROR")
