"""Webhook endpoint and delivery schemas (06 §2.3-2.5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field, StringConstraints

from scrip.api.schemas.common import ApiModel, RequestModel
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.webhooks import Delivery, DeliveryStatus, Endpoint, EndpointStatus, WebhookType

MAX_PAGE = 100
WebhookLimit = Annotated[int, Query(ge=1, description="Page size, default 20; values above 100 are clamped to 100")]
EVENT_TYPES = ", ".join(["*", *(t.value for t in WebhookType)])


def page_size(limit: int) -> int:
    return min(limit, MAX_PAGE)


class EndpointCreate(RequestModel):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="HTTPS; the host must resolve only to public addresses (checked again before every delivery)"
    )
    enabled_events: list[str] = Field(min_length=1, description=f"Event types or '*': {EVENT_TYPES}")
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="At most 50 keys and 8 KB")


class EndpointUpdate(RequestModel):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    enabled_events: list[str] | None = Field(default=None, min_length=1)
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    metadata: dict[str, Any] | None = None
    status: Literal["ACTIVE", "DISABLED"] | None = None


class EndpointResponse(ApiModel):
    id: str
    url: str
    description: str | None
    enabled_events: list[str]
    metadata: dict[str, Any] | None
    status: EndpointStatus
    created_at: str
    updated_at: str

    @classmethod
    def fields_of(cls, endpoint: Endpoint) -> dict[str, Any]:
        return {
            "id": endpoint.id,
            "url": endpoint.url,
            "description": endpoint.description,
            "enabled_events": endpoint.enabled_events,
            "metadata": endpoint.metadata,
            "status": endpoint.status,
            "created_at": to_rfc3339(endpoint.created_at),
            "updated_at": to_rfc3339(endpoint.updated_at),
        }

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointResponse:
        return cls(**cls.fields_of(endpoint))


class EndpointWithSecret(EndpointResponse):
    secret: str = Field(description="whsec_…: shown by create and rotate-secret only")

    @classmethod
    def with_secret(cls, endpoint: Endpoint, secret: str) -> EndpointWithSecret:
        return cls(**cls.fields_of(endpoint), secret=secret)


class DeliveryResponse(ApiModel):
    id: str
    webhook_endpoint_id: str
    webhook_event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    max_attempts: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    delivered_at: str | None
    last_response_status: int | None
    error_code: str | None = None
    resend_seq: int
    created_at: str
    updated_at: str

    @classmethod
    def fields_of(cls, delivery: Delivery) -> dict[str, Any]:
        return {
            "id": delivery.id,
            "webhook_endpoint_id": delivery.webhook_endpoint_id,
            "webhook_event_id": delivery.webhook_event_id,
            "event_type": delivery.event_type,
            "status": delivery.status,
            "attempt_count": delivery.attempt_count,
            "max_attempts": delivery.max_attempts,
            "next_attempt_at": to_rfc3339_or_none(delivery.next_attempt_at),
            "last_attempt_at": to_rfc3339_or_none(delivery.last_attempt_at),
            "delivered_at": to_rfc3339_or_none(delivery.delivered_at),
            "last_response_status": delivery.last_response_status,
            "error_code": delivery.error_code,
            "resend_seq": delivery.resend_seq,
            "created_at": to_rfc3339(delivery.created_at),
            "updated_at": to_rfc3339(delivery.updated_at),
        }

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryResponse:
        return cls(**cls.fields_of(delivery))


class DeliveryDetail(DeliveryResponse):
    last_response_body: str | None = Field(description="Truncated to 4 KB")
    last_error: str | None

    @classmethod
    def of_detail(cls, delivery: Delivery) -> DeliveryDetail:
        return cls(
            **cls.fields_of(delivery),
            last_response_body=delivery.last_response_body,
            last_error=delivery.last_error,
        )


class StatsRow(ApiModel):
    endpoint_id: str
    url: str
    status: EndpointStatus
    success_24h: int
    fail_24h: int = Field(description="Failed attempts in the last 24 h")
    success_rate: float | None
    degraded: bool
    pending_count: int
    oldest_pending_at: str | None
    last_attempt_at: str | None
    circuit_broken_until: str | None
    rate_limited_until: str | None
    blocked_reason: str | None
    blocked_until: str | None


class StatsResponse(ApiModel):
    data: list[StatsRow]


StatusFilter = Annotated[DeliveryStatus | None, Query()]
