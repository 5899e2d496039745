"""One local stack per test process (embedded moto), one organization per test.

Tests are isolated by tenancy, as production tenants are: each test gets a fresh
organization and key, so no test sees another's programs or assets. The emulator keeps no
table copies (see ``scrip_local.moto_patches``), so one stack serves the whole session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
    os.environ.pop(_name, None)

from scrip_local.stack import LocalStack  # noqa: E402


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(aws_port=None)
    server = local.serve("127.0.0.1", 0, background_delivery=False)
    local.base_url = f"http://127.0.0.1:{server.port}"  # type: ignore[attr-defined]
    yield local
    local.stop()


@dataclass
class Api:
    """An HTTP client of the local stack, authenticated as one organization."""

    base_url: str
    key: str
    organization_id: str
    session: requests.Session

    def request(
        self, method: str, path: str, *, auth: bool = True, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        merged = {"Authorization": f"Bearer {self.key}"} if auth else {}
        merged.update(headers or {})
        return self.session.request(method, self.base_url + path, headers=merged, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # Helpers for the common set-up steps -------------------------------------
    def create_program(self, **fields: Any) -> dict[str, Any]:
        response = self.post("/v1/programs", json={"name": "Coffee Club", **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_asset(self, program_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "program_id": program_id,
            "name": "Beans",
            "symbol": "BEAN",
            "inventory_mode": "SIMPLE",
            "issuance_policy": "UNLIMITED",
            "scale": 0,
            **fields,
        }
        response = self.post("/v1/assets", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


def new_api(stack: LocalStack) -> Api:
    organization_id, key, _ = stack.bootstrap_organization(None, name="Test organization")
    return Api(stack.base_url, key, organization_id, requests.Session())  # type: ignore[attr-defined]


@pytest.fixture
def api(stack: LocalStack) -> Api:
    return new_api(stack)


@pytest.fixture
def other_api(stack: LocalStack) -> Api:
    """A second organization, for isolation tests."""
    return new_api(stack)
