"""The OpenAPI document lists, for each route of the spending half (P9), every error status its
spec gives it, each with the error body's schema (05 §1-3, 01 §6.9.7, decision 15)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from scrip_local.stack import LocalStack

# (method, path) → the 4xx statuses the spec documents for the route, beyond 401 (every route).
SPEC_ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/v1/programs/{id}/rewards"): {400, 404, 409, 422},  # 05 §1.4.1
    ("get", "/v1/programs/{id}/rewards"): {400, 404},  # §1.4.2: bad limit; unknown program
    ("get", "/v1/programs/{id}/rewards/{rewardId}"): {404},  # §1.4.3
    ("patch", "/v1/programs/{id}/rewards/{rewardId}"): {400, 404, 409},  # §1.4.4
    ("post", "/v1/participants/{id}/redemptions"): {400, 404, 409, 422},  # §2.3, §2.5, §0.1
    ("post", "/v1/participants/{id}/redemptions/items"): {400, 404, 409, 422},  # §2.3, §2.6, §0.1
    ("get", "/v1/participants/{id}/redemptions"): {400, 404},  # §2.8
    ("get", "/v1/redemptions/{id}"): {404},  # §2.7
    ("post", "/v1/redemptions/{id}/reverse"): {400, 404, 409, 422},  # §2.9.2, §0.1
    ("get", "/v1/redemptions/{id}/reversals"): {400, 404},  # §2.9.3
    ("post", "/v1/transfers"): {400, 404, 409, 422},  # §3.1, §0.1
    ("get", "/v1/events/by-key"): {400, 404},  # decision 15
    ("delete", "/v1/programs/{id}/assets/{assetId}"): {404, 409},  # 01 §6.9.7
}


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    response = requests.get(f"{stack.base_url}/v1/openapi.json", timeout=60)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(("method", "path"), sorted(SPEC_ERRORS), ids=lambda v: str(v))
def test_each_spec_error_status_is_documented_with_the_error_body(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    missing = {status for status in SPEC_ERRORS[(method, path)] | {401} if str(status) not in responses}
    assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
    for status in SPEC_ERRORS[(method, path)] | {401}:
        described = responses[str(status)]
        assert described["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert "`" in described["description"], f"{status} names no code"  # the codes it carries


def test_a_declared_422_replaces_the_framework_s_validation_error(document: dict[str, Any]) -> None:
    """Bad input is 400 here; a 422 listed by the route is the domain's, with its codes."""
    described = document["paths"]["/v1/transfers"]["post"]["responses"]["422"]
    assert "insufficient_balance" in described["description"]
    assert "HTTPValidationError" not in str(described)


def test_a_204_documents_no_body(document: dict[str, Any]) -> None:
    assert document["paths"]["/v1/programs/{id}/assets/{assetId}"]["delete"]["responses"]["204"]["content"] == {}
