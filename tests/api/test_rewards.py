"""Rewards catalog (05 §1) through HTTP against the local stack."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from scrip.domain.rewards import RewardView
from scrip.storage import rewards as reward_store
from scrip.storage import transactions
from tests.conftest import Api


def _setup(api: Api, *, scale: int = 0) -> tuple[str, str]:
    program = api.create_program()
    asset = api.create_asset(program["id"], scale=scale)
    return program["id"], asset["id"]


def _reward_body(asset_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "$25 Coffee Card",
        "redemption_type": "UNIT_BASED",
        "asset_id": asset_id,
        "unit_cost": "2500",
        "status": "DRAFT",
        **fields,
    }


def _create(api: Api, program_id: str, asset_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/v1/programs/{program_id}/rewards", json=_reward_body(asset_id, **fields))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_the_spec_example_and_get_it(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(
        api,
        program_id,
        asset_id,
        max_total=500,
        max_per_participant=3,
        category="Gift Cards",
        available_from="2026-02-01T00:00:00Z",
        available_until="2026-06-30T23:59:59Z",
        metadata={"sku": "COFFEE-25"},
    )
    assert uuid.UUID(reward["id"])
    assert reward["program_id"] == program_id and reward["asset_id"] == asset_id
    assert reward["unit_cost"] == "2500" and reward["redeemed_count"] == 0
    assert reward["status"] == "DRAFT" and reward["max_total"] == 500 and reward["max_per_participant"] == 3
    assert reward["available_from"].startswith("2026-02-01T00:00:00")
    assert reward["metadata"] == {"sku": "COFFEE-25"} and reward["description"] is None
    assert api.get(f"/v1/programs/{program_id}/rewards/{reward['id']}").json() == reward


def _url(program_id: str, reward_id: str | None = None) -> str:
    return f"/v1/programs/{program_id}/rewards" + (f"/{reward_id}" if reward_id else "")


# Item redemptions arrive with their own routes; until then the inventory is driven through the
# storage contract they will use (one ``take`` / ``give_back`` in the operation's transaction).
def _take(api: Api, reward_id: str, quantity: int, *, view: RewardView | None = None) -> None:
    view = view or reward_store.get(api.organization_id, reward_id)
    assert view is not None
    transactions.write([reward_store.take(view.reward, quantity)])


def _give_back(api: Api, reward_id: str, quantity: int) -> None:
    view = reward_store.get(api.organization_id, reward_id)
    assert view is not None
    transactions.write([reward_store.give_back(view.reward, quantity)])


def _get(api: Api, program_id: str, reward_id: str) -> dict[str, Any]:
    response = api.get(_url(program_id, reward_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _patch(api: Api, program_id: str, reward_id: str, **changes: Any) -> dict[str, Any]:
    response = api.patch(_url(program_id, reward_id), json=changes)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_defaults_and_amount_based(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(api, program_id, asset_id, name="Cashback", redemption_type="AMOUNT_BASED", unit_cost="10")
    assert reward["redemption_type"] == "AMOUNT_BASED"
    assert reward["max_total"] is None and reward["max_per_participant"] is None
    assert reward["category"] is None and reward["metadata"] == {}
    assert reward["available_from"] is None and reward["available_until"] is None
    assert reward["created_at"] == reward["updated_at"] and reward["created_at"].endswith("Z")


def test_unit_cost_is_rendered_and_checked_with_the_asset_scale(api: Api) -> None:
    program_id, asset_id = _setup(api, scale=2)
    assert _create(api, program_id, asset_id, unit_cost="12.5")["unit_cost"] == "12.50"
    assert _create(api, program_id, asset_id, name="B", unit_cost="3.000")["unit_cost"] == "3.00"
    response = api.post(_url(program_id), json=_reward_body(asset_id, name="C", unit_cost="1.005"))
    assert response.status_code == 400 and response.json()["code"] == "invalid_scale"
    reward_id = _create(api, program_id, asset_id, name="D")["id"]
    response = api.patch(_url(program_id, reward_id), json={"unit_cost": "0.001"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_scale"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"redemption_type": "POINTS"}, "redemption_type"),
        ({"redemption_type": None}, "redemption_type"),
        ({"asset_id": "not-a-uuid"}, "asset_id"),
        ({"unit_cost": "0"}, "unit_cost"),
        ({"unit_cost": "-1"}, "unit_cost"),
        ({"unit_cost": 25}, "unit_cost"),
        ({"unit_cost": "1e3"}, "unit_cost"),
        ({"unit_cost": ""}, "unit_cost"),
        ({"status": "LIVE"}, "status"),
        ({"status": None}, "status"),
        ({"max_total": 0}, "max_total"),
        ({"max_total": "5"}, "max_total"),
        ({"max_total": True}, "max_total"),
        ({"max_per_participant": 0}, "max_per_participant"),
        ({"description": "d" * 1001}, "description"),
        ({"category": "c" * 101}, "category"),
        ({"available_from": "tomorrow"}, "available_from"),
        ({"available_from": "2026-06-01T00:00:00Z", "available_until": "2026-05-31T23:59:59Z"}, "available_until"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"metadata": {"blob": "x" * 8200}}, "metadata"),
        ({"redemption_type": "AMOUNT_BASED", "max_total": 5}, "max_total"),
        ({"redemption_type": "AMOUNT_BASED", "max_per_participant": 1}, "max_per_participant"),
    ],
)
def test_create_validation(api: Api, fields: dict[str, Any], field: str) -> None:
    program_id, asset_id = _setup(api)
    # None stands for a required field left out.
    body = {k: v for k, v in {**_reward_body(asset_id), **fields}.items() if v is not None}
    response = api.post(_url(program_id), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field
    assert api.get(_url(program_id)).json()["data"] == []


def test_amount_based_accepts_null_caps_and_bounds_are_inclusive(api: Api) -> None:
    program_id, asset_id = _setup(api)
    _create(api, program_id, asset_id, redemption_type="AMOUNT_BASED", max_total=None, max_per_participant=None)
    _create(
        api,
        program_id,
        asset_id,
        name="x" * 255,
        description="d" * 1000,
        category="c" * 100,
        max_total=1,
        available_from="2026-06-01T00:00:00Z",
        available_until="2026-06-01T00:00:00Z",
    )


def test_unknown_program_is_404_everywhere(api: Api) -> None:
    _, asset_id = _setup(api)
    missing = str(uuid.uuid4())
    for response in (
        api.post(_url(missing), json=_reward_body(asset_id)),
        api.get(_url(missing)),
        api.get(_url(missing, str(uuid.uuid4()))),
        api.patch(_url(missing, str(uuid.uuid4())), json={"name": "n"}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


def test_asset_not_linked_is_422_and_writes_nothing(api: Api) -> None:
    program_id, _ = _setup(api)
    other_program = api.create_program(name="Other")
    foreign_asset = api.create_asset(other_program["id"], symbol="FOR")
    for asset_id in (foreign_asset["id"], str(uuid.uuid4())):
        response = api.post(_url(program_id), json=_reward_body(asset_id))
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "asset_not_linked"
    assert api.get(_url(program_id)).json()["data"] == []


def test_name_is_unique_per_program_ignoring_case(api: Api) -> None:
    program_id, asset_id = _setup(api)
    first = _create(api, program_id, asset_id, name="Coffee Card")
    response = api.post(_url(program_id), json=_reward_body(asset_id, name="coffee CARD"))
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert [r["id"] for r in api.get(_url(program_id)).json()["data"]] == [first["id"]]
    # Another program may use the name.
    other = api.create_program(name="Other")
    api.post(f"/v1/programs/{other['id']}/assets", json={"asset_id": asset_id})
    assert api.post(_url(other["id"]), json=_reward_body(asset_id, name="Coffee Card")).status_code == 201


def test_rename_moves_the_name_claim(api: Api) -> None:
    program_id, asset_id = _setup(api)
    card = _create(api, program_id, asset_id, name="Coffee Card")
    mug = _create(api, program_id, asset_id, name="Mug")
    response = api.patch(_url(program_id, mug["id"]), json={"name": "COFFEE card"})
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert _get(api, program_id, mug["id"])["name"] == "Mug"
    assert _patch(api, program_id, card["id"], name="coffee card")["name"] == "coffee card"  # case only
    assert _patch(api, program_id, card["id"], name="Tea Card")["name"] == "Tea Card"
    assert _patch(api, program_id, mug["id"], name="Coffee Card")["name"] == "Coffee Card"  # freed
    names = [r["name"] for r in api.get(_url(program_id) + "?sort_by=name&sort_dir=asc").json()["data"]]
    assert names == ["Coffee Card", "Tea Card"]


def test_patch_merges_clears_and_replaces_metadata(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(
        api, program_id, asset_id, description="Hot", category="Gift", metadata={"a": 1, "b": 2}, max_total=5
    )
    updated = _patch(
        api, program_id, reward["id"], description=None, unit_cost="3000", metadata={"c": 3}, max_per_participant=2
    )
    assert updated["description"] is None and updated["category"] == "Gift"
    assert updated["unit_cost"] == "3000" and updated["metadata"] == {"c": 3}
    assert updated["max_total"] == 5 and updated["max_per_participant"] == 2
    assert updated["updated_at"] > reward["updated_at"] and updated["created_at"] == reward["created_at"]
    assert _get(api, program_id, reward["id"]) == updated
    assert _patch(api, program_id, reward["id"], category="Gift") == updated  # no change, no new updated_at
    assert _patch(api, program_id, reward["id"], max_total=None)["max_total"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"redemption_type": "UNIT_BASED"}, "redemption_type"),
        ({"redemption_type": "AMOUNT_BASED"}, "redemption_type"),
        ({"asset_id": "{asset}"}, "asset_id"),
        ({"asset_id": None}, "asset_id"),
        ({"name": None}, "name"),
        ({"unit_cost": None}, "unit_cost"),
        ({"status": None}, "status"),
        ({"metadata": None}, "metadata"),
        ({"unit_cost": "0"}, "unit_cost"),
        ({"max_total": 0}, "max_total"),
        ({"available_until": "2026-01-31T00:00:00Z"}, "available_until"),
    ],
)
def test_patch_validation(api: Api, changes: dict[str, Any], field: str) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(api, program_id, asset_id, available_from="2026-02-01T00:00:00Z")
    body = {k: (asset_id if v == "{asset}" else v) for k, v in changes.items()}
    response = api.patch(_url(program_id, reward["id"]), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error" and response.json()["details"]["field"] == field
    assert _get(api, program_id, reward["id"]) == reward


def test_caps_are_refused_on_amount_based_updates(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(api, program_id, asset_id, redemption_type="AMOUNT_BASED")
    for cap in ("max_total", "max_per_participant"):
        response = api.patch(_url(program_id, reward["id"]), json={cap: 3})
        assert response.status_code == 400 and response.json()["details"]["field"] == cap
    assert _patch(api, program_id, reward["id"], max_total=None)["max_total"] is None


def test_reward_of_another_program_or_organization_is_404(api: Api, other_api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward = _create(api, program_id, asset_id)
    other_program = api.create_program(name="Other")
    for response in (
        api.get(_url(other_program["id"], reward["id"])),
        api.patch(_url(other_program["id"], reward["id"]), json={"name": "Stolen"}),
        api.get(_url(program_id, str(uuid.uuid4()))),
        other_api.get(_url(program_id, reward["id"])),
        other_api.get(_url(program_id)),
    ):
        assert response.status_code == 404, response.text
    assert _get(api, program_id, reward["id"])["name"] == reward["name"]


def test_client_status_moves(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id)["id"]
    for status in ("ACTIVE", "DRAFT", "ARCHIVED", "DRAFT", "ARCHIVED", "ACTIVE"):
        assert _patch(api, program_id, reward_id, status=status)["status"] == status
    # OUT_OF_STOCK is the system's to show: with stock left, sending it means ACTIVE.
    assert _patch(api, program_id, reward_id, status="OUT_OF_STOCK")["status"] == "ACTIVE"
    created = _create(api, program_id, asset_id, name="Other", status="OUT_OF_STOCK")
    assert created["status"] == "ACTIVE"


def test_out_of_stock_follows_redemptions_reversals_and_the_cap(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE", max_total=3)["id"]
    _take(api, reward_id, 2)
    assert _get(api, program_id, reward_id)["status"] == "ACTIVE"
    _take(api, reward_id, 1)
    reward = _get(api, program_id, reward_id)
    assert (reward["status"], reward["redeemed_count"]) == ("OUT_OF_STOCK", 3)
    with pytest.raises(reward_store.InventoryRace):
        _take(api, reward_id, 1)  # never oversold
    _give_back(api, reward_id, 1)  # a reversal restocks
    assert (_get(api, program_id, reward_id)["status"], _get(api, program_id, reward_id)["redeemed_count"]) == (
        "ACTIVE",
        2,
    )
    assert _patch(api, program_id, reward_id, max_total=2)["status"] == "OUT_OF_STOCK"  # lowered to the count
    assert _patch(api, program_id, reward_id, max_total=1)["status"] == "OUT_OF_STOCK"  # below it
    assert _patch(api, program_id, reward_id, max_total=4)["status"] == "ACTIVE"  # raised
    assert _patch(api, program_id, reward_id, max_total=2)["status"] == "OUT_OF_STOCK"
    assert _patch(api, program_id, reward_id, max_total=None)["status"] == "ACTIVE"  # cleared
    assert _get(api, program_id, reward_id)["redeemed_count"] == 2
    # Automatic moves never touch DRAFT or ARCHIVED rewards.
    for status in ("DRAFT", "ARCHIVED"):
        assert _patch(api, program_id, reward_id, status=status, max_total=1)["status"] == status
        assert _patch(api, program_id, reward_id, max_total=None)["status"] == status
    # Back to ACTIVE with no stock left: shown as out of stock at once.
    assert _patch(api, program_id, reward_id, status="ACTIVE", max_total=2)["status"] == "OUT_OF_STOCK"


def test_a_take_planned_on_a_stale_count_cannot_oversell(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE", max_total=10)["id"]
    _take(api, reward_id, 9)
    stale = reward_store.get(api.organization_id, reward_id)  # two redemptions both read 9 of 10
    _take(api, reward_id, 1, view=stale)
    with pytest.raises(reward_store.InventoryRace):
        _take(api, reward_id, 1, view=stale)
    assert _get(api, program_id, reward_id)["redeemed_count"] == 10


def test_a_take_planned_under_another_cap_is_refused(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE", max_total=5)["id"]
    stale = reward_store.get(api.organization_id, reward_id)
    _patch(api, program_id, reward_id, max_total=6)
    with pytest.raises(reward_store.InventoryRace):
        _take(api, reward_id, 1, view=stale)


def test_uncapped_counts_spread_over_shards_and_fold_into_a_new_cap(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE")["id"]
    for _ in range(12):
        _take(api, reward_id, 1)
    _give_back(api, reward_id, 2)
    assert _get(api, program_id, reward_id)["redeemed_count"] == 10
    from scrip.storage import keys, table

    counts = [
        table.client()
        .get_item(
            TableName=table.table_name(),
            Key={"PK": keys.reward_count(api.organization_id, reward_id, shard), "SK": keys.ENTITY_SK},
        )
        .get("Item", {})
        .get("redeemed_count", 0)
        for shard in range(keys.REWARD_COUNT_SHARDS)
    ]
    assert sum(counts) == 12 and sum(1 for c in counts if c) > 1  # no single counter item
    uncapped = reward_store.get(api.organization_id, reward_id)
    capped = _patch(api, program_id, reward_id, max_total=11)
    assert (capped["redeemed_count"], capped["status"]) == (10, "ACTIVE")
    with pytest.raises(reward_store.InventoryRace):
        _take(api, reward_id, 1, view=uncapped)  # planned before the cap: would count outside it
    _take(api, reward_id, 1)
    assert _get(api, program_id, reward_id)["status"] == "OUT_OF_STOCK"
    with pytest.raises(reward_store.InventoryRace):
        _take(api, reward_id, 1)
    assert _patch(api, program_id, reward_id, max_total=None)["redeemed_count"] == 11
    _take(api, reward_id, 4)
    assert _get(api, program_id, reward_id)["redeemed_count"] == 15
    assert _patch(api, program_id, reward_id, max_total=15)["status"] == "OUT_OF_STOCK"


def test_capping_retries_when_a_redemption_lands_during_the_fold(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE")["id"]
    _take(api, reward_id, 3)
    view = reward_store.get(api.organization_id, reward_id)
    assert view is not None
    read_before = reward_store._read_counts([view.reward])
    _take(api, reward_id, 2)  # lands between the fold's read and its commit
    monkeypatch.setattr(reward_store, "_read_counts", lambda rewards: read_before)
    with pytest.raises(reward_store.StaleReward):
        reward_store.save(view, replace(view.reward, max_total=4, version=view.reward.version + 1))
    monkeypatch.undo()
    assert _get(api, program_id, reward_id)["redeemed_count"] == 5  # nothing lost, no cap set
    assert _get(api, program_id, reward_id)["max_total"] is None
    assert _patch(api, program_id, reward_id, max_total=4)["status"] == "OUT_OF_STOCK"


def _names(api: Api, url: str) -> list[str]:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["data"]]


def test_list_filters_search_and_sort(api: Api) -> None:
    program_id, asset_id = _setup(api)
    _create(api, program_id, asset_id, name="Bravo Mug", status="ACTIVE")
    _create(api, program_id, asset_id, name="alpha Card", status="DRAFT")
    sold_out = _create(api, program_id, asset_id, name="Charlie Hat", status="ACTIVE", max_total=1)
    _create(api, program_id, asset_id, name="Delta Card", status="ARCHIVED")
    _take(api, sold_out["id"], 1)
    base = _url(program_id)
    assert _names(api, base) == ["Charlie Hat", "alpha Card", "Bravo Mug"]  # newest first, archived left out
    assert _names(api, base + "?include_archived=true&sort_by=name&sort_dir=asc") == [
        "alpha Card",
        "Bravo Mug",
        "Charlie Hat",
        "Delta Card",
    ]
    assert _names(api, base + "?sort_by=name&sort_dir=desc") == ["Charlie Hat", "Bravo Mug", "alpha Card"]
    assert _names(api, base + "?sort_dir=asc") == ["Bravo Mug", "alpha Card", "Charlie Hat"]
    assert _names(api, base + "?status=ARCHIVED") == ["Delta Card"]
    assert _names(api, base + "?status=ACTIVE") == ["Bravo Mug"]
    assert _names(api, base + "?status=OUT_OF_STOCK") == ["Charlie Hat"]
    assert _names(api, base + "?status=DRAFT") == ["alpha Card"]
    assert _names(api, base + "?search=CARD") == ["alpha Card"]
    assert _names(api, base + "?search=card&include_archived=true") == ["Delta Card", "alpha Card"]
    listed = api.get(base + "?status=OUT_OF_STOCK").json()["data"][0]
    assert listed == _get(api, program_id, sold_out["id"]) and listed["redeemed_count"] == 1


def test_list_pages_without_gaps_or_repeats(api: Api) -> None:
    program_id, asset_id = _setup(api)
    created = [_create(api, program_id, asset_id, name=f"R{i}", status="ACTIVE", max_total=1) for i in range(7)]
    for reward in created[::2]:
        _take(api, reward["id"], 1)  # every other one out of stock: the ACTIVE filter reads on
    for query, expected in (
        ("sort_dir=asc", [r["name"] for r in created]),
        ("status=ACTIVE&sort_dir=asc", [r["name"] for r in created[1::2]]),
        ("status=OUT_OF_STOCK&sort_by=name&sort_dir=desc", [r["name"] for r in created[::2]][::-1]),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            url = _url(program_id) + f"?limit=2&{query}" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(url).json()
            seen += [r["name"] for r in page["data"]]
            assert page["pagination"]["has_more"] == (page["pagination"]["next_cursor"] is not None)
            if not page["pagination"]["has_more"]:
                break
            assert len(page["data"]) == 2
            cursor = page["pagination"]["next_cursor"]
        assert seen == expected, query
    cursor = api.get(_url(program_id) + "?limit=1").json()["pagination"]["next_cursor"]
    response = api.get(_url(program_id) + f"?limit=1&sort_by=name&cursor={cursor}")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "status=LIVE", "sort_by=price", "sort_dir=up", "include_archived=maybe"]
)
def test_list_query_validation(api: Api, query: str) -> None:
    program_id, _ = _setup(api)
    response = api.get(_url(program_id) + f"?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


def test_participant_cap_counts_on_the_participant_and_never_passes(api: Api) -> None:
    program_id, asset_id = _setup(api)
    reward_id = _create(api, program_id, asset_id, status="ACTIVE", max_per_participant=3)["id"]
    view = reward_store.get(api.organization_id, reward_id)
    assert view is not None
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    transactions.write([reward_store.take_for_participant(view.reward, alice, 2)])
    # The condition is on the stored count, whatever each redemption read: 3 of 3 refuses one more.
    transactions.write([reward_store.take_for_participant(view.reward, alice, 1)])
    with pytest.raises(reward_store.ParticipantCapRace):
        transactions.write([reward_store.take_for_participant(view.reward, alice, 1)])
    with pytest.raises(reward_store.ParticipantCapRace):
        reward_store.take_for_participant(view.reward, bob, 4)  # above the cap for anyone
    transactions.write([reward_store.take_for_participant(view.reward, bob, 3)])  # caps are per participant
    transactions.write([reward_store.give_back_for_participant(view.reward, alice, 2)])
    transactions.write([reward_store.take_for_participant(view.reward, alice, 2)])
    assert (reward_store.participant_count(view.reward, alice), reward_store.participant_count(view.reward, bob)) == (
        3,
        3,
    )
    assert _get(api, program_id, reward_id)["redeemed_count"] == 0  # the global count is the inventory's
