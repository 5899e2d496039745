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


def _unlink(api: Api, program_id: str, asset_id: str) -> Any:
    return api.delete(f"/v1/programs/{program_id}/assets/{asset_id}")


def _two_programs(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An asset created in ``first`` and linked to ``second``."""
    first, second = api.create_program(name="First"), api.create_program(name="Second")
    asset = api.create_asset(first["id"], name="Points", symbol=f"P{uuid.uuid4().hex[:6]}")
    assert api.post(f"/v1/programs/{second['id']}/assets", json={"asset_id": asset["id"]}).status_code == 200
    return first, second, asset


def _conflict_reason(response: Any) -> str:
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    return str(response.json()["details"]["reason"])


def test_unlink_an_unused_link(api: Api) -> None:
    first, second, asset = _two_programs(api)
    response = _unlink(api, second["id"], asset["id"])
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [first["id"]]
    assert api.get(f"/v1/programs/{second['id']}/assets").json()["data"] == []
    assert api.get(f"/v1/assets?program_id={second['id']}").json()["data"] == []
    assert [a["id"] for a in api.get(f"/v1/assets?program_id={first['id']}").json()["data"]] == [asset["id"]]
    # the link entry went with program_ids: linking again is a fresh link, unlinking again is 404
    assert _unlink(api, second["id"], asset["id"]).status_code == 404
    relinked = api.post(f"/v1/programs/{second['id']}/assets", json={"asset_id": asset["id"]})
    assert relinked.status_code == 200 and relinked.json()["program_ids"] == [first["id"], second["id"]]
    # any link may go, the creation program's too
    assert _unlink(api, first["id"], asset["id"]).status_code == 204
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [second["id"]]


def test_unlink_errors(api: Api, other_api: Api) -> None:
    first, second, asset = _two_programs(api)
    stranger = api.create_program(name="Stranger")
    for program_id, asset_id in [
        (str(uuid.uuid4()), asset["id"]),
        (second["id"], str(uuid.uuid4())),
        (stranger["id"], asset["id"]),  # not linked
    ]:
        missing = _unlink(api, program_id, asset_id)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert _unlink(other_api, second["id"], asset["id"]).status_code == 404
    for path in (f"/v1/programs/nope/assets/{asset['id']}", f"/v1/programs/{second['id']}/assets/nope"):
        assert api.delete(path).status_code == 400
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [first["id"], second["id"]]


def test_the_last_link_of_an_asset_stays(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"])
    assert _conflict_reason(_unlink(api, program["id"], asset["id"])) == "last_program"
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [program["id"]]


def test_a_link_with_ledger_entries_is_permanent(api: Api) -> None:
    first, second, asset = _two_programs(api)
    member = api.post("/v1/participants", json={"external_id": f"u-{uuid.uuid4().hex[:8]}"}).json()["id"]
    body = {"program_id": second["id"], "asset_id": asset["id"], "type": "CREDIT", "amount": "5", "description": "s"}
    assert api.post(f"/v1/participants/{member}/balances/adjust", json=body).status_code == 200
    assert _conflict_reason(_unlink(api, second["id"], asset["id"])) == "ledger_entries_exist"
    assert api.get(f"/v1/assets/{asset['id']}").json()["program_ids"] == [first["id"], second["id"]]
    # entries through another program do not hold this link; the balance stays the participant's
    third = api.create_program(name="Third")
    assert api.post(f"/v1/programs/{third['id']}/assets", json={"asset_id": asset["id"]}).status_code == 200
    assert _unlink(api, third["id"], asset["id"]).status_code == 204
    balances = api.get(f"/v1/participants/{member}/balances?asset_id={asset['id']}").json()["data"]
    assert balances[0]["available"] == "5"


@pytest.mark.parametrize("use", ["action", "budget"])
def test_a_link_named_by_a_live_rule_stays_until_the_rule_is_archived(api: Api, use: str) -> None:
    _, second, asset = _two_programs(api)
    other = api.create_asset(second["id"], name="Other", symbol=f"O{uuid.uuid4().hex[:6]}")
    credited = asset if use == "action" else other
    body: dict[str, Any] = {
        "program_id": second["id"],
        "name": "uses the asset",
        "condition": "true",
        "actions": [{"type": "CREDIT", "asset_id": credited["id"], "amount": "1"}],
    }
    if use == "budget":
        body["budgets"] = [{"asset_id": asset["id"], "limit": "10"}]
    created = api.post("/v1/rules", json=body)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]

    refused = _unlink(api, second["id"], asset["id"])
    assert _conflict_reason(refused) == "rules_reference_asset"
    assert refused.json()["details"]["rule_ids"] == [rule_id]
    assert api.patch(f"/v1/rules/{rule_id}", json={"status": "SUSPENDED"}).status_code == 200
    assert _unlink(api, second["id"], asset["id"]).status_code == 409  # a suspended rule may come back
    assert api.patch(f"/v1/rules/{rule_id}", json={"status": "ARCHIVED"}).status_code == 200
    assert _unlink(api, second["id"], asset["id"]).status_code == 204
