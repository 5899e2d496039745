"""Webhooks (06 §2) without the network: signatures, URL and address rules, subscriptions,
derived ids, backoff, the circuit and Retry-After."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from scrip.domain.errors import ValidationFailed
from scrip.domain.webhooks import (
    BACKOFF,
    WILDCARD,
    AttemptResult,
    Endpoint,
    EndpointStatus,
    Notification,
    WebhookType,
    check_addresses,
    check_enabled_events,
    check_url,
    circuit_pause,
    classify,
    delivery_id,
    is_public,
    new_secret,
    next_delay,
    notification_id,
    retry_after,
    secret_key,
    signature,
)

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_the_signature_is_standard_webhooks_hmac_over_id_timestamp_and_body() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32

    header = signature(secret, "msg_1", 1_700_000_000, b'{"a":1}')

    expected = hmac.new(secret_key(secret), b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert header == "v1," + base64.b64encode(expected).decode()
    assert signature(secret, "msg_1", 1_700_000_001, b'{"a":1}') != header


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("https://hooks.example.com/in", ("https", "hooks.example.com", 443)),
        ("https://Hooks.Example.com:8443/in", ("https", "hooks.example.com", 8443)),
    ],
)
def test_https_urls_of_public_hosts_are_accepted(url: str, parts: tuple[str, str, int]) -> None:
    assert check_url(url) == parts


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://localhost/in",
        "https://printer.local/in",
        "https://user:pw@hooks.example.com/in",
        "https://hooks.example.com:0/in",
        "https:///no-host",
        "https://[::1/in",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        check_url(url)


def test_the_local_stack_may_send_plain_http_to_loopback_only() -> None:
    assert check_url("http://127.0.0.1:9000/in", allow_loopback_http=True) == ("http", "127.0.0.1", 9000)
    assert check_url("http://localhost/in", allow_loopback_http=True) == ("http", "localhost", 80)
    with pytest.raises(ValidationFailed):
        check_url("http://hooks.example.com/in", allow_loopback_http=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("2606:4700::1111", True),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::a00:1", False),
        ("64:ff9b:1::1", False),
        ("2002:0a00:0001::1", False),
    ],
)
def test_public_addresses_and_ipv4_embedded_in_ipv6(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_one_private_answer_refuses_the_host() -> None:
    check_addresses("hooks.example.com", ["93.184.216.34"])
    with pytest.raises(ValidationFailed):
        check_addresses("hooks.example.com", ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(ValidationFailed):
        check_addresses("hooks.example.com", [])
    check_addresses("localhost", ["127.0.0.1"], allow_loopback=True)


def test_enabled_events_are_known_types_or_the_wildcard_sorted_once() -> None:
    assert check_enabled_events(["event.failed", "*", "event.failed"]) == ["*", "event.failed"]
    with pytest.raises(ValidationFailed):
        check_enabled_events([])
    with pytest.raises(ValidationFailed):
        check_enabled_events(["balance.teleported"])


def _endpoint(**fields: object) -> Endpoint:
    values: dict[str, object] = {
        "organization_id": "org",
        "id": "ep",
        "url": "https://hooks.example.com",
        "description": None,
        "enabled_events": [WebhookType.BALANCE_CREDITED.value],
        "metadata": None,
        "status": EndpointStatus.ACTIVE,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Endpoint(**values)  # type: ignore[arg-type]


def test_an_active_endpoint_receives_what_it_subscribed_to() -> None:
    assert _endpoint().subscribes_to("balance.credited")
    assert not _endpoint().subscribes_to("balance.debited")
    assert _endpoint(enabled_events=[WILDCARD]).subscribes_to("event.failed")
    assert not _endpoint(status=EndpointStatus.DISABLED).subscribes_to("balance.credited")


def test_an_endpoint_is_blocked_until_the_later_of_its_circuit_and_rate_limit() -> None:
    later, sooner = NOW + timedelta(minutes=10), NOW + timedelta(minutes=1)

    assert _endpoint(circuit_broken_until=sooner, rate_limited_until=later).blocked_until(NOW) == later
    assert _endpoint(circuit_broken_until=NOW - timedelta(seconds=1)).blocked_until(NOW) is None
    assert _endpoint().blocked_until(NOW) is None


def test_ids_are_derived_so_a_redelivered_record_names_the_same_notification() -> None:
    first = notification_id("entry-1", "balance.credited")

    assert first == notification_id("entry-1", "balance.credited")
    assert first != notification_id("entry-1", "balance.debited")
    assert delivery_id(first, "ep") == delivery_id(first, "ep") != delivery_id(first, "ep", resend_seq=1)
    assert delivery_id(first, "ep") != delivery_id(first, "ep-2")


def test_the_envelope_carries_the_notification() -> None:
    notification = Notification("org", "n1", "event.completed", NOW, {"event_id": "e"})

    envelope = notification.envelope("2026-03-04T10:00:00Z")

    assert envelope["id"] == "n1" and envelope["type"] == "event.completed" and envelope["data"] == {"event_id": "e"}
    assert set(envelope) == {"id", "type", "api_version", "created_at", "organization_id", "data"}


def test_attempt_outcomes() -> None:
    assert AttemptResult(204).succeeded and not AttemptResult(302).succeeded and not AttemptResult(None).succeeded
    assert [classify(s) for s in (429, 503, 404, 301)] == [
        "rate_limited",
        "consumer_5xx",
        "consumer_4xx",
        "consumer_3xx",
    ]


def test_backoff_follows_the_schedule_and_stays_at_its_last_step() -> None:
    assert next_delay(1) == timedelta(seconds=30)
    assert next_delay(7) == next_delay(20) == BACKOFF[-1]
    assert next_delay(2, jitter=0.1) == timedelta(minutes=2) * 1.1


def test_the_circuit_pause_doubles_up_to_an_hour() -> None:
    assert [circuit_pause(n) for n in (1, 2, 3, 4, 5)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
        timedelta(hours=1),
    ]


def test_retry_after_in_seconds_or_as_a_date_bounded_to_an_hour() -> None:
    assert retry_after(None, NOW) == timedelta(seconds=60)
    assert retry_after("120", NOW) == timedelta(seconds=120)
    assert retry_after("-5", NOW) == timedelta(0)
    assert retry_after("99999", NOW) == timedelta(hours=1)
    assert retry_after("Wed, 04 Mar 2026 10:02:00 GMT", NOW) == timedelta(minutes=2)
    assert retry_after("soon", NOW) == timedelta(seconds=60)
