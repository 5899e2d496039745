"""Cursor pagination (01-platform §4.7): stable under concurrent inserts, strict parameters."""

from __future__ import annotations

from typing import Any

import pytest

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.organizations import Caller
from scrip.services import assets as asset_service
from scrip.services import programs as program_service
from tests.conftest import Api


def _walk(api: Api, path: str, limit: int, between_pages: Any = None) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= limit
        seen.extend(body["data"])
        pages += 1
        pagination = body["pagination"]
        assert pagination["has_more"] == (pagination["next_cursor"] is not None)
        if not pagination["has_more"]:
            return seen
        assert len(body["data"]) == limit  # only the last page may be short
        if between_pages is not None:
            between_pages(pages)
        cursor = pagination["next_cursor"]


def test_450_programs_with_inserts_between_pages(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    # Seeded through the service layer (the API would take minutes); read through HTTP.
    existing = {program_service.create_program(caller, name=f"program {i:03d}").id for i in range(450)}
    inserted: set[str] = set()

    def insert(_: int) -> None:
        for _ in range(7):
            inserted.add(api.create_program(name="late arrival")["id"])

    for sort in ["", "?sort_dir=asc", "?sort_by=name&sort_dir=asc", "?sort_by=name"]:
        seen = _walk(api, f"/v1/programs{sort}", 50, insert)
        ids = [p["id"] for p in seen]
        assert len(ids) == len(set(ids)), "an item was repeated"
        assert existing <= set(ids), "an item that existed before the walk was lost"
        assert set(ids) <= existing | inserted


def test_page_sizes_and_defaults(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    for i in range(205):
        program_service.create_program(caller, name=f"p{i}")
    default = api.get("/v1/programs").json()
    assert len(default["data"]) == 50 and default["pagination"]["has_more"] is True
    biggest = api.get("/v1/programs?limit=200").json()
    assert len(biggest["data"]) == 200
    assert len(_walk(api, "/v1/programs", 200)) == 205
    exact = _walk(api, "/v1/programs", 205 // 5)
    assert len(exact) == 205


def test_filtered_walk_pages_correctly(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    for i in range(120):
        program_service.create_program(caller, name=f"{'match' if i % 3 == 0 else 'other'} {i}")
    seen = _walk(api, "/v1/programs?search=MATCH", 7)
    assert len(seen) == 40 and all("match" in p["name"] for p in seen)


def test_program_assets_and_asset_list_paging(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    program = api.create_program()
    other = api.create_program(name="Other")
    for i in range(30):
        asset_service.create_asset(
            caller,
            program_id=program["id"] if i % 2 else other["id"],
            name=f"asset {i}",
            symbol=f"S{i}",
            inventory_mode=InventoryMode.SIMPLE,
            issuance_policy=IssuancePolicy.UNLIMITED,
            scale=0,
        )
    assert len(_walk(api, f"/v1/programs/{program['id']}/assets", 4)) == 15
    assert len(_walk(api, f"/v1/assets?program_id={other['id']}", 4)) == 15
    assert len(_walk(api, "/v1/assets?search=asset 1", 3)) == 11  # 1, 10-19
    assert len(_walk(api, "/v1/assets", 8)) == 30


def test_cursor_is_bound_to_its_query(api: Api) -> None:
    caller = Caller(api.organization_id, "test")
    for i in range(3):
        program_service.create_program(caller, name=f"p{i}")
    cursor = api.get("/v1/programs?limit=1").json()["pagination"]["next_cursor"]
    assert api.get(f"/v1/programs?limit=1&cursor={cursor}").status_code == 200
    for other in [
        f"/v1/programs?limit=1&sort_by=name&cursor={cursor}",
        f"/v1/assets?cursor={cursor}",
        f"/v1/programs?search=p&cursor={cursor}",
    ]:
        response = api.get(other)
        assert response.status_code == 400
        assert response.json()["details"]["field"] == "cursor"


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjogMX0", "e30", "%00"])
def test_garbled_cursor_is_400(api: Api, cursor: str) -> None:
    response = api.get(f"/v1/programs?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
