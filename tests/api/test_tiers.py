"""Tier definitions (02 §4.2-4.8) through HTTP against the local stack."""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace
from typing import Any

import pytest

from scrip.domain.tiers import ProgramArchived, TierArchived
from scrip.storage import tiers as tier_store
from scrip.storage import transactions
from tests.conftest import Api

SPEC_EXAMPLE: dict[str, Any] = {
    "key": "status",
    "display_name": "Member Status",
    "levels": [
        {
            "key": "silver",
            "rank": 1,
            "display_name": "Silver",
            "color": "#C0C0C0",
            "qualification": {
                "mode": "ALL",
                "criteria": [{"counter": "qualifying_nights", "operator": ">=", "threshold": 10}],
            },
            "benefits": {"bonus_pct": 10},
        },
        {
            "key": "gold",
            "rank": 2,
            "display_name": "Gold",
            "color": "#D4AF37",
            "qualification": {
                "mode": "ANY",
                "criteria": [
                    {"counter": "qualifying_nights", "operator": ">=", "threshold": 40},
                    {"counter": "qualifying_spend", "operator": ">=", "threshold": 8000},
                ],
            },
            "benefits": {"bonus_pct": 25, "late_checkout": True},
        },
    ],
    "lifecycle": {
        "retention": {"mode": "PERIOD_BASED"},
        "qualification_period": {"type": "FIXED_YEAR", "start_month": 4, "start_day": 1},
        "status_validity": {"extend_months": 2},
        "downgrade_policy": {"mode": "DROP_ONE", "grace_days": 14, "min_level": "silver"},
        "counters": {"rollover": "EXCESS", "qualifying": ["qualifying_nights", "qualifying_spend"]},
    },
}


def _url(program_id: str, key: str | None = None) -> str:
    return f"/v1/programs/{program_id}/tiers" + (f"/{key}" if key else "")


def _body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SPEC_EXAMPLE)
    body.update(changes)
    return body


def _create(api: Api, program_id: str, **changes: Any) -> dict[str, Any]:
    response = api.post(_url(program_id), json=_body(**changes))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    return body


def test_create_the_spec_example_get_and_list_it(api: Api) -> None:
    program_id = api.create_program()["id"]
    tier = _create(api, program_id)
    assert uuid.UUID(tier["id"]) and tier["program_id"] == program_id
    assert tier["key"] == "status" and tier["status"] == "ACTIVE" and tier["archived_at"] is None
    assert [(lv["key"], lv["rank"]) for lv in tier["levels"]] == [("silver", 1), ("gold", 2)]
    gold = tier["levels"][1]
    assert gold["qualification"] == SPEC_EXAMPLE["levels"][1]["qualification"]
    assert gold["benefits"] == {"bonus_pct": 25, "late_checkout": True} and gold["color"] == "#D4AF37"
    assert uuid.UUID(gold["id"])
    assert tier["lifecycle"] == SPEC_EXAMPLE["lifecycle"]
    assert api.get(_url(program_id, "status")).json() == tier
    listed = api.get(_url(program_id)).json()
    assert listed == {"data": [tier]}


