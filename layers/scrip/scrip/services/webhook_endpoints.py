"""Webhook endpoint use cases (06 §2.3, §2.10): register, list, read, change, rotate, archive, stats.

The ``whsec_`` secret is generated here, encrypted with KMS before it is stored, and returned
only by create and rotate. URLs must be HTTPS and resolve only to public addresses; the check
runs at registration, on a URL change, and again before every delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from scrip import settings
from scrip.domain import clock, ids
from scrip.domain.errors import ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.webhooks import (
    DeliveryStatus,
    Endpoint,
    EndpointNotActive,
    EndpointStatus,
    check_addresses,
    check_enabled_events,
    check_url,
    new_secret,
)
from scrip.outbound import addresses
from scrip.outbound import secrets as secret_store
from scrip.storage import webhooks as webhook_store

MAX_METADATA_KEYS = 50
MAX_METADATA_BYTES = 8192


def loopback_allowed() -> bool:
    """Only the local stack sets this (a developer's receiver on localhost); the template never does."""
    return settings.current().webhooks_allow_loopback_http


def checked_destination(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) of a URL that may receive deliveries, else 400 on ``url``."""
    allow = loopback_allowed()
    scheme, host, port = check_url(url, allow_loopback_http=allow)
    found = addresses.resolve(host, port)
    check_addresses(host, found, allow_loopback=allow and scheme == "http")
    return scheme, host, port, found


def _check_metadata(metadata: dict[str, Any] | None) -> None:
    if metadata is None:
        return
    try:
        text = json.dumps(metadata, allow_nan=False)
    except ValueError:
        raise ValidationFailed("metadata numbers must be finite", field="metadata", reason="invalid") from None
    if len(metadata) > MAX_METADATA_KEYS or len(text) > MAX_METADATA_BYTES:
        raise ValidationFailed(
            f"metadata holds at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_BYTES} bytes",
            field="metadata",
            reason="too_large",
        )


def create_endpoint(
    caller: Caller,
    *,
    url: str,
    enabled_events: list[str],
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Endpoint, str]:
    """The new endpoint and its secret (shown this once)."""
    checked_destination(url)
    _check_metadata(metadata)
    now = clock.now()
    endpoint = Endpoint(
        organization_id=caller.organization_id,
        id=ids.new_id(),
        url=url,
        description=description,
        enabled_events=check_enabled_events(enabled_events),
        metadata=metadata,
        status=EndpointStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    secret = new_secret()
    webhook_store.save_endpoint(
        endpoint, secret_store.encrypt(endpoint.organization_id, endpoint.id, secret), previous=None
    )
    return endpoint, secret


def get_endpoint(caller: Caller, endpoint_id: str) -> Endpoint:
    return webhook_store.require_endpoint(caller.organization_id, endpoint_id)


def list_endpoints(caller: Caller, *, limit: int, cursor: str | None, status: EndpointStatus | None) -> Page[Endpoint]:
    scope = scope_signature("webhook-endpoints", caller.organization_id, status)
    found, resume = webhook_store.endpoint_page(
        caller.organization_id, limit=limit, after=decode_cursor(cursor, scope) if cursor else None, status=status
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)


def _active(endpoint: Endpoint) -> None:
    if endpoint.status is EndpointStatus.ARCHIVED:
        raise EndpointNotActive(f"webhook endpoint {endpoint.id} is archived")


def update_endpoint(caller: Caller, endpoint_id: str, changes: dict[str, Any]) -> Endpoint:
    """PATCH: omitted fields unchanged; ``enabled_events`` and ``metadata`` replace; status ACTIVE or DISABLED."""
    if not changes:
        raise ValidationFailed("send at least one field to change", reason="empty")
    for name in ("url", "status"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name, reason="null")
    while True:
        current = webhook_store.require_endpoint(caller.organization_id, endpoint_id)
        _active(current)
        fields: dict[str, Any] = {}
        if "url" in changes and changes["url"] != current.url:
            checked_destination(changes["url"])
            fields["url"] = changes["url"]
        if "enabled_events" in changes:
            fields["enabled_events"] = check_enabled_events(changes["enabled_events"] or [])
        if "description" in changes:
            fields["description"] = changes["description"]
        if "metadata" in changes:
            _check_metadata(changes["metadata"])
            fields["metadata"] = changes["metadata"]
        if "status" in changes:
            fields["status"] = EndpointStatus(changes["status"])
        updated = replace(current, **fields, updated_at=clock.now(), version=current.version + 1)
        try:
            webhook_store.save_endpoint(updated, None, previous=current)
        except webhook_store.StaleEndpoint:
            continue
        if current.status is not EndpointStatus.ACTIVE and updated.status is EndpointStatus.ACTIVE:
            _resume_pending(updated)
        return updated


def _resume_pending(endpoint: Endpoint) -> None:
    """Re-activated: deliveries that waited (skipped while disabled) are due now. Rewriting them
    queues them through the stream; the retry sweep alone looks back 8 hours and never sees a
    delivery that had no retry scheduled."""
    now = clock.now()
    for entry in webhook_store.unfinished(endpoint.organization_id, endpoint.id):
        waiting = webhook_store.get_delivery(endpoint.organization_id, entry.split("#", 1)[1])
        if waiting is None or waiting.status is not DeliveryStatus.PENDING:
            continue
        if waiting.next_attempt_at is not None and waiting.next_attempt_at > now:
            continue
        due = replace(waiting, next_attempt_at=now, updated_at=now, version=waiting.version + 1)
        try:
            webhook_store.save_delivery(waiting, due)
        except webhook_store.StaleDelivery:
            continue  # changed meanwhile: an attempt or a retry took it


def rotate_secret(caller: Caller, endpoint_id: str) -> tuple[Endpoint, str]:
    """A new secret, used for every attempt from now on; the old one stops at once."""
    while True:
        current = webhook_store.require_endpoint(caller.organization_id, endpoint_id)
        _active(current)
        secret = new_secret()
        updated = replace(current, updated_at=clock.now(), version=current.version + 1)
        try:
            webhook_store.save_endpoint(
                updated, secret_store.encrypt(current.organization_id, current.id, secret), previous=current
            )
        except webhook_store.StaleEndpoint:
            continue
        return updated, secret


def archive_endpoint(caller: Caller, endpoint_id: str) -> None:
    """DELETE: archived, gone from lists, receives nothing; archiving again succeeds."""
    while True:
        current = webhook_store.require_endpoint(caller.organization_id, endpoint_id)
        if current.status is EndpointStatus.ARCHIVED:
            return
        updated = replace(current, status=EndpointStatus.ARCHIVED, updated_at=clock.now(), version=current.version + 1)
        try:
            webhook_store.save_endpoint(updated, None, previous=current)
        except webhook_store.StaleEndpoint:
            continue
        return


def disable_gone(organization_id: str, endpoint_id: str) -> None:
    """A receiver answered 410 Gone: stop sending until its owner re-activates it."""
    while True:
        current = webhook_store.get_endpoint(organization_id, endpoint_id)
        if current is None or current.status is not EndpointStatus.ACTIVE:
            return
        updated = replace(current, status=EndpointStatus.DISABLED, updated_at=clock.now(), version=current.version + 1)
        try:
            webhook_store.save_endpoint(updated, None, previous=current)
        except webhook_store.StaleEndpoint:
            continue
        return


@dataclass(frozen=True)
class EndpointStats:
    endpoint: Endpoint
    success_24h: int
    fail_24h: int
    pending_count: int
    oldest_pending_at: datetime | None
    last_attempt_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        total = self.success_24h + self.fail_24h
        return round(self.success_24h / total, 4) if total else None

    def blocked(self, now: datetime) -> tuple[str | None, datetime | None]:
        circuit, limited = self.endpoint.circuit_broken_until, self.endpoint.rate_limited_until
        pauses = [(t, r) for t, r in ((circuit, "circuit_broken"), (limited, "rate_limited")) if t and t > now]
        if not pauses:
            return None, None
        until, reason = max(pauses)
        return reason, until

    def degraded(self, now: datetime) -> bool:
        rate = self.success_rate
        circuit_open = bool(self.endpoint.circuit_broken_until and self.endpoint.circuit_broken_until > now)
        return circuit_open or (rate is not None and rate < 0.95 and self.success_24h + self.fail_24h >= 10)


def delivery_stats(caller: Caller) -> list[EndpointStats]:
    org = caller.organization_id
    now = clock.now()
    rows = []
    for listed in webhook_store.endpoints(org):
        endpoint = webhook_store.get_endpoint(org, listed.id) or listed
        success, fail, last_attempt = webhook_store.outcomes_since(org, endpoint.id, now - timedelta(hours=24))
        pending = webhook_store.unfinished(org, endpoint.id)
        oldest = clock.parse_rfc3339(pending[0].split("#", 1)[0]) if pending else None
        rows.append(EndpointStats(endpoint, success, fail, len(pending), oldest, last_attempt))
    return rows
