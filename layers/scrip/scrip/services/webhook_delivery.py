"""Sending deliveries (06 §2.8-2.9): attempts, retries, the circuit breaker, manual redelivery.

An attempt claims the delivery (``SENDING`` with a lease, guarded by its version), so two
messages for one delivery never POST it twice at once; a worker that dies mid-attempt loses
the lease and the retry sweep picks the delivery up again. Each attempt re-checks that the
endpoint's host resolves only to public addresses and connects to the address it checked.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from scrip import settings
from scrip.domain import clock
from scrip.domain.errors import NotFound, ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.webhooks import (
    CIRCUIT_THRESHOLD,
    RESPONSE_BODY_LIMIT,
    TIMEOUT_SECONDS,
    AttemptResult,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointNotActive,
    EndpointStatus,
    NotResendable,
    circuit_pause,
    classify,
    delivery_id,
    next_delay,
    retry_after,
    signature,
)
from scrip.outbound import http, queues
from scrip.outbound import secrets as secret_store
from scrip.services import webhook_endpoints
from scrip.storage import webhooks as webhook_store

LEASE = timedelta(seconds=60)
USER_AGENT = "Scrip-Webhooks/1.0"
_SWEEP_HOURS = 8  # the longest backoff (6 h) plus pauses, with margin


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    DEFERRED = "deferred"  # the endpoint is paused (circuit, rate limit): no attempt consumed
    SKIPPED = "skipped"  # nothing to do now (finished, not due, claimed elsewhere, disabled endpoint)


def queue(deliveries: list[tuple[str, str]]) -> None:
    """(organization id, delivery id) each, to the delivery queue."""
    if deliveries:
        queues.send(
            settings.current().webhook_queue_url,
            [({"organization_id": org, "delivery_id": d}, 0) for org, d in deliveries],
        )


def queue_pending(images: list[dict[str, str]]) -> int:
    """Queue the PENDING deliveries among these stream images that are due now (or within SQS's
    15-minute delay); later ones wait for the sweep."""
    now = clock.now()
    messages = []
    for image in images:
        if image.get("entity") != "WEBHOOK_DELIVERY" or image.get("status") != DeliveryStatus.PENDING.value:
            continue
        due = clock.parse_rfc3339(image["next_attempt_at"]) if image.get("next_attempt_at") else now
        delay = max(0, int((due - now).total_seconds()))
        if delay <= queues.MAX_DELAY_SECONDS:
            messages.append(({"organization_id": image["organization_id"], "delivery_id": image["id"]}, delay))
    if messages:
        queues.send(settings.current().webhook_queue_url, messages)
    return len(messages)


def sweep_due() -> int:
    """Queue every delivery whose retry fell due (the schedule's minute job)."""
    now = clock.now()
    due = []
    for hours_back in range(_SWEEP_HOURS, -1, -1):
        for entry in webhook_store.due(now - timedelta(hours=hours_back), now):
            due.append((str(entry["organization_id"]), str(entry["delivery_id"])))
    queue(due)
    return len(due)


# ------------------------------------------------------------------- attempt


def _save(previous: Delivery, updated: Delivery) -> bool:
    try:
        webhook_store.save_delivery(previous, updated)
    except webhook_store.StaleDelivery:
        return False
    return True


def attempt(organization_id: str, delivery: str) -> AttemptOutcome:
    """One attempt of a delivery, if it is due and its endpoint can receive."""
    current = webhook_store.get_delivery(organization_id, delivery, with_body=True)
    now = clock.now()
    if current is None:
        return AttemptOutcome.SKIPPED
    if current.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        # A message for a finished delivery: a duplicate, or the redelivery of an attempt that
        # stopped between recording its result and removing the PENDING line. A read tells
        # which; the line, if left, goes now.
        if webhook_store.has_pending_line(current):
            webhook_store.clear_pending(current)
        return AttemptOutcome.SKIPPED
    if current.status is DeliveryStatus.SENDING and current.lease_until and current.lease_until > now:
        return AttemptOutcome.SKIPPED
    if current.next_attempt_at and current.next_attempt_at > now + timedelta(seconds=1):
        return AttemptOutcome.SKIPPED
    found = webhook_store.get_endpoint_with_secret(organization_id, current.webhook_endpoint_id)
    endpoint, ciphertext = found if found else (None, b"")
    if endpoint is None or endpoint.status is EndpointStatus.ARCHIVED:
        failed = _next(current, status=DeliveryStatus.FAILED, now=now, last_error="endpoint archived")
        return AttemptOutcome.FAILED if _save(current, failed) else AttemptOutcome.SKIPPED
    if endpoint.status is EndpointStatus.DISABLED:
        return AttemptOutcome.SKIPPED  # resumes when the endpoint is re-activated (a retry or resend re-queues it)
    blocked = endpoint.blocked_until(now)
    if blocked is not None:
        pushed = _next(current, status=DeliveryStatus.PENDING, now=now, next_attempt_at=blocked)
        return AttemptOutcome.DEFERRED if _save(current, pushed) else AttemptOutcome.SKIPPED
    claimed = replace(
        current,
        status=DeliveryStatus.SENDING,
        lease_until=now + LEASE,
        updated_at=now,
        version=current.version + 1,
    )
    if not _save(current, claimed):
        return AttemptOutcome.SKIPPED
    result = _send(endpoint, ciphertext, claimed)
    return _record(endpoint, claimed, result)


def _send(endpoint: Endpoint, ciphertext: bytes, delivery: Delivery) -> AttemptResult:
    try:
        scheme, host, port, found = webhook_endpoints.checked_destination(endpoint.url)
    except ValidationFailed as refused:
        return AttemptResult(None, error=refused.message, error_code="destination_blocked")
    secret = secret_store.decrypt(endpoint.organization_id, endpoint.id, ciphertext)
    body = delivery.body.encode()
    # The signing time is the sending host's wall clock: receivers compare it with theirs.
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.webhook_event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, delivery.webhook_event_id, timestamp, body),
    }
    parts = urlsplit(endpoint.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    response = http.post(
        scheme=scheme,
        host=host,
        address=found[0],
        port=port,
        path=path,
        headers=headers,
        body=body,
        timeout=TIMEOUT_SECONDS,
    )
    if response.status is None:
        return AttemptResult(None, error=response.error, error_code=response.error_code)
    now = clock.now()
    return AttemptResult(
        response.status,
        body=(response.body or "")[:RESPONSE_BODY_LIMIT],
        error_code=None if 200 <= response.status < 300 else classify(response.status),
        retry_after=retry_after(response.retry_after, now) if response.status == 429 else None,
    )


def _next(
    delivery: Delivery,
    *,
    status: DeliveryStatus,
    now: datetime,
    next_attempt_at: datetime | None = None,
    last_error: str | None = None,
) -> Delivery:
    """A change of status that consumes no attempt."""
    return replace(
        delivery,
        status=status,
        next_attempt_at=next_attempt_at,
        last_error=last_error if last_error is not None else delivery.last_error,
        lease_until=None,
        updated_at=now,
        version=delivery.version + 1,
    )


def _record(endpoint: Endpoint, sending: Delivery, result: AttemptResult) -> AttemptOutcome:
    now = clock.now()
    org = endpoint.organization_id
    attempts = sending.attempt_count + 1
    shard = random.randrange(webhook_store.STATS_SHARDS)  # noqa: S311 - spreading counters, not a secret
    common: dict[str, Any] = {
        "attempt_count": attempts,
        "last_attempt_at": now,
        "last_response_status": result.status,
        "last_response_body": result.body,
        "last_error": result.error,
        "error_code": result.error_code,
        "lease_until": None,
        "updated_at": now,
        "version": sending.version + 1,
    }
    if result.succeeded:
        done = replace(sending, **common, status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
        _save(sending, done)
        webhook_store.count_outcome(org, endpoint.id, now, success=True, shard=shard)
        if endpoint.consecutive_failures or endpoint.circuit_opens or endpoint.circuit_broken_until:
            webhook_store.close_circuit(org, endpoint.id)
        return AttemptOutcome.DELIVERED
    webhook_store.count_outcome(org, endpoint.id, now, success=False, shard=shard)
    if result.status == 410:
        webhook_endpoints.disable_gone(org, endpoint.id)
    if result.status == 429 and result.retry_after is not None:
        webhook_store.rate_limit(org, endpoint.id, now + result.retry_after)
    failures = webhook_store.record_failure(org, endpoint.id)
    if failures >= CIRCUIT_THRESHOLD:
        webhook_store.open_circuit(org, endpoint.id, now + circuit_pause(endpoint.circuit_opens + 1))
    if attempts >= sending.max_attempts:
        failed = replace(sending, **common, status=DeliveryStatus.FAILED, next_attempt_at=None)
        _save(sending, failed)
        return AttemptOutcome.FAILED
    delay = next_delay(attempts, random.uniform(-0.1, 0.1))  # noqa: S311 - jitter
    if result.retry_after is not None:
        delay = max(delay, result.retry_after)
    retrying = replace(sending, **common, status=DeliveryStatus.PENDING, next_attempt_at=now + delay)
    _save(sending, retrying)
    return AttemptOutcome.RETRYING


# -------------------------------------------------------------- the API side


def get_delivery(caller: Caller, delivery: str) -> Delivery:
    return webhook_store.require_delivery(caller.organization_id, delivery)


def list_deliveries(
    caller: Caller, endpoint_id: str, *, limit: int, cursor: str | None, status: DeliveryStatus | None
) -> Page[Delivery]:
    webhook_store.require_endpoint(caller.organization_id, endpoint_id)
    scope = scope_signature("webhook-deliveries", caller.organization_id, endpoint_id, status)
    found, resume = webhook_store.delivery_page(
        caller.organization_id,
        endpoint_id,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        status=status,
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)


def retry_delivery(caller: Caller, delivery: str) -> Delivery:
    """The same delivery back to PENDING with a fresh set of 8 attempts (FAILED only, else 404)."""
    while True:
        current = webhook_store.require_delivery(caller.organization_id, delivery)
        if current.status is not DeliveryStatus.FAILED:
            raise NotFound(f"webhook delivery {delivery} is not FAILED; only a FAILED delivery can be retried")
        endpoint = webhook_store.require_endpoint(caller.organization_id, current.webhook_endpoint_id)
        if endpoint.status is not EndpointStatus.ACTIVE:
            raise EndpointNotActive(f"webhook endpoint {endpoint.id} is {endpoint.status.value}")
        now = clock.now()
        reset = replace(
            current,
            status=DeliveryStatus.PENDING,
            attempt_count=0,
            next_attempt_at=now,
            lease_until=None,
            updated_at=now,
            version=current.version + 1,
        )
        if _save(current, reset):
            return reset


def resend_delivery(caller: Caller, delivery: str) -> Delivery:
    """A new delivery of the same notification to the same endpoint, the source untouched."""
    org = caller.organization_id
    source = webhook_store.require_delivery(org, delivery, with_body=True)
    if source.status not in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        raise NotResendable(f"webhook delivery {delivery} is {source.status.value}; only finished ones can be resent")
    endpoint = webhook_store.require_endpoint(org, source.webhook_endpoint_id)
    if endpoint.status is not EndpointStatus.ACTIVE:
        raise EndpointNotActive(f"webhook endpoint {endpoint.id} is {endpoint.status.value}")
    sequence = source.resend_seq
    while True:
        sequence += 1
        candidates = [delivery_id(source.webhook_event_id, endpoint.id, n) for n in range(sequence, sequence + 10)]
        taken = webhook_store.existing_deliveries(org, candidates)
        free = next(
            (n for n, c in zip(range(sequence, sequence + 10), candidates, strict=True) if c not in taken), None
        )
        if free is None:
            sequence += 9
            continue
        now = clock.now()
        copy = replace(
            source,
            id=delivery_id(source.webhook_event_id, endpoint.id, free),
            status=DeliveryStatus.PENDING,
            attempt_count=0,
            next_attempt_at=None,
            last_attempt_at=None,
            delivered_at=None,
            last_response_status=None,
            last_response_body=None,
            last_error=None,
            error_code=None,
            resend_seq=free,
            lease_until=None,
            created_at=now,
            updated_at=now,
            version=1,
        )
        try:
            webhook_store.create_delivery(copy)
        except webhook_store.DeliveryExists:
            sequence = free
            continue
        return copy