def test_levels_are_ordered_by_rank_and_lifecycle_defaults_apply(api: Api) -> None:
    program_id = api.create_program()["id"]
    tier = _create(
        api,
        program_id,
        key="loyalty",
        levels=[{"key": "b", "rank": 5}, {"key": "a", "rank": 2, "qualification": {}}],
        lifecycle={"retention": {"mode": "ACTIVITY_REFRESH", "duration": "2160h"}},
    )
    assert [lv["key"] for lv in tier["levels"]] == ["a", "b"]
    assert tier["levels"][0]["qualification"] == {}
    assert tier["lifecycle"] == {
        "retention": {"mode": "ACTIVITY_REFRESH", "duration": "2160h"},
        "status_validity": {"extend_months": 0},
        "downgrade_policy": {"mode": "DROP_TO_QUALIFYING", "grace_days": 0},
    }
    rules_only = _create(api, program_id, key="vip", lifecycle=None)
    assert rules_only["lifecycle"] == {}
    empty = _create(api, program_id, key="club", lifecycle={})
    assert empty["lifecycle"] == {}
    assert [t["key"] for t in api.get(_url(program_id)).json()["data"]] == ["club", "loyalty", "vip"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "Status"}, "key"),
        ({"key": "1abc"}, "key"),
        ({"levels": []}, "levels"),
        ({"levels": None}, "levels"),
        ({"levels": [{"key": "a", "rank": 1}, {"key": "a", "rank": 2}]}, "levels[1].key"),
        ({"levels": [{"key": "a", "rank": 1}, {"key": "b", "rank": 1}]}, "levels[1].rank"),
        ({"levels": [{"key": "a", "rank": 0}]}, None),
        ({"levels": [{"key": "a"}]}, None),
        ({"levels": [{"key": "a", "rank": 1, "color": "silver"}]}, None),
        ({"levels": [{"key": "a", "rank": 1, "qualification": {"mode": "SOME", "criteria": []}}]}, None),
        (
            {
                "levels": [
                    {
                        "key": "a",
                        "rank": 1,
                        "qualification": {"criteria": [{"counter": "c", "operator": ">=", "threshold": 1}]},
                    }
                ]
            },
            "levels[0].qualification.mode",
        ),
        (
            {"levels": [{"key": "a", "rank": 1, "qualification": {"mode": "ALL", "criteria": []}}]},
            "levels[0].qualification.criteria",
        ),
        (
            {
                "levels": [
                    {
                        "key": "a",
                        "rank": 1,
                        "qualification": {
                            "mode": "ALL",
                            "criteria": [{"counter": "c", "operator": "!=", "threshold": 1}],
                        },
                    }
                ]
            },
            None,
        ),
        (
            {
                "levels": [
                    {
                        "key": "a",
                        "rank": 1,
                        "qualification": {
                            "mode": "ALL",
                            "criteria": [{"counter": "c", "operator": ">=", "threshold": "ten"}],
                        },
                    }
                ]
            },
            None,
        ),
        ({"lifecycle": {"retention": {"mode": "FOREVER"}}}, None),
        ({"lifecycle": {"retention": {"mode": "ACTIVITY_REFRESH"}}}, "lifecycle.retention.duration"),
        (
            {"lifecycle": {"retention": {"mode": "ACTIVITY_REFRESH", "duration": "soon"}}},
            "lifecycle.retention.duration",
        ),
        ({"lifecycle": {"qualification_period": {"type": "FIXED_YEAR"}}}, "lifecycle.qualification_period.start_month"),
        (
            {"lifecycle": {"qualification_period": {"type": "FIXED_YEAR", "start_month": 4}}},
            "lifecycle.qualification_period.start_day",
        ),
        (
            {"lifecycle": {"qualification_period": {"type": "FIXED_YEAR", "start_month": 4, "start_day": 31}}},
            "lifecycle.qualification_period.start_day",
        ),
        ({"lifecycle": {"qualification_period": {"type": "FIXED_YEAR", "start_month": 13, "start_day": 1}}}, None),
        ({"lifecycle": {"downgrade_policy": {"min_level": "platinum"}}}, "lifecycle.downgrade_policy.min_level"),
        ({"lifecycle": {"downgrade_policy": {"mode": "DROP_TWO"}}}, None),
        ({"lifecycle": {"downgrade_policy": {"grace_days": -1}}}, None),
        ({"lifecycle": {"counters": {"rollover": "ALL"}}}, None),
    ],
)
def test_create_validation_is_400(api: Api, changes: dict[str, Any], field: str | None) -> None:
    program_id = api.create_program()["id"]
    body = _error(api.post(_url(program_id), json=_body(**changes)), 400, "validation_error")
    if field is not None:
        assert body["details"]["field"] == field, body
    assert api.get(_url(program_id)).json() == {"data": []}


def test_duplicate_key_is_409_and_keys_are_per_program(api: Api) -> None:
    program_id = api.create_program()["id"]
    first = _create(api, program_id)
    _error(api.post(_url(program_id), json=_body(display_name="again")), 409, "conflict")
    assert api.get(_url(program_id, "status")).json() == first
    other = api.create_program()["id"]
    assert _create(api, other)["program_id"] == other


