"""Unlinking an asset from a program (01 §6.9.7) while the link comes into use: the programs that
have posted in an asset are recorded on the asset item by their first posting, so the unlink reads
one item (no journal query) and neither side of a race slips through; a reward priced in the asset
holds the link too."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from scrip.domain.assets import Asset
from scrip.domain.errors import Conflict
from scrip.domain.organizations import Caller
from scrip.services import assets as asset_service
from scrip.services import balances as balance_service
from scrip.storage import assets as asset_store
from scrip_local.metering import DynamoMeter
from scrip_local.stack import LocalStack
from tests.api import events_helpers
from tests.conftest import Api

UNLINK = "ProgramsIdAssetsAssetIdDeleteFunction"


def _two_programs(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An asset created in ``first`` and linked to ``second``."""
    first, second = api.create_program(name="First"), api.create_program(name="Second")
    asset = api.create_asset(first["id"], name="Points", symbol=f"P{uuid.uuid4().hex[:6]}")
    assert api.post(f"/v1/programs/{second['id']}/assets", json={"asset_id": asset["id"]}).status_code == 200
    return first, second, asset


def _member(api: Api) -> str:
    created = api.post("/v1/participants", json={"external_id": f"u-{uuid.uuid4().hex[:8]}"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _credit(api: Api, member: str, program_id: str, asset_id: str, amount: str = "5") -> Any:
    body = {"program_id": program_id, "asset_id": asset_id, "type": "CREDIT", "amount": amount, "description": "s"}
    return api.post(f"/v1/participants/{member}/balances/adjust", json=body)


def _unlink(api: Api, program_id: str, asset_id: str) -> Any:
    return api.delete(f"/v1/programs/{program_id}/assets/{asset_id}")


def _reason(response: Any) -> str:
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    return str(response.json()["details"]["reason"])


def _stored(api: Api, asset_id: str) -> Asset:
    asset = asset_store.get(api.organization_id, asset_id)
    assert asset is not None
    return asset


def test_the_first_posting_of_a_program_is_recorded_once_on_the_asset(api: Api) -> None:
    first, second, asset = _two_programs(api)
    member = _member(api)
    before = _stored(api, asset["id"])
    assert before.posted_program_ids == frozenset()
    assert _credit(api, member, second["id"], asset["id"]).status_code == 200
    after = _stored(api, asset["id"])
    assert after.posted_program_ids == {second["id"]}
    assert after.version == before.version + 1  # a PATCH or unlink that read `before` must re-read
    with DynamoMeter() as meter:  # the common path: the asset already records the program
        assert _credit(api, member, second["id"], asset["id"]).status_code == 200
    written = {pk for call in meter.select() for pk, _, _ in call.written_keys}
    assert not any(f"ASSET#{asset['id']}" in pk for pk in written), written
    assert _stored(api, asset["id"]).version == after.version
    # the resource does not show the set; a PATCH keeps it
    assert "posted_program_ids" not in api.get(f"/v1/assets/{asset['id']}").json()
    assert api.patch(f"/v1/assets/{asset['id']}", json={"name": "Renamed"}).status_code == 200
    assert _stored(api, asset["id"]).posted_program_ids == {second["id"]}
    assert _reason(_unlink(api, second["id"], asset["id"])) == "ledger_entries_exist"
    assert _unlink(api, first["id"], asset["id"]).status_code == 204  # first never posted


def test_unlink_reads_no_journal(api: Api) -> None:
    """One read of the asset decides "ledger entries exist": no query over the journal's shards."""
    _, second, asset = _two_programs(api)
    assert _credit(api, _member(api), second["id"], asset["id"]).status_code == 200
    with DynamoMeter() as meter:
        assert _reason(_unlink(api, second["id"], asset["id"])) == "ledger_entries_exist"
    # the API key, the program, the asset: nothing else (the journal list was a Query per shard)
    assert [c.operation for c in meter.select(UNLINK)] == ["GetItem"] * 3


def test_a_first_posting_committed_after_the_unlink_read_the_asset_wins(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unlink read the asset before the first credit of the program committed: its write is
    refused (the credit bumped the version), it re-reads and answers 409; the link stays."""
    first, second, asset = _two_programs(api)
    member = _member(api)
    unlink = asset_store.unlink
    raced: list[int] = []

    def credit_first(*args: Any, **kwargs: Any) -> None:
        if not raced:
            raced.append(_credit(api, member, second["id"], asset["id"]).status_code)
        unlink(*args, **kwargs)

    monkeypatch.setattr(asset_store, "unlink", credit_first)
    with pytest.raises(Conflict) as refused:
        asset_service.unlink_asset(Caller(api.organization_id, "test"), second["id"], asset["id"])
    assert raced == [200]
    assert refused.value.details == {"reason": "ledger_entries_exist"}
    assert _stored(api, asset["id"]).program_ids == (first["id"], second["id"])
    assert _stored(api, asset["id"]).posted_program_ids == {second["id"]}
    assert api.get(f"/v1/participants/{member}/balances?asset_id={asset['id']}").json()["data"][0]["available"] == "5"


def test_a_first_posting_planned_before_the_unlink_committed_is_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credit read the asset (linked) before the unlink committed: its transaction is refused on
    the link (422 asset_not_linked) and nothing of it is written."""
    _, second, asset = _two_programs(api)
    member = _member(api)
    plan = balance_service.plan
    unlinked: list[str] = []

    def unlink_meanwhile(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        if not unlinked:
            asset_service.unlink_asset(Caller(api.organization_id, "rival"), second["id"], asset["id"])
            unlinked.append("done")
        return planned

    monkeypatch.setattr(balance_service, "plan", unlink_meanwhile)
    response = _credit(api, member, second["id"], asset["id"])
    assert unlinked == ["done"]
    assert (response.status_code, response.json()["code"]) == (422, "asset_not_linked"), response.text
    assert second["id"] not in _stored(api, asset["id"]).program_ids
    assert _stored(api, asset["id"]).posted_program_ids == frozenset()
    assert api.get(f"/v1/participants/{member}/balances?asset_id={asset['id']}").json()["data"] == []
    assert api.get(f"/v1/journal-entries?participant_id={member}").json()["data"] == []


def test_a_patch_that_read_the_asset_before_the_first_posting_keeps_the_record(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second, asset = _two_programs(api)
    member = _member(api)
    save = asset_store.save
    raced: list[int] = []

    def credit_first(*args: Any, **kwargs: Any) -> None:
        if not raced:
            raced.append(_credit(api, member, second["id"], asset["id"]).status_code)
        save(*args, **kwargs)

    monkeypatch.setattr(asset_store, "save", credit_first)
    assert api.patch(f"/v1/assets/{asset['id']}", json={"name": "Renamed"}).status_code == 200
    assert raced == [200]
    stored = _stored(api, asset["id"])
    assert (stored.name, stored.posted_program_ids) == ("Renamed", {second["id"]})


def test_a_reward_priced_in_the_asset_holds_the_link_until_archived(api: Api) -> None:
    _, second, asset = _two_programs(api)
    other = api.create_asset(second["id"], name="Other", symbol=f"O{uuid.uuid4().hex[:6]}")

    def reward(asset_id: str, name: str) -> str:
        body = {
            "name": name,
            "redemption_type": "UNIT_BASED",
            "asset_id": asset_id,
            "unit_cost": "25",
            "status": "DRAFT",
        }
        created = api.post(f"/v1/programs/{second['id']}/rewards", json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    reward(other["id"], "priced in another asset")  # does not hold this link
    draft = reward(asset["id"], "Coffee")  # a DRAFT may be activated: it holds the link
    refused = _unlink(api, second["id"], asset["id"])
    assert _reason(refused) == "rewards_priced_in_asset"
    assert refused.json()["details"]["reward_ids"] == [draft]
    path = f"/v1/programs/{second['id']}/rewards/{draft}"
    assert api.patch(path, json={"status": "ARCHIVED"}).status_code == 200
    assert _unlink(api, second["id"], asset["id"]).status_code == 204
    assert second["id"] not in _stored(api, asset["id"]).program_ids


def test_an_events_two_credits_record_the_program_once(api: Api, stack: LocalStack) -> None:
    """Two rules crediting the asset in one event commit in one transaction: the first posting's
    write to the asset is staged once (DynamoDB refuses two operations on one item)."""
    _, second, asset = _two_programs(api)
    for name in ("a", "b"):
        events_helpers.rule(
            api, second["id"], "true", [{"type": "CREDIT", "asset_id": asset["id"], "amount": "1"}], name=name
        )
    event = events_helpers.send(api, second["id"], {"type": "purchase"}, external_id=f"x-{uuid.uuid4().hex[:6]}")
    assert events_helpers.processed(api, stack, event["id"])["status"] == "COMPLETED"
    member = events_helpers.participant_id(api, event["external_id"])
    assert events_helpers.balance(api, member, asset["id"])["available"] == "2"
    assert _stored(api, asset["id"]).posted_program_ids == {second["id"]}
