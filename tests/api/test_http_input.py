"""Malformed HTTP input gets a 4xx with the error body of 01-platform §4.9, never a 500.

The body is judged once for every route (``scrip.api.endpoint``), so one route stands for all;
the amount, e-mail and symbol cases check that validations match the whole text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from scrip.api.endpoint import with_json_body
from scrip.domain.amounts import parse_decimal
from scrip.domain.assets import InventoryMode, IssuancePolicy, new_asset
from scrip.domain.errors import UnsupportedMediaType, ValidationFailed
from tests.conftest import Api

PROGRAM_BODY = json.dumps({"name": "Coffee Club"})


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code and body["message"] and body["request_id"]
    assert response.headers["X-Request-Id"] == body["request_id"]
    return body


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "APPLICATION/JSON", "application/json; charset=utf-8", "Application/Json;charset=UTF-8"],
)
def test_every_spelling_of_json_is_accepted(api: Api, content_type: str) -> None:
    response = api.post("/v1/programs", data=PROGRAM_BODY, headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text


def test_a_body_without_content_type_is_read_as_json(api: Api) -> None:
    request = requests.Request("POST", api.base_url + "/v1/programs", data=PROGRAM_BODY.encode())
    prepared = api.session.prepare_request(request)
    prepared.headers.pop("Content-Type", None)
    prepared.headers["Authorization"] = f"Bearer {api.key}"
    assert api.session.send(prepared, timeout=30).status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
def test_other_media_types_are_415(api: Api, content_type: str) -> None:
    response = api.post("/v1/programs", data=PROGRAM_BODY, headers={"Content-Type": content_type})
    body = assert_error(response, 415, "unsupported_media_type")
    assert body["details"] == {"field": "Content-Type", "expected": "application/json", "received": content_type}
    assert api.get("/v1/programs").json()["data"] == []


def test_media_type_is_judged_after_the_key(api: Api) -> None:
    response = api.post("/v1/programs", auth=False, data=PROGRAM_BODY, headers={"Content-Type": "text/plain"})
    assert_error(response, 401, "unauthorized")


def test_an_empty_body_is_left_to_the_route(api: Api) -> None:
    response = api.post("/v1/programs", data=b"", headers={"Content-Type": "text/plain"})
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["field"] == "body"


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"name": "caf\xe9"}', b"\x80"])
def test_a_body_that_is_not_utf8_is_400(api: Api, raw: bytes) -> None:
    response = api.post("/v1/programs", data=raw, headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["field"] == "body" and body["details"]["reason"] == "invalid_encoding"


@pytest.mark.parametrize("escaped", ["\\udc00", "\\uD800x", "\\ud83d", "\\ude00\\ud83d"])
def test_a_lone_surrogate_escape_is_400(api: Api, escaped: str) -> None:
    """Free-form JSON (``event_data``, ``metadata``) took it, then failed at hashing: a 500."""
    program = api.create_program()
    event = {"program_id": program["id"], "external_id": "c1", "idempotency_key": "k1"}
    event |= {"event_timestamp": "2026-01-01T00:00:00Z", "event_data": {"note": "NOTE"}}
    raw = json.dumps(event).replace("NOTE", escaped)
    response = api.post("/v1/events", data=raw.encode(), headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["reason"] == "invalid_encoding"


def test_paired_surrogates_and_escaped_backslashes_are_text(api: Api) -> None:
    raw = '{"url": "https://8.8.8.8/hook", "enabled_events": ["*"], "metadata": {"a": "\\ud83d\\ude00", "b": "\\\\ud800"}}'
    response = api.post("/v1/webhook-endpoints", data=raw.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {"a": "\U0001f600", "b": "\\ud800"}


def test_an_integer_past_the_digit_limit_is_400(api: Api) -> None:
    raw = '{"name": "Coffee Club", "description": ' + "7" * 5000 + "}"
    response = api.post("/v1/programs", data=raw, headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["reason"] == "number_too_long"
    digits_in_text = {"url": "https://8.8.8.8/hook", "enabled_events": ["*"], "metadata": {"n": "7" * 5000}}
    assert api.post("/v1/webhook-endpoints", json=digits_in_text).status_code == 201


def test_a_body_on_get_or_delete_is_ignored(api: Api) -> None:
    program = api.create_program()
    hook = api.post("/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "enabled_events": ["*"]}).json()
    garbage: dict[str, Any] = {"data": b"\xff not json", "headers": {"Content-Type": "text/plain"}}
    assert api.get(f"/v1/programs/{program['id']}", **garbage).status_code == 200
    assert api.delete(f"/v1/webhook-endpoints/{hook['id']}", **garbage).status_code in (200, 204)


def test_a_base64_encoded_utf8_body_is_decoded() -> None:
    event = {"httpMethod": "POST", "headers": {"content-type": "application/json"}, "isBase64Encoded": True}
    prepared = with_json_body({**event, "body": "eyJuYW1lIjogIngifQ=="})
    assert prepared["body"] == '{"name": "x"}' and prepared["isBase64Encoded"] is False
    assert prepared["headers"] == {"Content-Type": "application/json"}


def test_the_gate_raises_the_spec_errors() -> None:
    with pytest.raises(UnsupportedMediaType):
        with_json_body({"httpMethod": "PATCH", "headers": {"Content-Type": "text/csv"}, "body": "a,b"})
    with pytest.raises(ValidationFailed):
        with_json_body({"httpMethod": "PUT", "headers": {}, "body": "not base64!", "isBase64Encoded": True})


# ------------------------------------------------ validations match the whole text


@pytest.mark.parametrize("text", ["5\n", "5\r\n", "\n5", " 5", "5 ", "5.\n", "-1\n"])
def test_an_amount_with_surrounding_whitespace_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_decimal(text, field="amount", allow_negative=True)
    assert parse_decimal("5", field="amount") == Decimal(5)


def test_an_amount_with_a_trailing_newline_is_400(api: Api) -> None:
    program = api.create_program()
    body = {"program_id": program["id"], "name": "Beans", "symbol": "BEAN", "scale": 0}
    body |= {"inventory_mode": "SIMPLE", "issuance_policy": "UNLIMITED", "max_transaction_amount": "5\n"}
    error = assert_error(api.post("/v1/assets", json=body), 400, "validation_error")
    assert error["details"]["field"] == "max_transaction_amount"


def test_an_email_with_a_trailing_newline_is_400(api: Api) -> None:
    response = api.post("/v1/participants", json={"external_id": "p1", "email": "rina@example.org\n"})
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["field"] == "email"


def test_a_symbol_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        new_asset(
            organization_id="o",
            asset_id="a",
            program_id="p",
            name="Beans",
            symbol="BEAN\n",
            inventory_mode=InventoryMode.SIMPLE,
            issuance_policy=IssuancePolicy.UNLIMITED,
            scale=0,
            max_transaction_amount=None,
            now=datetime.now(UTC),
        )
