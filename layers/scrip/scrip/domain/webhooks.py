"""Webhooks (06 §2, decision 3): endpoints, notifications, deliveries and their rules.

A *notification* is one occurrence (a balance credited, an event completed) with one id that
every endpoint receiving it sees; a *delivery* is that notification on its way to one endpoint.
Signatures follow Standard Webhooks 1.0: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the endpoint's
``whsec_`` secret, so any Standard Webhooks library verifies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from scrip.domain.errors import ApiError, ValidationFailed

API_VERSION = "2026-03-01"
MAX_ATTEMPTS = 8
RESPONSE_BODY_LIMIT = 4096
TIMEOUT_SECONDS = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
_NAMESPACE = uuid.UUID("0b7c9a52-3d1e-5f6a-8b2c-9d0e1f2a3b4c")

# Delay after the n-th failed attempt (06 §2.8); attempt 8 is the last.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
CIRCUIT_THRESHOLD = 10  # consecutive failed attempts open the circuit
CIRCUIT_FIRST_PAUSE = timedelta(minutes=5)
CIRCUIT_MAX_PAUSE = timedelta(hours=1)
RETRY_AFTER_DEFAULT = timedelta(seconds=60)
RETRY_AFTER_MAX = timedelta(hours=1)


class WebhookType(StrEnum):
    BALANCE_CREDITED = "balance.credited"
    BALANCE_DEBITED = "balance.debited"
    BALANCE_EXPIRED = "balance.expired"
    BALANCE_HELD = "balance.held"
    BALANCE_RELEASED = "balance.released"
    REDEMPTION_COMPLETED = "redemption.completed"
    REDEMPTION_REVERSED = "redemption.reversed"
    TRANSFER_COMPLETED = "transfer.completed"
    EVENT_COMPLETED = "event.completed"
    EVENT_FAILED = "event.failed"
    PARTICIPANT_CREATED = "participant.created"
    PARTICIPANT_TIER_CHANGED = "participant.tier_changed"
    PROGRAM_FUNDED = "program.funded"
    PROGRAM_BURNED = "program.burned"


WILDCARD = "*"


class EndpointStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
    ARCHIVED = "ARCHIVED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class EndpointNotActive(ApiError):
    status, code = 409, "endpoint_not_active"


class NotResendable(ApiError):
    status, code = 409, "not_resendable"


# ------------------------------------------------------------------ secrets


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (Standard Webhooks' format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# ---------------------------------------------------------------- addresses

_BLOCKED_NAMES = ("localhost",)
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal")


def check_url(url: str, *, allow_loopback_http: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of an endpoint URL, or 400: HTTPS only, a host name or public address.

    ``allow_loopback_http`` is the local stack's exception (a developer's receiver on
    localhost); a deployed stack never sets it.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _url_error("url is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise _url_error("url needs a host")
    if parts.username or parts.password:
        raise _url_error("url must not carry credentials")
    if port == 0:
        raise _url_error("url port must be 1-65535")
    local = allow_loopback_http and is_loopback_name(host)
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise _url_error("url must use https")
    if not local and (host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES)):
        raise _url_error(f"url host {host} is not a public host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: a packet to one of them
# reaches that IPv4 address (through a translator, or the host's own stack for the
# deprecated IPv4-compatible form), so the IPv4 address is what must be public.
_IPV4_IN_LOW_BITS = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))
# RFC 8215's local-use NAT64 prefix: it leads into a private network whatever it embeds (and
# embeds it at a position that depends on the operator's prefix length).
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped, 6to4, Teredo, NAT64, compatible."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if any(ip in network for network in _IPV4_IN_LOW_BITS):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_public(address: str) -> bool:
    """Routable on the public internet: not private, loopback, link-local (the metadata
    service), shared (100.64/10), reserved, multicast or unspecified. An IPv6 address that
    embeds an IPv4 address is judged by the IPv4 address (every one, for Teredo)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_is_public_ip(v4) for v4 in embedded)
    return _is_public_ip(ip)


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return bool(ip.is_global) and not ip.is_multicast


def check_addresses(host: str, addresses: list[str], *, allow_loopback: bool = False) -> None:
    """Every address the host resolves to must be public (one private answer is enough to refuse)."""
    if not addresses:
        raise _url_error(f"url host {host} does not resolve")
    for address in addresses:
        if allow_loopback and ipaddress.ip_address(address).is_loopback:
            continue
        if not is_public(address):
            raise _url_error(f"url host {host} resolves to a non-public address")


