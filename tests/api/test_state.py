"""Tags, counters, attributes and state history (02 §2) for participants, groups and programs."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain.errors import ApiError
from scrip.domain.state import Owner, OwnerKind
from scrip.services import state as state_service
from scrip.services.state import ChangeSource
from tests.conftest import Api

KINDS = ["participants", "groups", "programs"]


def _create_owner(api: Api, collection: str) -> str:
    if collection == "programs":
        return api.create_program()["id"]
    participant = api.post("/v1/participants", json={"external_id": f"owner-{uuid.uuid4().hex[:8]}"}).json()
    if collection == "participants":
        return str(participant["id"])
    group = api.post(
        "/v1/groups", json={"name": "Team", "members": [{"participant_id": participant["id"], "role": "ADMIN"}]}
    )
    assert group.status_code == 201, group.text
    return str(group.json()["id"])


@pytest.fixture(params=KINDS)
def base(request: pytest.FixtureRequest, api: Api) -> str:
    collection = request.param
    return f"/v1/{collection}/{_create_owner(api, collection)}"


def _history(api: Api, base: str, query: str = "") -> list[dict[str, Any]]:
    if base.startswith("/v1/programs"):
        return []  # programs have no history endpoint (none is documented)
    response = api.get(f"{base}/activity/state-history{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


# ------------------------------------------------------------------ tags


def test_add_tag_is_lowercased_idempotent_and_recorded(api: Api, base: str) -> None:
    first = api.put(f"{base}/state/tags/VIP")
    assert first.status_code == 201 and first.json() == {"tag": "vip"}
    again = api.put(f"{base}/state/tags/vip")
    assert again.status_code == 200 and again.json() == {"tag": "vip"}
    assert api.get(f"{base}/state/tags").json()["data"] == [{"tag": "vip"}]
    if not base.startswith("/v1/programs"):
        entries = _history(api, base, "?state_type=tag")
        assert [(e["key"], e["operation"], e["old_value"], e["new_value"]) for e in entries] == [
            ("vip", "add", None, "vip")
        ]
        assert entries[0]["changed_by_api_key_id"]


def test_remove_tag_case_insensitively_and_absent_is_fine(api: Api, base: str) -> None:
    api.put(f"{base}/state/tags/promo")
    assert api.request("DELETE", f"{base}/state/tags/PROMO").status_code == 204
    assert api.request("DELETE", f"{base}/state/tags/never-there").status_code == 204
    assert api.get(f"{base}/state/tags").json()["data"] == []
    if not base.startswith("/v1/programs"):
        assert [e["operation"] for e in _history(api, base, "?key=promo")] == ["remove", "add"]


def test_replace_tags_is_a_full_replacement(api: Api, base: str) -> None:
    for tag in ["a", "b", "c"]:
        api.put(f"{base}/state/tags/{tag}")
    response = api.put(f"{base}/state/tags", json={"tags": ["C", "d", "d", "E"]})
    assert response.status_code == 200
    assert response.json() == {"tags": ["c", "d", "e"]}
    assert [t["tag"] for t in api.get(f"{base}/state/tags").json()["data"]] == ["c", "d", "e"]
    assert api.put(f"{base}/state/tags", json={"tags": []}).json() == {"tags": []}
    assert api.get(f"{base}/state/tags").json()["data"] == []


@pytest.mark.parametrize("body", [{}, {"tags": "vip"}, {"tags": [1]}, {"tags": [""]}, {"tags": ["x" * 256]}])
def test_replace_tags_validation(api: Api, base: str, body: dict[str, Any]) -> None:
    response = api.put(f"{base}/state/tags", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_tag_longer_than_255_is_refused(api: Api, base: str) -> None:
    assert api.put(f"{base}/state/tags/{'x' * 256}").status_code == 400
    assert api.put(f"{base}/state/tags/{'x' * 255}").status_code == 201


def test_tags_page(api: Api, base: str) -> None:
    api.put(f"{base}/state/tags", json={"tags": [f"t{i:02d}" for i in range(25)]})
    seen, cursor = [], None
    while True:
        page = api.get(f"{base}/state/tags?limit=10" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [t["tag"] for t in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert seen == [f"t{i:02d}" for i in range(25)]


# -------------------------------------------------------------- counters


def test_set_get_list_and_delete_counter(api: Api, base: str) -> None:
    created = api.put(f"{base}/state/counters/orders", json={"value": "7"})
    assert created.status_code == 200
    assert created.json() == {"key": "orders", "value": "7", "reset_after": None, "last_reset_at": None}
    api.put(f"{base}/state/counters/ytd_spend", json={"value": "340.00"})
    assert api.get(f"{base}/state/counters/ytd_spend").json()["value"] == "340"
    listed = api.get(f"{base}/state/counters").json()["data"]
    assert [(c["key"], c["value"]) for c in listed] == [("orders", "7"), ("ytd_spend", "340")]
    assert api.put(f"{base}/state/counters/balance", json={"value": "-2.5"}).json()["value"] == "-2.5"
    assert api.request("DELETE", f"{base}/state/counters/orders").status_code == 204
    assert api.request("DELETE", f"{base}/state/counters/orders").status_code == 204
    missing = api.get(f"{base}/state/counters/orders")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    if not base.startswith("/v1/programs"):
        orders = _history(api, base, "?state_type=counter&key=orders")
        assert [(e["operation"], e["old_value"], e["new_value"]) for e in orders] == [
            ("delete", "7", None),
            ("set", None, "7"),
        ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"value": 5},
        {"value": "five"},
        {"value": "1e3"},
        {"value": ""},
        {"value": "1", "reset_after": "1 day"},
        {"value": "1", "reset_after": "-5h"},
        {"value": "1", "reset_after": "0s"},
        {"value": "1", "reset_after": "h"},
    ],
)
def test_set_counter_validation(api: Api, base: str, body: dict[str, Any]) -> None:
    response = api.put(f"{base}/state/counters/orders", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


def test_reset_after_is_kept_when_omitted_and_removed_by_empty_string(api: Api, base: str) -> None:
    first = api.put(f"{base}/state/counters/weekly", json={"value": "1", "reset_after": "168h"}).json()
    assert first["reset_after"] == "168h" and first["last_reset_at"]
    kept = api.put(f"{base}/state/counters/weekly", json={"value": "2"}).json()
    assert kept["reset_after"] == "168h" and kept["last_reset_at"] >= first["last_reset_at"]
    removed = api.put(f"{base}/state/counters/weekly", json={"value": "3", "reset_after": ""}).json()
    assert removed["reset_after"] is None and removed["last_reset_at"] is None
    assert (
        api.put(f"{base}/state/counters/daily", json={"value": "1", "reset_after": "1d"}).json()["reset_after"] == "1d"
    )
    assert api.put(f"{base}/state/counters/mixed", json={"value": "1", "reset_after": "1h30m"}).status_code == 200


def test_counter_resets_lazily_after_its_window(api: Api, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api.put(f"{base}/state/counters/streak", json={"value": "5", "reset_after": "24h"})
    api.put(f"{base}/state/counters/total", json={"value": "9"})
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(24 * 3600 + 1))
    assert api.get(f"{base}/state/counters/streak").json()["value"] == "0"
    assert api.get(f"{base}/state/counters/total").json()["value"] == "9"
    assert {c["key"]: c["value"] for c in api.get(f"{base}/state/counters").json()["data"]} == {
        "streak": "0",
        "total": "9",
    }


# ------------------------------------------------------------ attributes


def test_attributes_merge_set_and_delete(api: Api, base: str) -> None:
    merged = api.patch(f"{base}/state/attributes", json={"attributes": {"home_store": "leeds", "channel": "app"}})
    assert merged.status_code == 200
    assert merged.json() == {"attributes": {"channel": "app", "home_store": "leeds"}}
    again = api.patch(f"{base}/state/attributes", json={"attributes": {"channel": "web"}}).json()
    assert again == {"attributes": {"channel": "web", "home_store": "leeds"}}
    single = api.put(f"{base}/state/attributes/birthday", json={"value": "06-15"})
    assert single.status_code == 200 and single.json() == {"key": "birthday", "value": "06-15"}
    assert api.request("DELETE", f"{base}/state/attributes/channel").status_code == 204
    assert api.request("DELETE", f"{base}/state/attributes/channel").status_code == 204
    listed = api.get(f"{base}/state/attributes").json()["data"]
    assert listed == [{"key": "birthday", "value": "06-15"}, {"key": "home_store", "value": "leeds"}]
    if not base.startswith("/v1/programs"):
        channel = _history(api, base, "?state_type=attribute&key=channel")
        assert [(e["operation"], e["old_value"], e["new_value"]) for e in channel] == [
            ("delete", "web", None),
            ("set", "app", "web"),
            ("set", None, "app"),
        ]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "state/attributes", {}),
        ("PATCH", "state/attributes", {"attributes": {"k": 1}}),
        ("PATCH", "state/attributes", {"attributes": ["k"]}),
        ("PATCH", "state/attributes", {"attributes": {"k": ""}}),
        ("PUT", "state/attributes/k", {}),
        ("PUT", "state/attributes/k", {"value": ""}),
        ("PUT", "state/attributes/k", {"value": 3}),
    ],
)
def test_attribute_validation(api: Api, base: str, method: str, suffix: str, body: dict[str, Any]) -> None:
    response = api.request(method, f"{base}/{suffix}", json=body)
    assert response.status_code == 400, response.text


# --------------------------------------------------------------- owners


@pytest.mark.parametrize("collection", KINDS)
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "state/tags", None),
        ("PUT", "state/tags/x", None),
        ("PUT", "state/tags", {"tags": []}),
        ("DELETE", "state/tags/x", None),
        ("GET", "state/counters", None),
        ("GET", "state/counters/k", None),
        ("PUT", "state/counters/k", {"value": "1"}),
        ("DELETE", "state/counters/k", None),
        ("GET", "state/attributes", None),
        ("PATCH", "state/attributes", {"attributes": {"a": "b"}}),
        ("PUT", "state/attributes/k", {"value": "v"}),
        ("DELETE", "state/attributes/k", None),
    ],
)
def test_unknown_or_foreign_owner_is_404(
    api: Api, other_api: Api, collection: str, method: str, suffix: str, body: Any
) -> None:
    unknown = api.request(method, f"/v1/{collection}/{uuid.uuid4()}/{suffix}", json=body)
    assert unknown.status_code == 404, unknown.text
    foreign = _create_owner(other_api, collection)
    assert api.request(method, f"/v1/{collection}/{foreign}/{suffix}", json=body).status_code == 404


def test_archived_group_state_is_read_only(api: Api) -> None:
    group_id = _create_owner(api, "groups")
    base = f"/v1/groups/{group_id}"
    api.put(f"{base}/state/tags/team")
    api.request("DELETE", base)
    for method, suffix, body in [
        ("PUT", "state/tags/x", None),
        ("PUT", "state/tags", {"tags": []}),
        ("DELETE", "state/tags/team", None),
        ("PUT", "state/counters/k", {"value": "1"}),
        ("PATCH", "state/attributes", {"attributes": {"a": "b"}}),
        ("PUT", "state/attributes/k", {"value": "v"}),
    ]:
        response = api.request(method, f"{base}/{suffix}", json=body)
        assert response.status_code == 409, (suffix, response.text)
        assert response.json()["code"] == "group_archived"
    assert api.get(f"{base}/state/tags").json()["data"] == [{"tag": "team"}]


# ---------------------------------------------------------------- history


def test_state_history_filters_and_pages(api: Api) -> None:
    participant = _create_owner(api, "participants")
    base = f"/v1/participants/{participant}"
    api.put(f"{base}/state/tags/a")
    api.put(f"{base}/state/counters/c", json={"value": "1"})
    api.put(f"{base}/state/attributes/x", json={"value": "1"})
    api.request("DELETE", f"{base}/state/tags/a")
    everything = _history(api, base)
    assert [(e["state_type"], e["operation"]) for e in everything] == [
        ("tag", "remove"),
        ("attribute", "set"),
        ("counter", "set"),
        ("tag", "add"),
    ]
    assert [e["state_type"] for e in _history(api, base, "?operation=set")] == ["attribute", "counter"]
    middle = everything[2]["changed_at"]
    assert [e["state_type"] for e in _history(api, base, f"?from={middle}")] == ["tag", "attribute", "counter"]
    assert [e["state_type"] for e in _history(api, base, f"?to={middle}")] == ["counter", "tag"]
    assert [e["state_type"] for e in _history(api, base, f"?event_to={middle}")] == ["counter", "tag"]
    first = api.get(f"{base}/activity/state-history?limit=3").json()
    second = api.get(f"{base}/activity/state-history?limit=3&cursor={first['pagination']['next_cursor']}").json()
    assert [e["id"] for e in first["data"] + second["data"]] == [e["id"] for e in everything]
    for bad in ["?limit=101", "?state_type=balance", "?operation=rename", "?from=yesterday"]:
        assert api.get(f"{base}/activity/state-history{bad}").status_code == 400


# ------------------------------------------------------------ increments


def _caller_owner(api: Api, collection: str) -> tuple[str, Owner]:
    owner_id = _create_owner(api, collection)
    kind = {"participants": OwnerKind.PARTICIPANT, "groups": OwnerKind.GROUP, "programs": OwnerKind.PROGRAM}[collection]
    return api.organization_id, Owner(kind, owner_id)


@pytest.mark.parametrize("collection", KINDS)
def test_twenty_concurrent_increments_end_at_exactly_plus_twenty(api: Api, collection: str) -> None:
    organization_id, owner = _caller_owner(api, collection)
    api.put(f"/v1/{collection}/{owner.id}/state/counters/visits", json={"value": "100"})
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def increment() -> None:
        barrier.wait()
        try:
            state_service.increment_counter(
                organization_id, owner, "visits", Decimal(1), source=ChangeSource(rule_id="r")
            )
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert api.get(f"/v1/{collection}/{owner.id}/state/counters/visits").json()["value"] == "120"
    if collection != "programs":
        sets = _history(api, f"/v1/{collection}/{owner.id}", "?key=visits&operation=set&limit=100")
        assert sorted(Decimal(e["new_value"]) for e in sets) == [Decimal(100 + i) for i in range(21)]


def test_increment_after_the_window_restarts_from_zero(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    organization_id, owner = _caller_owner(api, "participants")
    base = f"/v1/participants/{owner.id}"
    api.put(f"{base}/state/counters/monthly", json={"value": "40", "reset_after": "720h"})
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(721 * 3600))
    counter = state_service.increment_counter(organization_id, owner, "monthly", Decimal("2.5"), source=ChangeSource())
    assert counter.value == Decimal("2.5") and counter.reset_after == "720h"
    assert api.get(f"{base}/state/counters/monthly").json()["value"] == "2.5"
    operations = [(e["operation"], e["old_value"], e["new_value"]) for e in _history(api, base, "?key=monthly")]
    assert operations[:2] == [("set", "0", "2.5"), ("auto_reset", "40", "0")]


def test_increment_creates_a_missing_counter_and_accepts_negative_deltas(api: Api) -> None:
    organization_id, owner = _caller_owner(api, "groups")
    state_service.increment_counter(organization_id, owner, "team_sales", Decimal("49.99"), source=ChangeSource())
    state_service.increment_counter(organization_id, owner, "team_sales", Decimal("-9.99"), source=ChangeSource())
    assert api.get(f"/v1/groups/{owner.id}/state/counters/team_sales").json()["value"] == "40"


@pytest.mark.parametrize("status", ["SUSPENDED", "CLOSED"])
def test_increment_is_refused_for_an_inactive_participant(api: Api, status: str) -> None:
    organization_id, owner = _caller_owner(api, "participants")
    api.patch(f"/v1/participants/{owner.id}/status", json={"status": status})
    with pytest.raises(ApiError) as raised:
        state_service.increment_counter(organization_id, owner, "orders", Decimal(1), source=ChangeSource())
    assert raised.value.status == 409 and raised.value.code == "participant_inactive"
    assert api.get(f"/v1/participants/{owner.id}/state/counters/orders").status_code == 404
    # metadata stays writable for inactive participants
    assert api.put(f"/v1/participants/{owner.id}/state/tags/frozen").status_code == 201
    assert api.put(f"/v1/participants/{owner.id}/state/counters/manual", json={"value": "1"}).status_code == 200