def test_unknown_program_and_tier_are_404(api: Api, other_api: Api) -> None:
    program_id = api.create_program()["id"]
    unknown = str(uuid.uuid4())
    _error(api.post(_url(unknown), json=_body()), 404, "not_found")
    _error(api.get(_url(unknown)), 404, "not_found")
    _error(api.get(_url(program_id, "nope")), 404, "not_found")
    _error(api.patch(_url(program_id, "nope"), json={"display_name": "x"}), 404, "not_found")
    _error(api.post(_url(program_id, "nope") + "/archive"), 404, "not_found")
    _create(api, program_id)
    _error(other_api.get(_url(program_id, "status")), 404, "not_found")
    _error(other_api.get(_url(program_id)), 404, "not_found")


def test_archived_program_rejects_create_patch_and_archive(api: Api) -> None:
    program_id = api.create_program()["id"]
    _create(api, program_id)
    assert api.patch(f"/v1/programs/{program_id}", json={"status": "ARCHIVED"}).status_code == 200
    _error(api.post(_url(program_id), json=_body(key="other")), 409, "program_archived")
    _error(api.patch(_url(program_id, "status"), json={"display_name": "x"}), 409, "program_archived")
    _error(api.post(_url(program_id, "status") + "/archive"), 409, "program_archived")
    assert api.get(_url(program_id, "status")).json()["display_name"] == "Member Status"
    assert [t["key"] for t in api.get(_url(program_id)).json()["data"]] == ["status"]