def _url_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="url", reason="url_not_allowed")


def check_enabled_events(values: list[str]) -> list[str]:
    if not values:
        raise ValidationFailed("enabled_events needs at least one type", field="enabled_events", reason="required")
    known = {t.value for t in WebhookType} | {WILDCARD}
    for value in values:
        if value not in known:
            raise ValidationFailed(
                f"unknown event type {value!r}", field="enabled_events", reason="enum", received=value
            )
    return sorted(set(values))


# ----------------------------------------------------------------- resources


@dataclass(frozen=True)
class Endpoint:
    organization_id: str
    id: str
    url: str
    description: str | None
    enabled_events: list[str]
    metadata: dict[str, Any] | None
    status: EndpointStatus
    created_at: datetime
    updated_at: datetime
    version: int = 1
    consecutive_failures: int = 0
    circuit_opens: int = 0
    circuit_broken_until: datetime | None = None
    rate_limited_until: datetime | None = None

    def subscribes_to(self, webhook_type: str) -> bool:
        return self.status is EndpointStatus.ACTIVE and (
            WILDCARD in self.enabled_events or webhook_type in self.enabled_events
        )

    def blocked_until(self, now: datetime) -> datetime | None:
        ends = [t for t in (self.circuit_broken_until, self.rate_limited_until) if t is not None and t > now]
        return max(ends) if ends else None


@dataclass(frozen=True)
class Notification:
    """One occurrence, as every endpoint receives it (the envelope)."""

    organization_id: str
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]

    def envelope(self, created_at_text: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "api_version": API_VERSION,
            "created_at": created_at_text,
            "organization_id": self.organization_id,
            "data": self.data,
        }


def notification_id(source: str, webhook_type: str) -> str:
    """Derived from what committed, so a redelivered stream record names the same notification."""
    return str(uuid.uuid5(_NAMESPACE, f"{source}\x00{webhook_type}"))


def delivery_id(notification: str, endpoint: str, resend_seq: int = 0) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{notification}\x00{endpoint}\x00{resend_seq}"))


@dataclass(frozen=True)
class Delivery:
    organization_id: str
    id: str
    webhook_endpoint_id: str
    webhook_event_id: str
    event_type: str
    status: DeliveryStatus
    body: str  # the envelope, byte-identical on every attempt and resend
    created_at: datetime
    updated_at: datetime
    attempt_count: int = 0
    max_attempts: int = MAX_ATTEMPTS
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_response_status: int | None = None
    last_response_body: str | None = None
    last_error: str | None = None
    error_code: str | None = None
    resend_seq: int = 0
    version: int = 1
    lease_until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ attempts


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt got: a status (and body) or a network error."""

    status: int | None
    body: str | None = None
    error: str | None = None
    error_code: str | None = None
    retry_after: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def classify(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "consumer_5xx"
    if status >= 400:
        return "consumer_4xx"
    return "consumer_3xx"


def next_delay(failed_attempts: int, jitter: float = 0.0) -> timedelta:
    """Backoff after ``failed_attempts`` failures, with ``jitter`` in [-0.1, 0.1]."""
    base: timedelta = BACKOFF[min(failed_attempts, len(BACKOFF)) - 1]
    return base * (1 + jitter)


def circuit_pause(opens: int) -> timedelta:
    """5 min on the first opening, doubling on each re-opening, at most 1 h."""
    pause: timedelta = CIRCUIT_FIRST_PAUSE * (2 ** max(opens - 1, 0))
    return min(pause, CIRCUIT_MAX_PAUSE)


def retry_after(value: str | None, now: datetime) -> timedelta:
    """A 429's ``Retry-After`` (seconds or an HTTP date), default 60 s, at most 1 h."""
    if not value:
        return RETRY_AFTER_DEFAULT
    try:
        delay = timedelta(seconds=max(int(value.strip()), 0))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            delay = parsedate_to_datetime(value).astimezone(now.tzinfo) - now
        except (TypeError, ValueError):
            return RETRY_AFTER_DEFAULT
    return min(max(delay, timedelta(0)), RETRY_AFTER_MAX)
