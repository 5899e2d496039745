"""Groups, members and roles (02 §3) through HTTP."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tests.conftest import Api


def _participant(api: Api) -> str:
    response = api.post("/v1/participants", json={"external_id": f"m-{uuid.uuid4().hex[:10]}"})
    assert response.status_code == 201
    return str(response.json()["id"])


def _group(api: Api, *members: tuple[str, str], name: str = "Northside Crew") -> dict[str, Any]:
    body = {"name": name, "members": [{"participant_id": p, "role": role} for p, role in members]}
    response = api.post("/v1/groups", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _members(api: Api, group_id: str, query: str = "") -> dict[str, tuple[str, str]]:
    response = api.get(f"/v1/groups/{group_id}/members{query}")
    assert response.status_code == 200, response.text
    return {m["participant_id"]: (m["role"], m["status"]) for m in response.json()["data"]}


def test_create_and_get_group(api: Api) -> None:
    admin, member = _participant(api), _participant(api)
    response = api.post(
        "/v1/groups",
        json={
            "name": "Okafor Household",
            "members": [{"participant_id": admin, "role": "ADMIN"}, {"participant_id": member}],
            "on_behalf_of_participant_id": admin,
        },
    )
    assert response.status_code == 201
    group = response.json()
    assert group["name"] == "Okafor Household" and group["status"] == "ACTIVE" and group["deleted_at"] is None
    fetched = api.get(f"/v1/groups/{group['id']}").json()
    assert fetched["balances"] == {}
    assert {k: v for k, v in fetched.items() if k != "balances"} == {k: v for k, v in group.items() if k != "balances"}
    assert _members(api, group["id"]) == {admin: ("ADMIN", "ACTIVE"), member: ("MEMBER", "ACTIVE")}
    listed = api.get(f"/v1/groups/{group['id']}/members").json()["data"]
    external_ids = {m["participant_id"]: m["external_id"] for m in listed}
    assert external_ids[admin] == api.get(f"/v1/participants/{admin}").json()["external_id"]
    assert all(m["joined_at"] and m["left_at"] is None for m in listed)
    from scrip.storage import keys, table

    stored = table.client().get_item(
        TableName=table.table_name(), Key={"PK": keys.group(api.organization_id, group["id"]), "SK": f"MEMBER#{member}"}
    )
    assert stored["Item"]["on_behalf_of_participant_id"] == admin  # kept for audit


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"members": [{"participant_id": "{p}", "role": "ADMIN"}]}, "name"),
        ({"name": "", "members": [{"participant_id": "{p}", "role": "ADMIN"}]}, "name"),
        ({"name": "n" * 256, "members": [{"participant_id": "{p}", "role": "ADMIN"}]}, "name"),
        ({"name": "G"}, "members"),
        ({"name": "G", "members": []}, "members"),
        ({"name": "G", "members": [{"participant_id": "{p}"}]}, "members"),
        ({"name": "G", "members": [{"participant_id": "{p}", "role": "OWNER"}]}, "members.0.role"),
        ({"name": "G", "members": [{"participant_id": "nope", "role": "ADMIN"}]}, "members.0.participant_id"),
        ({"name": "G", "members": [{"participant_id": "{p}", "role": "ADMIN"}, {"participant_id": "{p}"}]}, "members"),
    ],
)
def test_create_group_validation(api: Api, body: dict[str, Any], field: str) -> None:
    participant = _participant(api)
    text = str(body).replace("{p}", participant).replace("'", '"')
    import json

    response = api.post("/v1/groups", json=json.loads(text))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field
    assert api.get("/v1/groups").json()["data"] == []


def test_create_group_with_unknown_participant_is_404_and_writes_nothing(api: Api, other_api: Api) -> None:
    admin = _participant(api)
    foreign = _participant(other_api)
    for stranger in [str(uuid.uuid4()), foreign]:
        response = api.post(
            "/v1/groups",
            json={"name": "G", "members": [{"participant_id": admin, "role": "ADMIN"}, {"participant_id": stranger}]},
        )
        assert response.status_code == 404
    assert api.get("/v1/groups").json()["data"] == []


def test_update_list_and_archive(api: Api) -> None:
    admin = _participant(api)
    kept = _group(api, (admin, "ADMIN"), name="Kept")
    archived = _group(api, (admin, "ADMIN"), name="Gone")
    renamed = api.patch(f"/v1/groups/{kept['id']}", json={"name": "Kept (renamed)"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Kept (renamed)"
    assert api.patch(f"/v1/groups/{kept['id']}", json={"name": ""}).status_code == 400
    deleted = api.delete(f"/v1/groups/{archived['id']}")
    assert deleted.status_code == 200
    body = deleted.json()
    assert body["status"] == "ARCHIVED" and body["deleted_at"]
    again = api.delete(f"/v1/groups/{archived['id']}")
    assert again.status_code == 200 and again.json() == body
    assert [g["name"] for g in api.get("/v1/groups").json()["data"]] == ["Kept (renamed)"]
    assert [g["name"] for g in api.get("/v1/groups?include_archived=true").json()["data"]] == ["Gone", "Kept (renamed)"]
    assert api.get(f"/v1/groups/{archived['id']}").json()["status"] == "ARCHIVED"
    newcomer = _participant(api)
    for method, path, payload in [
        ("PATCH", "", {"name": "x"}),
        ("POST", "/members", {"participant_id": newcomer}),
        ("PATCH", f"/members/{admin}", {"role": "MEMBER"}),
        ("DELETE", f"/members/{admin}", None),
    ]:
        response = api.request(method, f"/v1/groups/{archived['id']}{path}", json=payload)
        assert response.status_code == 409, (method, path, response.text)
        assert response.json()["code"] == "group_archived"


def test_groups_of_other_organizations_are_404(api: Api, other_api: Api) -> None:
    theirs = _group(other_api, (_participant(other_api), "ADMIN"))
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/members"), ("POST", "/members")]:
        body = (
            {"name": "x"}
            if method == "PATCH"
            else ({"participant_id": _participant(api)} if method == "POST" else None)
        )
        assert api.request(method, f"/v1/groups/{theirs['id']}{path}", json=body).status_code == 404
    assert other_api.get(f"/v1/groups/{theirs['id']}").json()["status"] == "ACTIVE"


def test_add_members_single_and_batch(api: Api) -> None:
    admin, single, first, second = (_participant(api) for _ in range(4))
    group = _group(api, (admin, "ADMIN"))
    path = f"/v1/groups/{group['id']}/members"
    added = api.post(path, json={"participant_id": single, "role": "ADMIN"})
    assert added.status_code == 200 and added.json() == {"message": "Member(s) added to group"}
    batch = api.post(path, json={"members": [{"participant_id": first}, {"participant_id": second, "role": "ADMIN"}]})
    assert batch.status_code == 200
    assert _members(api, group["id"]) == {
        admin: ("ADMIN", "ACTIVE"),
        single: ("ADMIN", "ACTIVE"),
        first: ("MEMBER", "ACTIVE"),
        second: ("ADMIN", "ACTIVE"),
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"participant_id": "{p}", "members": [{"participant_id": "{p}"}]},
        {"members": []},
        {"participant_id": "x"},
        {"participant_id": "{p}", "role": "BOSS"},
    ],
)
def test_add_members_validation(api: Api, body: dict[str, Any]) -> None:
    import json

    admin, newcomer = _participant(api), _participant(api)
    group = _group(api, (admin, "ADMIN"))
    payload = json.loads(json.dumps(body).replace("{p}", newcomer))
    assert api.post(f"/v1/groups/{group['id']}/members", json=payload).status_code == 400
    assert set(_members(api, group["id"])) == {admin}


def test_adding_an_active_member_refuses_the_whole_batch(api: Api) -> None:
    admin, newcomer = _participant(api), _participant(api)
    group = _group(api, (admin, "ADMIN"))
    response = api.post(
        f"/v1/groups/{group['id']}/members", json={"members": [{"participant_id": newcomer}, {"participant_id": admin}]}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["details"]["participant_id"] == admin
    assert set(_members(api, group["id"])) == {admin}
    assert api.post(f"/v1/groups/{group['id']}/members", json={"participant_id": str(uuid.uuid4())}).status_code == 404


def test_change_role_and_the_last_admin(api: Api) -> None:
    admin, member = _participant(api), _participant(api)
    group = _group(api, (admin, "ADMIN"), (member, "MEMBER"))
    base = f"/v1/groups/{group['id']}/members"
    refused = api.patch(f"{base}/{admin}", json={"role": "MEMBER"})
    assert refused.status_code == 409 and refused.json()["code"] == "last_admin"
    promoted = api.patch(f"{base}/{member}", json={"role": "ADMIN"})
    assert promoted.status_code == 200
    assert promoted.json() == {"message": "Member role updated", "participant_id": member, "role": "ADMIN"}
    assert api.patch(f"{base}/{member}", json={"role": "ADMIN"}).status_code == 200  # no change
    assert api.patch(f"{base}/{admin}", json={"role": "MEMBER"}).status_code == 200
    assert _members(api, group["id"]) == {admin: ("MEMBER", "ACTIVE"), member: ("ADMIN", "ACTIVE")}
    assert api.patch(f"{base}/{member}", json={"role": "MEMBER"}).json()["code"] == "last_admin"
    assert api.patch(f"{base}/{uuid.uuid4()}", json={"role": "ADMIN"}).status_code == 404
    assert api.patch(f"{base}/{admin}", json={}).status_code == 400
    assert api.patch(f"{base}/{admin}", json={"role": "OWNER"}).status_code == 400


def test_remove_member_rejoin_and_the_last_admin(api: Api) -> None:
    admin, member = _participant(api), _participant(api)
    group = _group(api, (admin, "ADMIN"), (member, "MEMBER"))
    base = f"/v1/groups/{group['id']}/members"
    last = api.delete(f"{base}/{admin}")
    assert last.status_code == 409 and last.json()["code"] == "last_admin"
    assert api.delete(f"{base}/{member}").status_code == 204
    assert _members(api, group["id"]) == {admin: ("ADMIN", "ACTIVE")}
    former = api.get(f"{base}?include_former=true").json()["data"]
    left = next(m for m in former if m["participant_id"] == member)
    assert left["status"] == "LEFT" and left["left_at"]
    assert api.delete(f"{base}/{member}").status_code == 404  # already left
    assert api.patch(f"{base}/{member}", json={"role": "ADMIN"}).status_code == 404
    rejoined = api.post(base, json={"participant_id": member, "role": "ADMIN"})
    assert rejoined.status_code == 200
    back = next(m for m in api.get(base).json()["data"] if m["participant_id"] == member)
    assert back["status"] == "ACTIVE" and back["role"] == "ADMIN" and back["left_at"] is None
    assert back["joined_at"] > left["joined_at"]
    assert api.delete(f"{base}/{admin}").status_code == 204  # no longer the last admin


def test_concurrent_demotions_keep_an_admin(api: Api) -> None:
    first, second = _participant(api), _participant(api)
    group = _group(api, (first, "ADMIN"), (second, "ADMIN"))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def demote(participant: str) -> None:
        barrier.wait()
        statuses.append(
            api.patch(f"/v1/groups/{group['id']}/members/{participant}", json={"role": "MEMBER"}).status_code
        )

    threads = [threading.Thread(target=demote, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    roles = [role for role, _ in _members(api, group["id"]).values()]
    assert roles.count("ADMIN") == 1


def test_members_and_groups_page(api: Api) -> None:
    admin = _participant(api)
    group = _group(api, (admin, "ADMIN"))
    others = [_participant(api) for _ in range(11)]
    api.post(f"/v1/groups/{group['id']}/members", json={"members": [{"participant_id": p} for p in others]})
    seen, cursor = [], None
    while True:
        page = api.get(f"/v1/groups/{group['id']}/members?limit=5" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [m["participant_id"] for m in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted([admin, *others]) and len(seen) == 12
    for i in range(6):
        _group(api, (admin, "ADMIN"), name=f"g{i}")
    first = api.get("/v1/groups?limit=4").json()
    second = api.get(f"/v1/groups?limit=4&cursor={first['pagination']['next_cursor']}").json()
    assert len(first["data"]) == 4 and len(second["data"]) == 3 and not second["pagination"]["has_more"]
