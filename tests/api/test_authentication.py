"""API keys (01-platform §3) and tenant isolation (§2.1), through HTTP."""

from __future__ import annotations

import uuid

import pytest

from scrip.services import organizations
from tests.conftest import Api


def _assert_unauthorized(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["request_id"].startswith("req_")
    assert response.headers["X-Request-Id"] == body["request_id"]


def test_missing_key_is_401(api: Api) -> None:
    _assert_unauthorized(api.get("/v1/programs", auth=False))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic c2tfbGl2ZV94eHg="},
        {"X-API-Key": "pk_live_something"},
        {"X-API-Key": ""},
    ],
)
def test_malformed_key_is_401(api: Api, headers: dict[str, str]) -> None:
    _assert_unauthorized(api.get("/v1/programs", auth=False, headers=headers))


def test_unknown_key_is_401(api: Api) -> None:
    _assert_unauthorized(api.get("/v1/programs", auth=False, headers={"Authorization": "Bearer sk_live_" + "x" * 43}))


def test_revoked_key_is_401_and_other_keys_keep_working(api: Api) -> None:
    second, raw = organizations.issue_api_key(api.organization_id, "second")
    assert api.get("/v1/programs", auth=False, headers={"X-API-Key": raw}).status_code == 200
    organizations.revoke_api_key(api.organization_id, second.id)
    _assert_unauthorized(api.get("/v1/programs", auth=False, headers={"X-API-Key": raw}))
    assert api.get("/v1/programs").status_code == 200


def test_both_transports_and_case_insensitive_bearer(api: Api) -> None:
    assert api.get("/v1/programs", auth=False, headers={"X-API-Key": api.key}).status_code == 200
    assert api.get("/v1/programs", auth=False, headers={"authorization": f"bearer {api.key}"}).status_code == 200
    assert api.get("/v1/programs", auth=False, headers={"AUTHORIZATION": f"BEARER {api.key}"}).status_code == 200


def test_authorization_header_wins_over_x_api_key(api: Api) -> None:
    response = api.get(
        "/v1/programs", auth=False, headers={"Authorization": "Bearer sk_live_wrong", "X-API-Key": api.key}
    )
    _assert_unauthorized(response)


def test_authentication_comes_before_validation(api: Api) -> None:
    """A bad body without a key is 401, not 400: nothing is revealed to an anonymous caller."""
    _assert_unauthorized(api.post("/v1/programs", auth=False, data="{not json"))


def test_key_is_stored_hashed_and_never_logged(api: Api, stack, capfd) -> None:  # type: ignore[no-untyped-def]
    from boto3.dynamodb.conditions import Attr

    from scrip.storage import table

    api.create_program()
    api.get("/v1/programs", auth=False, headers={"Authorization": "Bearer sk_live_never_logged_secret"})
    scanned = table.client().scan(
        TableName=table.table_name(), FilterExpression=Attr("organization_id").eq(api.organization_id)
    )
    stored = repr(scanned["Items"])
    assert api.key not in stored
    out, err = capfd.readouterr()
    assert api.key not in out + err
    assert "sk_live_never_logged_secret" not in out + err


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/programs/{program}", None),
        ("PATCH", "/v1/programs/{program}", {"name": "Stolen"}),
        ("GET", "/v1/programs/{program}/assets", None),
        ("POST", "/v1/programs/{program}/assets", {"asset_id": "{asset}"}),
        ("GET", "/v1/assets/{asset}", None),
        ("PATCH", "/v1/assets/{asset}", {"name": "Stolen"}),
    ],
)
def test_another_organizations_resources_are_404(api: Api, other_api: Api, method: str, path: str, body) -> None:  # type: ignore[no-untyped-def]
    program = api.create_program()
    asset = api.create_asset(program["id"])
    ids = {"program": program["id"], "asset": asset["id"]}
    url = path.format(**ids)
    payload = {k: v.format(**ids) for k, v in body.items()} if body else None
    response = other_api.request(method, url, json=payload)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    # and nothing changed for the owner
    assert api.get(f"/v1/programs/{program['id']}").json()["name"] == program["name"]
    assert api.get(f"/v1/assets/{asset['id']}").json()["name"] == asset["name"]


def test_lists_never_show_another_organizations_data(api: Api, other_api: Api) -> None:
    program = api.create_program(name="Mine")
    api.create_asset(program["id"], symbol="MINE")
    assert other_api.get("/v1/programs").json()["data"] == []
    assert other_api.get("/v1/assets").json()["data"] == []
    assert other_api.get(f"/v1/assets?program_id={program['id']}").json()["data"] == []


def test_unknown_route_is_404_not_found(api: Api) -> None:
    for method, path in [("GET", "/v1/nothing"), ("DELETE", "/v1/programs"), ("PUT", f"/v1/assets/{uuid.uuid4()}")]:
        response = api.request(method, path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
