"""Webhook endpoints, deliveries and delivery stats over HTTP (06 §2.1-2.5, §2.9-2.11; decision 3).

Deliveries go to a receiver on 127.0.0.1 (the local stack allows plain HTTP to loopback only);
a balance credit is the occurrence that makes a delivery.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from scrip_local.stack import LocalStack
from tests.api.webhook_receiver import receiver
from tests.conftest import Api

ENDPOINTS = "/v1/webhook-endpoints"
REPO = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://8.8.8.8/hook"
HOUR = 3600


# ------------------------------------------------------------------ helpers


def create_endpoint(api: Api, url: str = PUBLIC_URL, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "enabled_events": ["balance.credited"], **fields}
    response = api.post(ENDPOINTS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_url_refused(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == "url"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """A program, an asset and a participant, to make balance.credited occurrences."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.program = api.create_program()["id"]
        self.asset = api.create_asset(self.program, symbol="HOOK")["id"]
        created = api.post("/v1/participants", json={"external_id": f"hook-{uuid.uuid4().hex[:8]}"})
        assert created.status_code == 201, created.text
        self.member = created.json()["id"]

    def credit(self, amount: str = "5") -> None:
        response = self.api.post(
            f"/v1/participants/{self.member}/balances/adjust",
            json={
                "program_id": self.program,
                "asset_id": self.asset,
                "type": "CREDIT",
                "amount": amount,
                "description": "webhook test",
            },
        )
        assert response.status_code == 200, response.text


