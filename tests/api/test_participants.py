"""Participants (02 §1) through HTTP, and the participant side of event enrollment."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from scrip.domain.errors import ApiError, NotFound
from scrip.domain.organizations import Caller
from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus
from scrip.services import participants as participant_service
from scrip.storage import participants as participant_store
from scrip.storage import transactions
from tests.conftest import Api

PROFILE = {
    "email": "rina@example.org",
    "phone": "+442071234567",
    "first_name": "Rina",
    "last_name": "Okafor",
    "display_name": "Rina O.",
}


def _create(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/participants", json={"external_id": f"acct-{uuid.uuid4().hex[:10]}", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_participant(api: Api) -> None:
    program = api.create_program()
    body = {
        "external_id": "acct-9001",
        "program_id": program["id"],
        **PROFILE,
        "tags": ["Beta_Tester", "beta_tester"],
        "attributes": {"home_store": "leeds"},
    }
    response = api.post("/v1/participants", json=body)
    assert response.status_code == 201, response.text
    participant = response.json()
    assert participant["external_id"] == "acct-9001" and participant["status"] == "ACTIVE"
    assert {k: participant[k] for k in PROFILE} == PROFILE
    assert participant["tags"] == ["beta_tester"]
    assert participant["attributes"] == {"home_store": "leeds"}
    assert participant["counters"] == {} and participant["balances"] == [] and participant["tiers"] == {}
    assert participant["program_ids"] == [program["id"]]
    assert api.get(f"/v1/participants/{participant['id']}").json() == participant


def test_create_with_status_and_minimal_body(api: Api) -> None:
    suspended = _create(api, status="SUSPENDED")
    assert suspended["status"] == "SUSPENDED"
    minimal = _create(api)
    assert minimal["program_ids"] == [] and minimal["email"] is None and minimal["tags"] == []


def test_create_again_upserts_the_existing_participant(api: Api) -> None:
    first_program, second_program = api.create_program(name="One"), api.create_program(name="Two")
    original = api.post(
        "/v1/participants",
        json={
            "external_id": "same",
            "program_id": first_program["id"],
            "first_name": "Old",
            "email": "old@example.org",
            "tags": ["a", "b"],
            "attributes": {"x": "1", "y": "2"},
        },
    ).json()
    response = api.post(
        "/v1/participants",
        json={
            "external_id": "same",
            "program_id": second_program["id"],
            "first_name": "New",
            "status": "SUSPENDED",
            "tags": ["c"],
            "attributes": {"y": "3"},
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["id"] == original["id"]
    assert updated["first_name"] == "New" and updated["email"] == "old@example.org"
    assert updated["status"] == "SUSPENDED"
    assert updated["tags"] == ["c"]
    assert updated["attributes"] == {"x": "1", "y": "3"}
    assert updated["program_ids"] == sorted([first_program["id"], second_program["id"]])
    assert len(api.get("/v1/participants?external_id=same").json()["data"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "external_id"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 256}, "external_id"),
        ({"external_id": 42}, "external_id"),
        ({"external_id": "ok", "email": "not-an-email"}, "email"),
        ({"external_id": "ok", "email": "a" * 250 + "@b.com"}, "email"),
        ({"external_id": "ok", "phone": "1" * 51}, "phone"),
        ({"external_id": "ok", "first_name": "n" * 256}, "first_name"),
        ({"external_id": "ok", "last_name": "n" * 256}, "last_name"),
        ({"external_id": "ok", "display_name": "n" * 256}, "display_name"),
        ({"external_id": "ok", "status": "DELETED"}, "status"),
        ({"external_id": "ok", "program_id": "nope"}, "program_id"),
        ({"external_id": "ok", "tags": "vip"}, "tags"),
        ({"external_id": "ok", "tags": ["x" * 256]}, "tags.0"),
        ({"external_id": "ok", "attributes": {"k": 1}}, "attributes.k"),
    ],
)
def test_create_participant_validation(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/v1/participants", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field
    assert api.get("/v1/participants").json()["data"] == []


def test_create_with_unknown_program_is_404_and_writes_nothing(api: Api) -> None:
    response = api.post("/v1/participants", json={"external_id": "ghost", "program_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert api.get("/v1/participants?external_id=ghost").json()["data"] == []


def test_too_many_initial_tags_is_a_clear_400(api: Api) -> None:
    response = api.post("/v1/participants", json={"external_id": "many", "tags": [f"t{i}" for i in range(46)]})
    assert response.status_code == 400
    assert "at most 45" in response.json()["message"]
    assert api.get("/v1/participants?external_id=many").json()["data"] == []


def test_get_participant_errors(api: Api, other_api: Api) -> None:
    assert api.get(f"/v1/participants/{uuid.uuid4()}").status_code == 404
    assert api.get("/v1/participants/xyz").status_code == 400
    theirs = _create(other_api)
    assert api.get(f"/v1/participants/{theirs['id']}").status_code == 404
    assert api.patch(f"/v1/participants/{theirs['id']}", json={"first_name": "x"}).status_code == 404
    assert api.patch(f"/v1/participants/{theirs['id']}/status", json={"status": "CLOSED"}).status_code == 404
    assert other_api.get(f"/v1/participants/{theirs['id']}").json()["status"] == "ACTIVE"


def test_update_participant(api: Api) -> None:
    participant = _create(api, **PROFILE, tags=["a", "b"], attributes={"x": "1"})
    path = f"/v1/participants/{participant['id']}"
    response = api.patch(
        path, json={"first_name": "Ada", "phone": "", "tags": ["B", "c"], "attributes": {"y": "2"}, "status": "CLOSED"}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["first_name"] == "Ada" and updated["phone"] is None and updated["email"] == PROFILE["email"]
    assert updated["tags"] == ["b", "c"]
    assert updated["attributes"] == {"x": "1", "y": "2"}
    assert updated["status"] == "ACTIVE"  # status goes through its own endpoint
    assert updated["updated_at"] > participant["updated_at"]


def test_rename_external_id(api: Api) -> None:
    participant = _create(api, external_id="old-name")
    taken = _create(api, external_id="taken")
    conflict = api.patch(f"/v1/participants/{participant['id']}", json={"external_id": "taken"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    renamed = api.patch(f"/v1/participants/{participant['id']}", json={"external_id": "new-name"}).json()
    assert renamed["external_id"] == "new-name"
    assert [p["id"] for p in api.get("/v1/participants?external_id=new-name").json()["data"]] == [participant["id"]]
    assert api.get("/v1/participants?external_id=old-name").json()["data"] == []
    # the old external id is free again: creating with it makes a new participant
    assert _create(api, external_id="old-name")["id"] not in (participant["id"], taken["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": ""}, "external_id"),
        ({"external_id": None}, "external_id"),
        ({"email": "bad"}, "email"),
        ({"tags": [""]}, "tags.0"),
    ],
)
def test_update_participant_validation(api: Api, body: dict[str, Any], field: str) -> None:
    participant = _create(api)
    response = api.patch(f"/v1/participants/{participant['id']}", json=body)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == field


def test_status_transitions(api: Api) -> None:
    participant = _create(api)
    path = f"/v1/participants/{participant['id']}/status"
    for status in ["SUSPENDED", "ACTIVE", "CLOSED", "SUSPENDED", "CLOSED", "ACTIVE", "ACTIVE"]:
        response = api.patch(path, json={"status": status})
        assert response.status_code == 200
        assert response.json()["status"] == status
    for bad in [{}, {"status": "BANNED"}, {"status": None}]:
        assert api.patch(path, json=bad).status_code == 400


def test_status_changes_keep_state(api: Api) -> None:
    participant = _create(api, tags=["vip"], attributes={"k": "v"})
    closed = api.patch(f"/v1/participants/{participant['id']}/status", json={"status": "CLOSED"}).json()
    assert closed["tags"] == ["vip"] and closed["attributes"] == {"k": "v"}


def test_list_filters(api: Api) -> None:
    program = api.create_program()
    alice = _create(api, external_id="alice-1", email="alice@example.org", first_name="Alice", program_id=program["id"])
    bob = _create(api, external_id="bob-2", display_name="Bobby", status="SUSPENDED")
    carol = _create(api, external_id="carol-3", phone="+4470000", program_id=program["id"])

    def ids(query: str) -> list[str]:
        response = api.get(f"/v1/participants{query}")
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["data"]]

    assert ids("") == [carol["id"], bob["id"], alice["id"]]
    summary = api.get("/v1/participants?external_id=alice-1").json()["data"][0]
    assert set(summary) == {
        "id",
        "external_id",
        "status",
        "email",
        "phone",
        "first_name",
        "last_name",
        "display_name",
        "created_at",
        "updated_at",
    }
    assert ids("?external_id=bob-2") == [bob["id"]]
    assert ids("?external_id=nobody") == []
    assert ids(f"?program_id={program['id']}") == [carol["id"], alice["id"]]
    assert ids("?status=SUSPENDED") == [bob["id"]]
    assert ids("?search=ALICE@") == [alice["id"]]
    assert ids("?search=bobby") == [bob["id"]]
    assert ids("?search=4470") == [carol["id"]]
    assert ids("?search=-") == [carol["id"], bob["id"], alice["id"]]
    assert ids(f"?from={bob['created_at']}") == [carol["id"], bob["id"]]
    assert ids(f"?to={bob['created_at']}") == [bob["id"], alice["id"]]
    assert ids(f"?from={bob['created_at']}&to={bob['created_at']}") == [bob["id"]]
    assert ids("?sort_by=external_id&sort_dir=asc") == [alice["id"], bob["id"], carol["id"]]
    assert ids("?sort_by=external_id") == [carol["id"], bob["id"], alice["id"]]
    assert ids("?sort_by=status&sort_dir=asc") == [alice["id"], carol["id"], bob["id"]]
    assert ids("?sort_dir=asc") == [alice["id"], bob["id"], carol["id"]]
    for bad in ["?status=GONE", "?sort_by=email", "?from=yesterday", "?program_id=1", "?limit=0", "?limit=201"]:
        assert api.get(f"/v1/participants{bad}").status_code == 400, bad


def test_list_filters_page_over_more_than_one_page(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    program = api.create_program()
    for i in range(60):
        participant_service.upsert_participant(
            caller,
            external_id=f"member-{i:03d}",
            program_id=program["id"] if i % 2 else None,
            status=ParticipantStatus.SUSPENDED if i % 3 == 0 else None,
            profile={"first_name": "Even" if i % 2 == 0 else "Odd"},
        )

    def walk(query: str, limit: int) -> list[str]:
        seen, cursor = [], None
        while True:
            page = api.get(f"/v1/participants?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")).json()
            assert len(page["data"]) <= limit
            seen += [p["external_id"] for p in page["data"]]
            cursor = page["pagination"]["next_cursor"]
            if not page["pagination"]["has_more"]:
                return seen

    everyone = walk("", 7)
    assert len(everyone) == 60 == len(set(everyone))
    assert walk("&sort_by=external_id&sort_dir=asc", 9) == sorted(everyone)
    assert walk(f"&program_id={program['id']}", 4) == [f"member-{i:03d}" for i in reversed(range(60)) if i % 2]
    assert sorted(walk("&status=SUSPENDED", 3)) == [f"member-{i:03d}" for i in range(60) if i % 3 == 0]
    assert len(walk("&search=even&sort_by=status", 5)) == 30
    cursor = api.get("/v1/participants?limit=5").json()["pagination"]["next_cursor"]
    assert api.get(f"/v1/participants?limit=5&status=ACTIVE&cursor={cursor}").status_code == 400


# ------------------------------------------------------------ event side


def test_event_for_unknown_external_id_creates_and_enrolls_under_create(api: Api) -> None:
    program = api.create_program(on_unknown_participant="CREATE")
    participant, created = participant_service.resolve_for_event(
        api.organization_id, program["id"], external_id="cust_771"
    )
    assert created and participant.external_id == "cust_771"
    detail = api.get(f"/v1/participants/{participant.id}").json()
    assert detail["program_ids"] == [program["id"]] and detail["status"] == "ACTIVE"
    again, created_again = participant_service.resolve_for_event(
        api.organization_id, program["id"], external_id="cust_771"
    )
    assert again.id == participant.id and not created_again


def test_event_for_unknown_external_id_is_refused_under_reject(api: Api) -> None:
    program = api.create_program(on_unknown_participant="REJECT")
    with pytest.raises(ApiError) as raised:
        participant_service.resolve_for_event(api.organization_id, program["id"], external_id="stranger")
    assert raised.value.code == "participant_not_found"
    assert api.get("/v1/participants?external_id=stranger").json()["data"] == []


@pytest.mark.parametrize("policy", ["CREATE", "REJECT"])
def test_event_enrolls_an_existing_participant_whatever_the_policy(api: Api, policy: str) -> None:
    program = api.create_program(on_unknown_participant=policy)
    existing = _create(api)
    found, created = participant_service.resolve_for_event(
        api.organization_id, program["id"], participant_id=existing["id"]
    )
    assert found.id == existing["id"] and not created
    assert api.get(f"/v1/participants/{existing['id']}").json()["program_ids"] == [program["id"]]


def test_event_reactivates_an_inactive_enrollment(api: Api) -> None:
    program = api.create_program()
    existing = _create(api, program_id=program["id"])
    participant = participant_store.require(api.organization_id, existing["id"])
    frozen = Enrollment(program["id"], EnrollmentStatus.FROZEN, participant.created_at)
    transactions.write(participant_store.enrollment_writes(participant, program["id"], frozen))
    assert (
        participant_store.enrollments(api.organization_id, existing["id"])[program["id"]].status
        is EnrollmentStatus.FROZEN
    )
    participant_service.resolve_for_event(api.organization_id, program["id"], external_id=existing["external_id"])
    assert (
        participant_store.enrollments(api.organization_id, existing["id"])[program["id"]].status
        is EnrollmentStatus.ACTIVE
    )


def test_event_with_unknown_participant_id_never_creates(api: Api) -> None:
    program = api.create_program()
    with pytest.raises(NotFound):
        participant_service.resolve_for_event(api.organization_id, program["id"], participant_id=str(uuid.uuid4()))
