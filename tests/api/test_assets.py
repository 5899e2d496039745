"""Assets (01-platform §7) and asset linking (§6.7) through HTTP against the local stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api


def test_create_asset(api: Api) -> None:
    program = api.create_program()
    body = {
        "program_id": program["id"],
        "name": "Cashback",
        "symbol": "CASH",
        "inventory_mode": "LOT",
        "issuance_policy": "PREFUNDED",
        "scale": 2,
        "max_transaction_amount": "500",
    }
    response = api.post("/v1/assets", json=body)
    assert response.status_code == 201, response.text
    asset = response.json()
    assert asset["program_ids"] == [program["id"]]
    assert asset["status"] == "ACTIVE" and asset["deleted_at"] is None
    assert asset["max_transaction_amount"] == "500.00"  # rendered at the asset's scale
    assert "program_id" not in asset
    assert {k: asset[k] for k in ("name", "symbol", "inventory_mode", "issuance_policy", "scale")} == {
        "name": "Cashback",
        "symbol": "CASH",
        "inventory_mode": "LOT",
        "issuance_policy": "PREFUNDED",
        "scale": 2,
    }
    assert api.get(f"/v1/assets/{asset['id']}").json() == asset


def _valid(program: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "program_id": program,
        "name": "Beans",
        "symbol": "BEAN",
        "inventory_mode": "SIMPLE",
        "issuance_policy": "UNLIMITED",
        "scale": 0,
    }
    for key, value in overrides.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"program_id": ...}, "program_id"),
        ({"name": ...}, "name"),
        ({"symbol": ...}, "symbol"),
        ({"inventory_mode": ...}, "inventory_mode"),
        ({"issuance_policy": ...}, "issuance_policy"),
        ({"scale": ...}, "scale"),
        ({"program_id": "not-a-uuid"}, "program_id"),
        ({"name": ""}, "name"),
        ({"name": "n" * 256}, "name"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "S" * 17}, "symbol"),
        ({"symbol": "BE-AN"}, "symbol"),
        ({"symbol": "BÉAN"}, "symbol"),
        ({"symbol": "BE AN"}, "symbol"),
        ({"scale": -1}, "scale"),
        ({"scale": 19}, "scale"),
        ({"scale": "2"}, "scale"),
        ({"scale": 2.5}, "scale"),
        ({"scale": 2.0}, "scale"),
        ({"scale": True}, "scale"),
        ({"inventory_mode": "simple"}, "inventory_mode"),
        ({"inventory_mode": "FIFO"}, "inventory_mode"),
        ({"issuance_policy": "CAPPED"}, "issuance_policy"),
        ({"max_transaction_amount": "-5"}, "max_transaction_amount"),
        ({"max_transaction_amount": "0"}, "max_transaction_amount"),
        ({"max_transaction_amount": "1e3"}, "max_transaction_amount"),
        ({"max_transaction_amount": "1,000"}, "max_transaction_amount"),
        ({"max_transaction_amount": " 10"}, "max_transaction_amount"),
        ({"max_transaction_amount": "ten"}, "max_transaction_amount"),
        ({"max_transaction_amount": 100}, "max_transaction_amount"),
        ({"max_transaction_amount": "."}, "max_transaction_amount"),
    ],
)
def test_create_asset_validation(api: Api, overrides: dict[str, Any], field: str) -> None:
    program = api.create_program()
    response = api.post("/v1/assets", json=_valid(program["id"], **overrides))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == field
    assert api.get("/v1/assets").json()["data"] == []  # nothing half-written


@pytest.mark.parametrize(("scale", "amount"), [(0, "10.5"), (2, "1.005"), (0, "0.1")])
def test_max_transaction_amount_finer_than_scale_is_invalid_scale(api: Api, scale: int, amount: str) -> None:
    program = api.create_program()
    response = api.post("/v1/assets", json=_valid(program["id"], scale=scale, max_transaction_amount=amount))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_scale"


def test_trailing_zeros_are_not_extra_precision(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], scale=0, max_transaction_amount="14.000")
    assert asset["max_transaction_amount"] == "14"


def test_scale_bounds_are_inclusive(api: Api) -> None:
    program = api.create_program()
    assert api.create_asset(program["id"], symbol="ZERO", scale=0)["scale"] == 0
    big = api.create_asset(program["id"], symbol="MAX", scale=18, max_transaction_amount="0.000000000000000001")
    assert big["max_transaction_amount"] == "0.000000000000000001"


def test_symbol_is_unique_per_organization_case_insensitively(api: Api, other_api: Api) -> None:
    program = api.create_program()
    api.create_asset(program["id"], symbol="Pts")
    duplicate = api.post("/v1/assets", json=_valid(program["id"], symbol="PTS"))
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "conflict"
    other_program = api.create_program(name="Other")
    assert api.post("/v1/assets", json=_valid(other_program["id"], symbol="pts")).status_code == 409
    # another organization may use it
    theirs = other_api.create_program()
    assert other_api.create_asset(theirs["id"], symbol="PTS")["symbol"] == "PTS"
    assert [a["symbol"] for a in api.get("/v1/assets").json()["data"]] == ["Pts"]


def test_create_asset_for_unknown_or_foreign_program_is_404(api: Api, other_api: Api) -> None:
    response = api.post("/v1/assets", json=_valid(str(uuid.uuid4())))
    assert response.status_code == 404
    foreign = other_api.create_program()
    assert api.post("/v1/assets", json=_valid(foreign["id"])).status_code == 404
    # the symbol was not claimed by the failed attempts
    program = api.create_program()
    assert api.create_asset(program["id"])["symbol"] == "BEAN"


def test_get_asset_errors(api: Api) -> None:
    assert api.get(f"/v1/assets/{uuid.uuid4()}").status_code == 404
    assert api.get("/v1/assets/123").status_code == 400


def test_update_asset_fields(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], scale=2, max_transaction_amount="500")
    path = f"/v1/assets/{asset['id']}"
    renamed = api.patch(path, json={"name": "Cashback (USD)", "max_transaction_amount": "250.5"}).json()
    assert renamed["name"] == "Cashback (USD)"
    assert renamed["max_transaction_amount"] == "250.50"
    cleared = api.patch(path, json={"max_transaction_amount": None}).json()
    assert cleared["max_transaction_amount"] is None
    assert cleared["name"] == "Cashback (USD)"
    kept = api.patch(path, json={}).json()
    assert kept == cleared


def test_immutable_asset_fields_are_ignored(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"])
    body = {"symbol": "NEW", "scale": 5, "inventory_mode": "LOT", "issuance_policy": "PREFUNDED", "program_ids": []}
    response = api.patch(f"/v1/assets/{asset['id']}", json=body)
    assert response.status_code == 200
    assert response.json() == asset


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"status": "ACTIVE"}, "validation_error", "status"),
        ({"status": "DELETED"}, "validation_error", "status"),
        ({"name": ""}, "validation_error", "name"),
        ({"name": None}, "validation_error", "name"),
        ({"max_transaction_amount": "0"}, "validation_error", "max_transaction_amount"),
        ({"max_transaction_amount": "abc"}, "validation_error", "max_transaction_amount"),
        ({"max_transaction_amount": "1.5"}, "invalid_scale", None),
    ],
)
def test_update_asset_validation(api: Api, body: dict[str, Any], code: str, field: str | None) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], scale=0)
    response = api.patch(f"/v1/assets/{asset['id']}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    if field:
        assert response.json()["details"]["field"] == field
    assert api.get(f"/v1/assets/{asset['id']}").json() == asset


def test_archive_asset_is_permanent_and_idempotent(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"])
    path = f"/v1/assets/{asset['id']}"
    archived = api.patch(path, json={"status": "ARCHIVED"}).json()
    assert archived["status"] == "ARCHIVED" and archived["deleted_at"] is not None
    again = api.patch(path, json={"status": "ARCHIVED"})
    assert again.status_code == 200 and again.json() == archived
    assert api.patch(path, json={"status": "ACTIVE"}).status_code == 400
    renamed = api.patch(path, json={"name": "Old beans"}).json()
    assert renamed["name"] == "Old beans" and renamed["status"] == "ARCHIVED"


def test_link_asset_to_another_program(api: Api) -> None:
    first = api.create_program(name="First")
    second = api.create_program(name="Second")
    asset = api.create_asset(first["id"])
    response = api.post(f"/v1/programs/{second['id']}/assets", json={"asset_id": asset["id"]})
    assert response.status_code == 200, response.text
    linked = response.json()
    assert linked["program_ids"] == [first["id"], second["id"]]
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [first["id"], second["id"]]
    listed = api.get(f"/v1/programs/{second['id']}/assets").json()
    assert [a["id"] for a in listed["data"]] == [asset["id"]]
    assert listed["data"][0]["program_ids"] == [first["id"], second["id"]]


def test_link_errors(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"])
    path = f"/v1/programs/{program['id']}/assets"
    again = api.post(path, json={"asset_id": asset["id"]})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert api.post(path, json={"asset_id": str(uuid.uuid4())}).status_code == 404
    assert api.post(f"/v1/programs/{uuid.uuid4()}/assets", json={"asset_id": asset["id"]}).status_code == 404
    missing = api.post(path, json={})
    assert missing.status_code == 400 and missing.json()["details"]["field"] == "asset_id"
    assert api.post(path, json={"asset_id": "nope"}).status_code == 400

    other = api.create_program(name="Other")
    api.patch(f"/v1/assets/{asset['id']}", json={"status": "ARCHIVED"})
    archived = api.post(f"/v1/programs/{other['id']}/assets", json={"asset_id": asset["id"]})
    assert archived.status_code == 422
    assert archived.json()["code"] == "asset_archived"
    assert api.get(f"/v1/programs/{other['id']}/assets").json()["data"] == []


def test_list_assets_filters(api: Api) -> None:
    first = api.create_program(name="First")
    second = api.create_program(name="Second")
    beans = api.create_asset(first["id"], name="Beans", symbol="BEAN")
    cash = api.create_asset(second["id"], name="Cashback", symbol="CASH")
    nights = api.create_asset(first["id"], name="Hotel Nights", symbol="NIGHTS")
    api.patch(f"/v1/assets/{nights['id']}", json={"status": "ARCHIVED"})

    def symbols(query: str) -> list[str]:
        response = api.get(f"/v1/assets{query}")
        assert response.status_code == 200, response.text
        return [a["symbol"] for a in response.json()["data"]]

    assert symbols("") == ["NIGHTS", "CASH", "BEAN"]
    assert symbols("?status=ACTIVE") == ["CASH", "BEAN"]
    assert symbols("?status=ARCHIVED") == ["NIGHTS"]
    assert symbols(f"?program_id={first['id']}") == ["NIGHTS", "BEAN"]
    assert symbols(f"?program_id={first['id']}&status=ACTIVE") == ["BEAN"]
    assert symbols("?search=cash") == ["CASH"]  # symbol
    assert symbols("?search=hotel") == ["NIGHTS"]  # name
    assert symbols("?search=AN") == ["BEAN"]
    assert symbols(f"?program_id={second['id']}&search=back") == ["CASH"]
    assert symbols(f"?program_id={uuid.uuid4()}") == []
    assert beans and cash
    for bad in ["?status=GONE", "?program_id=abc", "?limit=0", "?limit=201"]:
        assert api.get(f"/v1/assets{bad}").status_code == 400


def test_list_program_assets_of_unknown_program_is_404(api: Api) -> None:
    assert api.get(f"/v1/programs/{uuid.uuid4()}/assets").status_code == 404


def test_program_assets_include_archived_assets(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"])
    api.patch(f"/v1/assets/{asset['id']}", json={"status": "ARCHIVED"})
    listed = api.get(f"/v1/programs/{program['id']}/assets").json()["data"]
    assert [(a["id"], a["status"]) for a in listed] == [(asset["id"], "ARCHIVED")]