def test_patch_upserts_levels_by_key(api: Api) -> None:
    program_id = api.create_program()["id"]
    tier = _create(api, program_id)
    silver_before = tier["levels"][0]
    response = api.patch(
        _url(program_id, "status"),
        json={
            "display_name": "Status",
            "levels": [
                {"key": "gold", "display_name": "Gold+", "benefits": {"bonus_pct": 30}},
                {
                    "key": "platinum",
                    "rank": 3,
                    "qualification": {
                        "mode": "ALL",
                        "criteria": [{"counter": "n", "operator": ">", "threshold": 99.5}],
                    },
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["display_name"] == "Status" and updated["key"] == "status"
    assert [(lv["key"], lv["rank"]) for lv in updated["levels"]] == [("silver", 1), ("gold", 2), ("platinum", 3)]
    assert updated["levels"][0] == silver_before  # untouched
    gold = updated["levels"][1]
    assert gold["display_name"] == "Gold+" and gold["benefits"] == {"bonus_pct": 30}
    assert gold["qualification"] == SPEC_EXAMPLE["levels"][1]["qualification"]  # omitted: unchanged
    assert gold["id"] == tier["levels"][1]["id"]
    assert updated["levels"][2]["qualification"]["criteria"][0]["threshold"] == 99.5
    assert updated["lifecycle"] == tier["lifecycle"]  # omitted: unchanged
    assert api.get(_url(program_id, "status")).json() == updated


def test_patch_qualification_null_keeps_and_empty_removes(api: Api) -> None:
    program_id = api.create_program()["id"]
    _create(api, program_id)
    kept = api.patch(_url(program_id, "status"), json={"levels": [{"key": "silver", "qualification": None}]}).json()
    assert kept["levels"][0]["qualification"] == SPEC_EXAMPLE["levels"][0]["qualification"]
    removed = api.patch(_url(program_id, "status"), json={"levels": [{"key": "silver", "qualification": {}}]}).json()
    assert removed["levels"][0]["qualification"] == {}


def test_patch_lifecycle_null_keeps_empty_clears_object_replaces(api: Api) -> None:
    program_id = api.create_program()["id"]
    tier = _create(api, program_id)
    kept = api.patch(_url(program_id, "status"), json={"lifecycle": None}).json()
    assert kept["lifecycle"] == tier["lifecycle"]
    replaced = api.patch(
        _url(program_id, "status"), json={"lifecycle": {"qualification_period": {"type": "CALENDAR_YEAR"}}}
    ).json()
    assert replaced["lifecycle"] == {
        "qualification_period": {"type": "CALENDAR_YEAR"},
        "status_validity": {"extend_months": 0},
        "downgrade_policy": {"mode": "DROP_TO_QUALIFYING", "grace_days": 0},
    }
    cleared = api.patch(_url(program_id, "status"), json={"lifecycle": {}}).json()
    assert cleared["lifecycle"] == {}


def test_patch_rank_conflict_is_409_and_a_swap_is_allowed(api: Api) -> None:
    program_id = api.create_program()["id"]
    tier = _create(api, program_id)
    body = _error(api.patch(_url(program_id, "status"), json={"levels": [{"key": "gold", "rank": 1}]}), 409, "conflict")
    assert body["details"]["rank"] == 1
    _error(api.patch(_url(program_id, "status"), json={"levels": [{"key": "bronze", "rank": 2}]}), 409, "conflict")
    assert api.get(_url(program_id, "status")).json() == tier
    swapped = api.patch(
        _url(program_id, "status"), json={"levels": [{"key": "gold", "rank": 1}, {"key": "silver", "rank": 2}]}
    )
    assert swapped.status_code == 200, swapped.text
    assert [(lv["key"], lv["rank"]) for lv in swapped.json()["levels"]] == [("gold", 1), ("silver", 2)]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"levels": [{"key": "platinum"}]}, "levels[0].rank"),
        ({"levels": [{"key": "gold", "rank": 5}, {"key": "gold", "rank": 6}]}, "levels[1].key"),
        ({"levels": [{"key": "gold", "rank": 5}, {"key": "silver", "rank": 5}]}, "levels[1].rank"),
        ({"key": "other"}, "key"),
        ({"lifecycle": {"downgrade_policy": {"min_level": "bronze"}}}, "lifecycle.downgrade_policy.min_level"),
        ({"levels": [{"key": "gold", "qualification": {"mode": "ALL"}}]}, "levels[0].qualification.criteria"),
    ],
)
def test_patch_validation_is_400(api: Api, patch: dict[str, Any], field: str) -> None:
    program_id = api.create_program()["id"]
    tier = _create(api, program_id)
    body = _error(api.patch(_url(program_id, "status"), json=patch), 400, "validation_error")
    assert body["details"]["field"] == field
    assert api.get(_url(program_id, "status")).json() == tier


def test_archive_is_one_way(api: Api) -> None:
    program_id = api.create_program()["id"]
    _create(api, program_id)
    response = api.post(_url(program_id, "status") + "/archive")
    assert response.status_code == 200, response.text
    archived = response.json()
    assert archived["status"] == "ARCHIVED" and archived["archived_at"] is not None
    _error(api.post(_url(program_id, "status") + "/archive"), 409, "tier_archived")
    _error(api.patch(_url(program_id, "status"), json={"display_name": "x"}), 409, "tier_archived")
    assert api.get(_url(program_id, "status")).json() == archived
    assert api.get(_url(program_id)).json() == {"data": [archived]}  # archived tiers are listed


def test_the_writes_recheck_what_the_service_read(api: Api) -> None:
    """A program archived, or a tier archived, after the service read it: the commit refuses."""
    program_id = api.create_program()["id"]
    _create(api, program_id)
    stored = tier_store.require(api.organization_id, program_id, "status")
    assert api.post(_url(program_id, "status") + "/archive").status_code == 200
    with pytest.raises(TierArchived):
        transactions.write([tier_store.active_check(api.organization_id, stored.tier)])
    with pytest.raises(tier_store.StaleTier):
        tier_store.save(api.organization_id, stored, replace(stored.tier, display_name="late"))
    assert api.patch(f"/v1/programs/{program_id}", json={"status": "ARCHIVED"}).status_code == 200
    with pytest.raises(ProgramArchived):
        tier_store.create(api.organization_id, replace(stored.tier, key="late"))
    assert [t["key"] for t in api.get(_url(program_id)).json()["data"]] == ["status"]