def deliveries(api: Api, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def delivery(api: Api, delivery_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/webhook-deliveries/{delivery_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def always_fail(_: int) -> tuple[int, dict[str, str], bytes]:
    return 500, {}, b"down"


class Clock:
    """Moves the app clock forward (the local stack shares this process's environment)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.offset = 0

    def advance(self, seconds: int) -> None:
        self.offset += seconds
        self.monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(self.offset))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    yield Clock(monkeypatch)


def archive_all(api: Api) -> None:
    """End a test that leaves retries scheduled: a later test's receiver may get the same port."""
    for listed in api.get(ENDPOINTS, params={"limit": 100}).json()["data"]:
        assert api.delete(f"{ENDPOINTS}/{listed['id']}").status_code == 204


def exhaust(api: Api, stack: LocalStack, clock: Clock, delivery_id: str) -> dict[str, Any]:
    """Let every scheduled retry fall due until the delivery is FAILED (8 attempts)."""
    for _ in range(12):
        current = delivery(api, delivery_id)
        if current["status"] == "FAILED":
            return current
        clock.advance(7 * HOUR)  # longer than the longest backoff (6 h + 10 %)
        stack.fire_schedule("WebhookRetriesFunction")
        stack.drain()
    raise AssertionError(f"delivery never failed: {delivery(api, delivery_id)}")


# -------------------------------------------------------------------- create


def test_create_returns_the_secret_once_and_active(api: Api) -> None:
    response = api.post(
        ENDPOINTS,
        json={
            "url": PUBLIC_URL,
            "enabled_events": ["balance.credited", "program.funded", "balance.credited", "program.funded"],
            "description": "Prod receiver",
            "metadata": {"team": "growth"},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    uuid.UUID(created["id"])
    assert created["url"] == PUBLIC_URL
    assert created["status"] == "ACTIVE"
    assert created["description"] == "Prod receiver"
    assert created["metadata"] == {"team": "growth"}
    assert sorted(created["enabled_events"]) == ["balance.credited", "program.funded"]
    assert len(created["enabled_events"]) == 2
    assert created["created_at"] == created["updated_at"]
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32

    other = create_endpoint(api)
    assert other["secret"] != secret

    fetched = api.get(f"{ENDPOINTS}/{created['id']}")
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert secret not in fetched.text
    assert fetched.json() == {k: v for k, v in created.items() if k != "secret"}


def test_wildcard_with_other_types_is_accepted(api: Api) -> None:
    created = create_endpoint(api, enabled_events=["*", "balance.debited"])
    assert "*" in created["enabled_events"]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x",
        "ftp://8.8.8.8/hook",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://172.31.255.254/",
        "https://127.0.0.1/",
        "https://127.0.0.2:8443/hook",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        # IPv4 embedded in IPv6 is judged by the IPv4 address: IPv4-compatible, 6to4, NAT64, Teredo.
        "https://[::127.0.0.1]/",
        "https://[::10.0.0.1]/",
        "https://[::169.254.169.254]/",
        "https://[2002:a00:1::1]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://[64:ff9b::10.0.0.1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[64:ff9b:1::808:808]/",
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://localhost/",
        "https://localhost:8443/x",
        "https://foo.local/",
        "https://svc.internal/",
        "https://FOO.LOCAL/",
        "https://user:pass@8.8.8.8/hook",
        "https://user@8.8.8.8/hook",
        "not a url",
        "8.8.8.8/hook",
        "https:///hook",
        "https://8.8.8.8:99999/hook",
        "https://8.8.8.8:0/hook",
    ],
)
def test_create_refuses_urls(api: Api, url: str) -> None:
    response = api.post(ENDPOINTS, json={"url": url, "enabled_events": ["balance.credited"]})
    assert_url_refused(response)
    assert api.get(ENDPOINTS).json()["data"] == []


def test_public_literal_addresses_are_accepted(api: Api) -> None:
    embedding_public = ("https://[2002:808:808::1]/hook", "https://[64:ff9b::8.8.8.8]/hook")
    for url in (PUBLIC_URL, "https://1.1.1.1:8443/in?x=1", "https://[2606:4700:4700::1111]/hook", *embedding_public):
        assert create_endpoint(api, url)["url"] == url


def test_plain_http_to_loopback_only_with_the_local_exception(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as hooks:
        assert create_endpoint(api, hooks.url)["url"] == hooks.url
        port = hooks.url.split(":")[2].split("/")[0]
        assert create_endpoint(api, f"http://localhost:{port}/hooks")["status"] == "ACTIVE"
        # The exception is plain HTTP to loopback only: not a private address, not https to loopback.
        assert_url_refused(api.post(ENDPOINTS, json={"url": "http://10.0.0.1/", "enabled_events": ["*"]}))
        assert_url_refused(api.post(ENDPOINTS, json={"url": "http://169.254.169.254/", "enabled_events": ["*"]}))
        assert_url_refused(api.post(ENDPOINTS, json={"url": f"https://127.0.0.1:{port}/", "enabled_events": ["*"]}))
        monkeypatch.delenv("SCRIP_WEBHOOKS_ALLOW_LOOPBACK_HTTP")
        assert_url_refused(api.post(ENDPOINTS, json={"url": hooks.url, "enabled_events": ["*"]}))
        assert_url_refused(api.post(ENDPOINTS, json={"url": f"http://localhost:{port}/hooks", "enabled_events": ["*"]}))


def test_template_never_allows_plain_http_to_loopback() -> None:
    template = (REPO / "template.yaml").read_text()
    assert "SCRIP_WEBHOOKS_ALLOW_LOOPBACK_HTTP" not in template
    assert "WebhookEndpointsPostFunction" in template  # the file read is the stack's template


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "enabled_events": []}, "enabled_events"),
        ({"url": PUBLIC_URL}, "enabled_events"),
        ({"url": PUBLIC_URL, "enabled_events": ["balance.credited", "balance.exploded"]}, "enabled_events"),
        ({"url": PUBLIC_URL, "enabled_events": ["BALANCE.CREDITED"]}, "enabled_events"),
        ({"url": PUBLIC_URL, "enabled_events": "balance.credited"}, "enabled_events"),
        ({"enabled_events": ["*"]}, "url"),
        ({"url": "", "enabled_events": ["*"]}, "url"),
        ({"url": PUBLIC_URL, "enabled_events": ["*"], "metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
        ({"url": PUBLIC_URL, "enabled_events": ["*"], "metadata": {"big": "x" * 9000}}, "metadata"),
        ({"url": PUBLIC_URL, "enabled_events": ["*"], "metadata": ["not", "an", "object"]}, "metadata"),
    ],
)
def test_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post(ENDPOINTS, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field


def test_metadata_of_fifty_keys_is_accepted(api: Api) -> None:
    metadata = {f"k{i}": i for i in range(50)}
    assert create_endpoint(api, metadata=metadata)["metadata"] == metadata


def test_metadata_keeps_its_json_types(api: Api) -> None:
    metadata = {"rate": 1.5, "count": 3, "flag": True, "none": None, "nested": {"list": [1, 2.25, "x"]}}
    created = create_endpoint(api, metadata=metadata)
    assert created["metadata"] == metadata
    assert api.get(f"{ENDPOINTS}/{created['id']}").json()["metadata"] == metadata
    listed = api.get(ENDPOINTS).json()["data"]
    assert listed[0]["metadata"] == metadata
    patched = api.patch(f"{ENDPOINTS}/{created['id']}", json={"metadata": {"ratio": 0.25}})
    assert patched.status_code == 200, patched.text
    assert api.get(f"{ENDPOINTS}/{created['id']}").json()["metadata"] == {"ratio": 0.25}


def test_metadata_numbers_beyond_dynamodb_range_round_trip(api: Api) -> None:
    metadata = {"big": 10**40, "tiny": -1e-300, "sum": 0.1 + 0.2}
    created = create_endpoint(api, metadata=metadata)
    assert api.get(f"{ENDPOINTS}/{created['id']}").json()["metadata"] == metadata


def test_metadata_with_a_non_finite_number_is_refused(api: Api) -> None:
    response = api.post(
        ENDPOINTS,
        data='{"url": "https://8.8.8.8/hook", "enabled_events": ["*"], "metadata": {"x": 1e400}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == "metadata"


def test_secret_field_cannot_be_chosen(api: Api) -> None:
    response = api.post(ENDPOINTS, json={"url": PUBLIC_URL, "enabled_events": ["*"], "secret": "whsec_mine"})
    assert response.status_code == 201, response.text  # unknown fields are ignored (01 §4.2)
    assert response.json()["secret"] != "whsec_mine"
    patched = api.patch(f"{ENDPOINTS}/{response.json()['id']}", json={"secret": "whsec_mine"})
    assert patched.status_code == 400, patched.text  # nothing to change


# ---------------------------------------------------------------------- list


def test_list_newest_first_default_twenty_clamped_to_one_hundred(api: Api) -> None:
    ids = [create_endpoint(api, description=f"n{i}")["id"] for i in range(101)]
    newest_first = list(reversed(ids))

    default = api.get(ENDPOINTS)
    assert default.status_code == 200
    page = default.json()
    assert [e["id"] for e in page["data"]] == newest_first[:20]
    assert page["pagination"]["has_more"] is True
    assert all("secret" not in e for e in page["data"])

    clamped = api.get(ENDPOINTS, params={"limit": 500})
    assert clamped.status_code == 200, clamped.text
    assert [e["id"] for e in clamped.json()["data"]] == newest_first[:100]
    assert clamped.json()["pagination"]["has_more"] is True

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 30}
        if cursor:
            params["cursor"] = cursor
        body = api.get(ENDPOINTS, params=params).json()
        seen += [e["id"] for e in body["data"]]
        if not body["pagination"]["has_more"]:
            break
        cursor = body["pagination"]["next_cursor"]
    assert seen == newest_first


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_list_limit_below_one_is_refused(api: Api, limit: str) -> None:
    response = api.get(ENDPOINTS, params={"limit": limit})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


def test_list_status_filter_and_archived_never_listed(api: Api) -> None:
    first = create_endpoint(api)["id"]
    second = create_endpoint(api)["id"]
    third = create_endpoint(api)["id"]
    fourth = create_endpoint(api)["id"]
    assert api.patch(f"{ENDPOINTS}/{first}", json={"status": "DISABLED"}).status_code == 200
    assert api.patch(f"{ENDPOINTS}/{third}", json={"status": "DISABLED"}).status_code == 200
    assert api.delete(f"{ENDPOINTS}/{fourth}").status_code == 204

    def listed(**params: Any) -> list[str]:
        response = api.get(ENDPOINTS, params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["data"]]

    assert listed() == [third, second, first]
    assert listed(status="DISABLED") == [third, first]
    assert listed(status="ACTIVE") == [second]
    page = api.get(ENDPOINTS, params={"status": "DISABLED", "limit": 1}).json()
    assert [e["id"] for e in page["data"]] == [third]
    assert page["pagination"]["has_more"] is True
    rest = api.get(
        ENDPOINTS, params={"status": "DISABLED", "limit": 1, "cursor": page["pagination"]["next_cursor"]}
    ).json()
    assert [e["id"] for e in rest["data"]] == [first]
    assert rest["pagination"]["has_more"] is False
    assert api.get(ENDPOINTS, params={"status": "ARCHIVED"}).status_code == 400


def test_endpoints_are_scoped_to_the_organization(api: Api, other_api: Api) -> None:
    mine = create_endpoint(api)["id"]
    assert other_api.get(ENDPOINTS).json()["data"] == []
    for method, path in [
        ("GET", f"{ENDPOINTS}/{mine}"),
        ("PATCH", f"{ENDPOINTS}/{mine}"),
        ("DELETE", f"{ENDPOINTS}/{mine}"),
        ("POST", f"{ENDPOINTS}/{mine}/rotate-secret"),
        ("GET", f"{ENDPOINTS}/{mine}/deliveries"),
    ]:
        kwargs: dict[str, Any] = {"json": {"description": "theirs"}} if method == "PATCH" else {}
        response = other_api.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    unchanged = api.get(f"{ENDPOINTS}/{mine}").json()
    assert unchanged["status"] == "ACTIVE"
    assert unchanged["description"] is None
    assert api.get(f"{ENDPOINTS}/{uuid.uuid4()}").status_code == 404


# --------------------------------------------------------------------- patch


def test_patch_changes_only_what_is_sent(api: Api) -> None:
    created = create_endpoint(
        api,
        enabled_events=["balance.credited", "balance.debited"],
        description="before",
        metadata={"a": 1, "b": 2},
    )
    path = f"{ENDPOINTS}/{created['id']}"

    events = api.patch(path, json={"enabled_events": ["program.funded"]})
    assert events.status_code == 200, events.text
    assert events.json()["enabled_events"] == ["program.funded"]
    assert events.json()["description"] == "before"
    assert events.json()["metadata"] == {"a": 1, "b": 2}
    assert "secret" not in events.json()
    assert created["secret"] not in events.text
    assert moment(events.json()["updated_at"]) > moment(created["updated_at"])
    assert events.json()["created_at"] == created["created_at"]

    metadata = api.patch(path, json={"metadata": {"c": 3}})
    assert metadata.status_code == 200
    assert metadata.json()["metadata"] == {"c": 3}
    assert metadata.json()["enabled_events"] == ["program.funded"]

    url = api.patch(path, json={"url": "https://8.8.4.4/other", "description": "after"})
    assert url.status_code == 200, url.text
    assert url.json()["url"] == "https://8.8.4.4/other"
    assert url.json()["description"] == "after"

    disabled = api.patch(path, json={"status": "DISABLED"})
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "DISABLED"
    assert api.get(path).json()["status"] == "DISABLED"
    active = api.patch(path, json={"status": "ACTIVE"})
    assert active.status_code == 200
    assert active.json()["status"] == "ACTIVE"

    final = api.get(path).json()
    assert final == {
        **{k: v for k, v in created.items() if k != "secret"},
        "url": "https://8.8.4.4/other",
        "description": "after",
        "enabled_events": ["program.funded"],
        "metadata": {"c": 3},
        "status": "ACTIVE",
        "updated_at": final["updated_at"],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://10.0.0.1/"}, "url"),
        ({"url": "https://169.254.169.254/latest"}, "url"),
        ({"url": "http://example.com/x"}, "url"),
        ({"url": "https://svc.internal/"}, "url"),
        ({"enabled_events": []}, "enabled_events"),
        ({"enabled_events": ["nope.never"]}, "enabled_events"),
        ({"status": "ARCHIVED"}, "status"),
        ({"status": "PAUSED"}, "status"),
        ({"status": None}, "status"),
        ({"url": None}, "url"),
        ({"enabled_events": None}, "enabled_events"),
        ({"metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
    ],
)
def test_patch_validation_leaves_the_endpoint_unchanged(api: Api, body: dict[str, Any], field: str) -> None:
    created = create_endpoint(api, metadata={"keep": True})
    response = api.patch(f"{ENDPOINTS}/{created['id']}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["details"]["field"] == field
    assert api.get(f"{ENDPOINTS}/{created['id']}").json() == {k: v for k, v in created.items() if k != "secret"}


def test_patch_with_an_empty_body_is_refused(api: Api) -> None:
    created = create_endpoint(api)
    response = api.patch(f"{ENDPOINTS}/{created['id']}", json={})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"


# ------------------------------------------------------------ delete, rotate


def test_delete_archives_idempotently(api: Api) -> None:
    created = create_endpoint(api)
    kept = create_endpoint(api)
    path = f"{ENDPOINTS}/{created['id']}"
    first = api.delete(path)
    assert first.status_code == 204, first.text
    assert first.content == b""
    assert api.delete(path).status_code == 204
    archived = api.get(path)
    assert archived.status_code == 200
    assert archived.json()["status"] == "ARCHIVED"
    assert "secret" not in archived.json()
    assert [e["id"] for e in api.get(ENDPOINTS).json()["data"]] == [kept["id"]]
    assert deliveries(api, created["id"]) == []  # still listable by id

    for response in (
        api.post(f"{path}/rotate-secret"),
        api.patch(path, json={"description": "again"}),
        api.patch(path, json={"status": "ACTIVE"}),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "endpoint_not_active"
    assert api.get(path).json()["status"] == "ARCHIVED"
    assert api.delete(f"{ENDPOINTS}/{uuid.uuid4()}").status_code == 404


def test_rotated_secret_signs_every_later_delivery(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        old = created["secret"]
        ledger.credit("1")
        stack.drain()
        assert len(hooks.received) == 1
        Webhook(old).verify(hooks.received[0].body, hooks.received[0].headers)

        rotated = api.post(f"{ENDPOINTS}/{created['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new.startswith("whsec_")
        assert len(base64.b64decode(new.removeprefix("whsec_"), validate=True)) == 32
        assert new != old
        assert rotated.json()["id"] == created["id"]
        assert rotated.json()["status"] == "ACTIVE"
        fetched = api.get(f"{ENDPOINTS}/{created['id']}")
        assert new not in fetched.text and "secret" not in fetched.json()

        ledger.credit("2")
        stack.drain()
        assert len(hooks.received) == 2
        later = hooks.received[1]
        assert Webhook(new).verify(later.body, later.headers)["data"]["amount"] == "2"
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(later.body, later.headers)

        # A resend of the delivery made before the rotation is signed with the new secret too.
        first = next(
            d
            for d in deliveries(api, created["id"])
            if d["webhook_event_id"] == json.loads(hooks.received[0].body)["id"]
        )
        assert api.post(f"/v1/webhook-deliveries/{first['id']}/resend").status_code == 201
        stack.drain()
        assert len(hooks.received) == 3
        again = hooks.received[2]
        assert again.body == hooks.received[0].body
        Webhook(new).verify(again.body, again.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(again.body, again.headers)


def test_disabled_endpoint_receives_no_new_deliveries(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        assert api.patch(f"{ENDPOINTS}/{created['id']}", json={"status": "DISABLED"}).status_code == 200
        ledger.credit()
        stack.drain()
        assert hooks.received == []
        assert deliveries(api, created["id"]) == []
        assert api.patch(f"{ENDPOINTS}/{created['id']}", json={"status": "ACTIVE"}).status_code == 200
        ledger.credit("7")
        stack.drain()
        assert len(hooks.received) == 1
        assert json.loads(hooks.received[0].body)["data"]["amount"] == "7"


def test_reactivated_endpoint_resumes_waiting_deliveries(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        hooks.answer = always_fail
        created = create_endpoint(api, hooks.url)
        path = f"{ENDPOINTS}/{created['id']}"
        ledger.credit()
        stack.drain()
        (waiting,) = deliveries(api, created["id"])
        assert api.patch(path, json={"status": "DISABLED"}).status_code == 200
        clock.advance(10 * HOUR)  # beyond the retry sweep's look-back
        stack.fire_schedule("WebhookRetriesFunction")
        stack.drain()
        assert len(hooks.received) == 1  # nothing is attempted while disabled
        assert delivery(api, waiting["id"])["status"] == "PENDING"
        assert delivery(api, waiting["id"])["attempt_count"] == 1

        hooks.answer = lambda _: (200, {}, b"ok")
        assert api.patch(path, json={"status": "ACTIVE"}).status_code == 200
        stack.fire_schedule("WebhookRetriesFunction")
        stack.drain()
        assert len(hooks.received) == 2
        assert hooks.received[1].body == hooks.received[0].body
        done = delivery(api, waiting["id"])
        assert (done["status"], done["attempt_count"]) == ("DELIVERED", 2)


def test_resend_held_by_a_disabled_endpoint_goes_out_on_reactivation(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        path = f"{ENDPOINTS}/{created['id']}"
        ledger.credit()
        stack.drain()
        (original,) = deliveries(api, created["id"])
        resent = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert resent.status_code == 201, resent.text
        assert api.patch(path, json={"status": "DISABLED"}).status_code == 200
        stack.drain()
        assert len(hooks.received) == 1
        assert delivery(api, resent.json()["id"])["status"] == "PENDING"
        assert api.patch(path, json={"description": "still disabled"}).status_code == 200
        stack.drain()
        assert len(hooks.received) == 1
        assert api.patch(path, json={"status": "ACTIVE"}).status_code == 200
        stack.drain()
        assert len(hooks.received) == 2
        assert hooks.received[1].body == hooks.received[0].body
        assert delivery(api, resent.json()["id"])["status"] == "DELIVERED"


def test_only_subscribed_types_are_delivered(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as credited, receiver() as funded:
        to_credited = create_endpoint(api, credited.url, enabled_events=["balance.credited"])
        to_funded = create_endpoint(api, funded.url, enabled_events=["program.funded"])
        ledger.credit()
        stack.drain()
        assert len(credited.received) == 1
        assert funded.received == []
        assert len(deliveries(api, to_credited["id"])) == 1
        assert deliveries(api, to_funded["id"]) == []


# ---------------------------------------------------------------- deliveries


def test_deliveries_list_newest_first_without_the_response_details(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        for amount in ("1", "2", "3"):
            ledger.credit(amount)
            stack.drain()
        listed = deliveries(api, created["id"])
        assert len(listed) == 3
        amounts_newest_first = [json.loads(r.body)["data"]["amount"] for r in reversed(hooks.received)]
        assert amounts_newest_first == ["3", "2", "1"]
        event_ids_newest_first = [json.loads(r.body)["id"] for r in reversed(hooks.received)]
        assert [d["webhook_event_id"] for d in listed] == event_ids_newest_first
        assert [d["created_at"] for d in listed] == sorted((d["created_at"] for d in listed), reverse=True)
        for item in listed:
            assert "last_response_body" not in item
            assert "last_error" not in item
            assert item["status"] == "DELIVERED"
            assert item["webhook_endpoint_id"] == created["id"]
            assert item["event_type"] == "balance.credited"
            assert item["attempt_count"] == 1
            assert item["max_attempts"] == 8
            assert item["resend_seq"] == 0
            assert item["last_response_status"] == 200
            assert item["delivered_at"] is not None
            assert item["next_attempt_at"] is None
        full = delivery(api, listed[0]["id"])
        assert full["last_response_body"] == "ok"
        assert full["last_error"] is None
        assert {k: v for k, v in full.items() if k not in ("last_response_body", "last_error")} == listed[0]

        page = api.get(f"{ENDPOINTS}/{created['id']}/deliveries", params={"limit": 2}).json()
        assert [d["id"] for d in page["data"]] == [d["id"] for d in listed[:2]]
        assert page["pagination"]["has_more"] is True
        rest = api.get(
            f"{ENDPOINTS}/{created['id']}/deliveries",
            params={"limit": 2, "cursor": page["pagination"]["next_cursor"]},
        ).json()
        assert [d["id"] for d in rest["data"]] == [listed[2]["id"]]
        assert rest["pagination"]["has_more"] is False
        assert deliveries(api, created["id"], status="PENDING") == []
        assert len(deliveries(api, created["id"], status="DELIVERED")) == 3
        assert api.get(f"{ENDPOINTS}/{created['id']}/deliveries", params={"limit": 0}).status_code == 400
        assert api.get(f"{ENDPOINTS}/{uuid.uuid4()}/deliveries").status_code == 404


def test_failed_attempt_keeps_the_response_truncated_to_4096(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    answer = ("0123456789" * 1024).encode()  # 10 KB
    with receiver() as hooks:
        hooks.answer = lambda _: (500, {"Content-Type": "text/plain; charset=utf-8"}, answer)
        created = create_endpoint(api, hooks.url)
        before = now()
        ledger.credit()
        stack.drain()
        assert len(hooks.received) == 1
        (listed,) = deliveries(api, created["id"])
        assert "last_response_body" not in listed and "last_error" not in listed
        full = delivery(api, listed["id"])
        assert full["status"] == "PENDING"
        assert full["attempt_count"] == 1
        assert full["last_response_status"] == 500
        assert full["error_code"] == "consumer_5xx"
        assert len(full["last_response_body"]) == 4096
        assert full["last_response_body"] == answer.decode()[:4096]
        assert full["delivered_at"] is None
        assert before - timedelta(seconds=5) <= moment(full["last_attempt_at"]) <= now() + timedelta(seconds=5)
        delay = moment(full["next_attempt_at"]) - moment(full["last_attempt_at"])
        assert timedelta(seconds=26) <= delay <= timedelta(seconds=34)  # 30 s ± 10 %
    archive_all(api)


def test_connection_failure_is_recorded_as_last_error(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        url = hooks.url
    created = create_endpoint(api, url)  # nothing listens there any more
    ledger.credit()
    stack.drain()
    (listed,) = deliveries(api, created["id"])
    full = delivery(api, listed["id"])
    assert full["status"] == "PENDING"
    assert full["attempt_count"] == 1
    assert full["last_response_status"] is None
    assert full["error_code"] == "connection_failed", full
    assert "connection failed" in full["last_error"]
    archive_all(api)


def test_retry_only_a_failed_delivery(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        hooks.answer = always_fail
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (pending,) = deliveries(api, created["id"])
        refused = api.post(f"/v1/webhook-deliveries/{pending['id']}/retry")
        assert refused.status_code == 404, refused.text
        assert delivery(api, pending["id"])["attempt_count"] == 1

        failed = exhaust(api, stack, clock, pending["id"])
        assert failed["attempt_count"] == 8
        assert failed["next_attempt_at"] is None
        assert failed["last_response_status"] == 500
        assert len(hooks.received) == 8
        assert len({r.headers["webhook-id"] for r in hooks.received}) == 1
        assert len({r.body for r in hooks.received}) == 1

        # Nothing more is attempted once FAILED.
        clock.advance(7 * HOUR)
        stack.fire_schedule("WebhookRetriesFunction")
        stack.drain()
        assert len(hooks.received) == 8

        hooks.answer = lambda _: (204, {}, b"")
        retried = api.post(f"/v1/webhook-deliveries/{pending['id']}/retry")
        assert retried.status_code == 200, retried.text
        body = retried.json()
        assert body["id"] == pending["id"]
        assert body["status"] == "PENDING"
        assert body["attempt_count"] == 0
        assert body["max_attempts"] == 8
        assert body["webhook_event_id"] == pending["webhook_event_id"]
        assert "last_response_body" not in body
        stack.drain()
        assert len(hooks.received) == 9
        assert hooks.received[8].body == hooks.received[0].body
        done = delivery(api, pending["id"])
        assert done["status"] == "DELIVERED"
        assert done["attempt_count"] == 1
        assert done["last_response_status"] == 204
        assert len(deliveries(api, created["id"])) == 1  # the same row, no new one

        again = api.post(f"/v1/webhook-deliveries/{pending['id']}/retry")
        assert again.status_code == 404, again.text
        assert api.post(f"/v1/webhook-deliveries/{uuid.uuid4()}/retry").status_code == 404


def test_retry_to_a_disabled_endpoint_is_refused(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        hooks.answer = always_fail
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (pending,) = deliveries(api, created["id"])
        exhaust(api, stack, clock, pending["id"])
        assert api.patch(f"{ENDPOINTS}/{created['id']}", json={"status": "DISABLED"}).status_code == 200
        refused = api.post(f"/v1/webhook-deliveries/{pending['id']}/retry")
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "endpoint_not_active"
        assert delivery(api, pending["id"])["status"] == "FAILED"


def test_resend_makes_new_deliveries_of_the_same_event(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (original,) = deliveries(api, created["id"])
        assert original["status"] == "DELIVERED"

        first = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert first.status_code == 201, first.text
        copy = first.json()
        assert copy["id"] != original["id"]
        assert copy["webhook_event_id"] == original["webhook_event_id"]
        assert copy["webhook_endpoint_id"] == created["id"]
        assert copy["event_type"] == "balance.credited"
        assert copy["status"] == "PENDING"
        assert copy["attempt_count"] == 0
        assert copy["resend_seq"] == 1
        assert copy["last_response_status"] is None
        assert copy["delivered_at"] is None

        # A resend still PENDING cannot itself be resent.
        pending = api.post(f"/v1/webhook-deliveries/{copy['id']}/resend")
        assert pending.status_code == 409, pending.text
        assert pending.json()["code"] == "not_resendable"

        stack.drain()
        assert len(hooks.received) == 2
        assert hooks.received[1].body == hooks.received[0].body
        assert hooks.received[1].headers["webhook-id"] == hooks.received[0].headers["webhook-id"]
        assert hooks.received[1].headers["webhook-id"] == original["webhook_event_id"]
        assert delivery(api, copy["id"])["status"] == "DELIVERED"
        source = delivery(api, original["id"])
        assert {k: source[k] for k in original} == original  # the source is untouched

        second = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert second.status_code == 201, second.text
        assert second.json()["resend_seq"] == 2
        assert second.json()["id"] not in (original["id"], copy["id"])
        assert second.json()["webhook_event_id"] == original["webhook_event_id"]
        stack.drain()
        assert len(hooks.received) == 3
        assert hooks.received[2].body == hooks.received[0].body

        listed = deliveries(api, created["id"])
        assert [d["resend_seq"] for d in listed] == [2, 1, 0]
        assert {d["webhook_event_id"] for d in listed} == {original["webhook_event_id"]}
        assert api.post(f"/v1/webhook-deliveries/{uuid.uuid4()}/resend").status_code == 404


def test_resend_of_a_failed_delivery(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        hooks.answer = always_fail
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (original,) = deliveries(api, created["id"])
        exhaust(api, stack, clock, original["id"])
        hooks.answer = lambda _: (200, {}, b"ok")
        resent = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert resent.status_code == 201, resent.text
        assert resent.json()["resend_seq"] == 1
        stack.drain()
        assert delivery(api, resent.json()["id"])["status"] == "DELIVERED"
        assert delivery(api, original["id"])["status"] == "FAILED"
        assert hooks.received[-1].body == hooks.received[0].body


def test_resend_to_an_inactive_endpoint_is_refused(api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (original,) = deliveries(api, created["id"])
        assert api.patch(f"{ENDPOINTS}/{created['id']}", json={"status": "DISABLED"}).status_code == 200
        disabled = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert disabled.status_code == 409, disabled.text
        assert disabled.json()["code"] == "endpoint_not_active"
        assert api.delete(f"{ENDPOINTS}/{created['id']}").status_code == 204
        archived = api.post(f"/v1/webhook-deliveries/{original['id']}/resend")
        assert archived.status_code == 409, archived.text
        assert archived.json()["code"] == "endpoint_not_active"
        stack.drain()
        assert len(hooks.received) == 1
        assert [d["id"] for d in deliveries(api, created["id"])] == [original["id"]]


def test_deliveries_of_another_organization_are_not_found(api: Api, other_api: Api, stack: LocalStack) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (mine,) = deliveries(api, created["id"])
        for method, path in [
            ("GET", f"/v1/webhook-deliveries/{mine['id']}"),
            ("POST", f"/v1/webhook-deliveries/{mine['id']}/retry"),
            ("POST", f"/v1/webhook-deliveries/{mine['id']}/resend"),
        ]:
            response = other_api.request(method, path)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"
        stack.drain()
        assert len(hooks.received) == 1
        assert len(deliveries(api, created["id"])) == 1


def test_archiving_fails_pending_deliveries(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as hooks:
        hooks.answer = always_fail
        created = create_endpoint(api, hooks.url)
        ledger.credit()
        stack.drain()
        (pending,) = deliveries(api, created["id"])
        assert api.delete(f"{ENDPOINTS}/{created['id']}").status_code == 204
        clock.advance(HOUR)
        stack.fire_schedule("WebhookRetriesFunction")
        stack.drain()
        assert len(hooks.received) == 1
        ended = delivery(api, pending["id"])
        assert ended["status"] == "FAILED"
        assert ended["attempt_count"] == 1
        assert ended["last_error"] == "endpoint archived"


# --------------------------------------------------------------------- stats


def test_delivery_stats(api: Api, stack: LocalStack, clock: Clock) -> None:
    ledger = Ledger(api)
    with receiver() as good, receiver() as bad, receiver() as mixed:
        bad.answer = always_fail
        mixed.answer = lambda n: (500, {}, b"no") if n == 1 else (200, {}, b"ok")
        healthy = create_endpoint(api, good.url)
        failing = create_endpoint(api, bad.url)
        flaky = create_endpoint(api, mixed.url)
        idle = create_endpoint(api, PUBLIC_URL, enabled_events=["program.burned"])
        disabled = create_endpoint(api, PUBLIC_URL)
        archived = create_endpoint(api, PUBLIC_URL, enabled_events=["program.burned"])
        assert api.patch(f"{ENDPOINTS}/{disabled['id']}", json={"status": "DISABLED"}).status_code == 200
        assert api.delete(f"{ENDPOINTS}/{archived['id']}").status_code == 204
        before = now()
        for amount in ("1", "2", "3"):
            ledger.credit(amount)
            stack.drain()
        after = now()

        response = api.get(f"{ENDPOINTS}/delivery-stats")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data"}
        rows = {row["endpoint_id"]: row for row in body["data"]}
        assert set(rows) == {healthy["id"], failing["id"], flaky["id"], idle["id"], disabled["id"]}
        for created in (healthy, failing, flaky, idle):
            assert created["secret"] not in response.text
        assert all("secret" not in row for row in rows.values())

        row = rows[healthy["id"]]
        assert (row["success_24h"], row["fail_24h"], row["success_rate"]) == (3, 0, 1.0)
        assert row["pending_count"] == 0
        assert row["oldest_pending_at"] is None
        assert row["url"] == good.url
        assert row["status"] == "ACTIVE"
        assert row["degraded"] is False
        assert before - timedelta(seconds=5) <= moment(row["last_attempt_at"]) <= after + timedelta(seconds=5)
        assert row["blocked_reason"] is None and row["blocked_until"] is None
        assert row["circuit_broken_until"] is None and row["rate_limited_until"] is None

        row = rows[failing["id"]]
        assert (row["success_24h"], row["fail_24h"], row["success_rate"]) == (0, 3, 0.0)
        assert row["pending_count"] == 3
        failing_deliveries = deliveries(api, failing["id"])
        assert row["oldest_pending_at"] == min(d["created_at"] for d in failing_deliveries)
        assert row["last_attempt_at"] is not None

        row = rows[flaky["id"]]
        assert (row["success_24h"], row["fail_24h"], row["success_rate"]) == (2, 1, 0.6667)
        assert row["pending_count"] == 1

        for quiet in (idle, disabled):
            row = rows[quiet["id"]]
            assert (row["success_24h"], row["fail_24h"], row["success_rate"]) == (0, 0, None)
            assert row["pending_count"] == 0
            assert row["last_attempt_at"] is None
            assert row["oldest_pending_at"] is None
            assert row["degraded"] is False
        assert rows[disabled["id"]]["status"] == "DISABLED"

        # A day later the counts have aged out; the backlog has not.
        clock.advance(26 * HOUR)
        later = {row["endpoint_id"]: row for row in api.get(f"{ENDPOINTS}/delivery-stats").json()["data"]}
        assert (later[healthy["id"]]["success_24h"], later[healthy["id"]]["success_rate"]) == (0, None)
        assert (later[failing["id"]]["fail_24h"], later[failing["id"]]["pending_count"]) == (0, 3)
    archive_all(api)


def test_delivery_stats_of_an_organization_without_endpoints(other_api: Api) -> None:
    response = other_api.get(f"{ENDPOINTS}/delivery-stats")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": []}
