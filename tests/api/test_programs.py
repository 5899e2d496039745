"""Programs (01-platform §6) through HTTP against the local stack."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import Api


def test_create_program_with_defaults(api: Api) -> None:
    response = api.post("/v1/programs", json={"name": "Coffee Club"})
    assert response.status_code == 201
    program = response.json()
    assert uuid.UUID(program["id"]) and program["id"] == program["id"].lower()
    assert program["name"] == "Coffee Club"
    assert program["status"] == "ACTIVE"
    assert program["on_unknown_participant"] == "CREATE"
    assert program["redemption_target_type"] == "SYSTEM_REDEMPTION"
    assert program["key"] is None and program["deleted_at"] is None and program["description"] is None
    assert program["created_at"].endswith("Z") and program["created_at"] == program["updated_at"]
    assert api.get(f"/v1/programs/{program['id']}").json() == program


def test_create_program_with_every_field(api: Api) -> None:
    program = api.create_program(
        name="Driver Incentives", description="Weekly trip bonuses", on_unknown_participant="REJECT", key="drivers"
    )
    assert program["description"] == "Weekly trip bonuses"
    assert program["on_unknown_participant"] == "REJECT"
    assert program["key"] == "drivers"


def test_unknown_and_server_fields_are_ignored_on_create(api: Api) -> None:
    program = api.create_program(
        status="ARCHIVED", id=str(uuid.uuid4()), redemption_target_type="SYSTEM_BREAKAGE", colour="red"
    )
    assert program["status"] == "ACTIVE"
    assert program["redemption_target_type"] == "SYSTEM_REDEMPTION"
    assert "colour" not in program


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 42}, "name"),
        ({"name": None}, "name"),
        ({"name": "ok", "description": "d" * 1001}, "description"),
        ({"name": "ok", "on_unknown_participant": "create"}, "on_unknown_participant"),
        ({"name": "ok", "on_unknown_participant": "IGNORE"}, "on_unknown_participant"),
        ({"name": "ok", "key": ""}, "key"),
        ({"name": "ok", "key": "k" * 256}, "key"),
    ],
)
def test_create_program_validation(api: Api, body: dict, field: str) -> None:  # type: ignore[type-arg]
    response = api.post("/v1/programs", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == field
    assert field in error["details"]["fields"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "null", '"text"', ""])
def test_body_that_is_not_a_json_object_is_400(api: Api, raw: str) -> None:
    response = api.post("/v1/programs", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


def test_name_length_bounds_are_inclusive(api: Api) -> None:
    assert api.post("/v1/programs", json={"name": "x"}).status_code == 201
    assert api.post("/v1/programs", json={"name": "x" * 255, "description": "d" * 1000}).status_code == 201


def test_duplicate_program_key_is_409(api: Api, other_api: Api) -> None:
    api.create_program(key="loyalty")
    response = api.post("/v1/programs", json={"name": "Again", "key": "loyalty"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    # keys are unique per organization only
    assert other_api.post("/v1/programs", json={"name": "Theirs", "key": "loyalty"}).status_code == 201


def test_get_unknown_program_is_404_and_bad_id_is_400(api: Api) -> None:
    missing = api.get(f"/v1/programs/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad = api.get("/v1/programs/not-a-uuid")
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert bad.json()["details"]["field"] == "id"


def test_update_merges_only_sent_fields(api: Api) -> None:
    program = api.create_program(description="before", key="immutable")
    response = api.patch(f"/v1/programs/{program['id']}", json={"name": "Renamed", "key": "changed", "colour": "red"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["description"] == "before"
    assert updated["key"] == "immutable"
    assert updated["updated_at"] > program["updated_at"]
    assert updated["created_at"] == program["created_at"]
    assert api.get(f"/v1/programs/{program['id']}").json() == updated


def test_update_with_no_change_keeps_updated_at(api: Api) -> None:
    program = api.create_program()
    same = api.patch(f"/v1/programs/{program['id']}", json={"name": program["name"]}).json()
    assert same == program


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"description": "d" * 1001}, "description"),
        ({"status": "DELETED"}, "status"),
        ({"status": None}, "status"),
        ({"on_unknown_participant": "MAYBE"}, "on_unknown_participant"),
        ({"redemption_target_type": "ELSEWHERE"}, "redemption_target_type"),
    ],
)
def test_update_program_validation(api: Api, body: dict, field: str) -> None:  # type: ignore[type-arg]
    program = api.create_program()
    response = api.patch(f"/v1/programs/{program['id']}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field


def test_status_transitions_and_deleted_at(api: Api) -> None:
    program = api.create_program()
    path = f"/v1/programs/{program['id']}"
    for status in ["SUSPENDED", "ARCHIVED", "SUSPENDED", "ACTIVE", "ARCHIVED", "ACTIVE", "SUSPENDED", "SUSPENDED"]:
        response = api.patch(path, json={"status": status})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == status
        if status == "ARCHIVED":
            assert body["deleted_at"] is not None
        else:
            assert body["deleted_at"] is None


def test_archived_program_is_still_readable_and_reactivatable(api: Api) -> None:
    program = api.create_program()
    archived = api.patch(f"/v1/programs/{program['id']}", json={"status": "ARCHIVED"}).json()
    assert api.get(f"/v1/programs/{program['id']}").json() == archived
    again = api.patch(f"/v1/programs/{program['id']}", json={"status": "ARCHIVED"}).json()
    assert again["deleted_at"] == archived["deleted_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"redemption_target_type": "LEDGER_ENTITY"},
        {
            "redemption_target_type": "SYSTEM_BREAKAGE",
            "redemption_target_entity_id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
        },
        {
            "redemption_target_type": "SYSTEM_REDEMPTION",
            "redemption_target_entity_id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
        },
        {"redemption_target_entity_id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"},
    ],
)
def test_redemption_target_rules(api: Api, body: dict) -> None:  # type: ignore[type-arg]
    program = api.create_program()
    response = api.patch(f"/v1/programs/{program['id']}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == "redemption_target_entity_id"
    assert api.get(f"/v1/programs/{program['id']}").json() == program


def test_redemption_target_system_breakage_and_unknown_entity(api: Api) -> None:
    program = api.create_program()
    path = f"/v1/programs/{program['id']}"
    assert (
        api.patch(path, json={"redemption_target_type": "SYSTEM_BREAKAGE"}).json()["redemption_target_type"]
        == "SYSTEM_BREAKAGE"
    )
    unknown = api.patch(
        path, json={"redemption_target_type": "LEDGER_ENTITY", "redemption_target_entity_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_update_unknown_program_is_404(api: Api) -> None:
    response = api.patch(f"/v1/programs/{uuid.uuid4()}", json={"name": "x"})
    assert response.status_code == 404


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["data"]]


def test_list_programs_filters_and_sorting(api: Api) -> None:
    created = {name: api.create_program(name=name) for name in ["bravo", "Alpha", "charlie", "Delta"]}
    api.patch(f"/v1/programs/{created['charlie']['id']}", json={"status": "ARCHIVED"})
    api.patch(f"/v1/programs/{created['Delta']['id']}", json={"status": "SUSPENDED"})

    assert _names(api.get("/v1/programs")) == ["Delta", "Alpha", "bravo"]  # newest first, archived hidden
    assert _names(api.get("/v1/programs?include_archived=true")) == ["Delta", "charlie", "Alpha", "bravo"]
    assert _names(api.get("/v1/programs?status=ARCHIVED")) == ["charlie"]
    assert _names(api.get("/v1/programs?status=SUSPENDED")) == ["Delta"]
    assert _names(api.get("/v1/programs?sort_by=name&sort_dir=asc")) == ["Alpha", "bravo", "Delta"]
    assert _names(api.get("/v1/programs?sort_by=name&sort_dir=desc&include_archived=true")) == [
        "Delta",
        "charlie",
        "bravo",
        "Alpha",
    ]
    assert _names(api.get("/v1/programs?sort_dir=asc")) == ["bravo", "Alpha", "Delta"]
    assert _names(api.get("/v1/programs?search=ALP")) == ["Alpha"]
    assert _names(api.get("/v1/programs?search=a&sort_by=name&sort_dir=asc")) == ["Alpha", "bravo", "Delta"]


def test_renamed_program_moves_in_name_order(api: Api) -> None:
    first = api.create_program(name="Aardvark")
    api.create_program(name="Badger")
    api.patch(f"/v1/programs/{first['id']}", json={"name": "Zebra"})
    assert _names(api.get("/v1/programs?sort_by=name&sort_dir=asc")) == ["Badger", "Zebra"]


@pytest.mark.parametrize(
    "query",
    [
        "status=DELETED",
        "sort_by=updated_at",
        "sort_dir=up",
        "include_archived=maybe",
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=%%%",
    ],
)
def test_list_programs_rejects_bad_parameters(api: Api, query: str) -> None:
    response = api.get(f"/v1/programs?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


def _target(api: Api, program_id: str, entity_id: str) -> requests.Response:
    return api.patch(
        f"/v1/programs/{program_id}",
        json={"redemption_target_type": "LEDGER_ENTITY", "redemption_target_entity_id": entity_id},
    )


def test_redemption_target_names_an_existing_participant_or_group(api: Api) -> None:
    program = api.create_program()
    participant = api.post("/v1/participants", json={"external_id": f"t-{uuid.uuid4().hex[:10]}"}).json()["id"]
    group = api.post(
        "/v1/groups", json={"name": "Till", "members": [{"participant_id": participant, "role": "ADMIN"}]}
    ).json()["id"]
    path = f"/v1/programs/{program['id']}"

    for entity_id in (participant, group):
        response = _target(api, program["id"], entity_id)
        assert response.status_code == 200, response.text
        assert response.json()["redemption_target_type"] == "LEDGER_ENTITY"
        assert response.json()["redemption_target_entity_id"] == entity_id
        assert api.get(path).json() == response.json()
        listed = api.get("/v1/programs").json()["data"]
        assert [p["redemption_target_entity_id"] for p in listed if p["id"] == program["id"]] == [entity_id]

    # switching back to a system target clears the entity, which is then not rendered (05 §2.1)
    cleared = api.patch(path, json={"redemption_target_type": "SYSTEM_REDEMPTION"}).json()
    assert cleared["redemption_target_type"] == "SYSTEM_REDEMPTION"
    assert "redemption_target_entity_id" not in cleared
    assert "redemption_target_entity_id" not in api.get(path).json()
    listed = api.get("/v1/programs").json()["data"]
    assert [p for p in listed if p["id"] == program["id"]] == [cleared]


def test_redemption_target_of_another_organization_or_malformed_is_refused(api: Api, other_api: Api) -> None:
    program = api.create_program()
    theirs = other_api.post("/v1/participants", json={"external_id": "their-member"}).json()["id"]
    unknown = _target(api, program["id"], theirs)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    bad = _target(api, program["id"], "not-a-uuid")
    assert bad.status_code == 400 and bad.json()["details"]["field"] == "redemption_target_entity_id"
    assert api.get(f"/v1/programs/{program['id']}").json() == program
