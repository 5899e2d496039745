"""Usage and request log schemas (05 §4.7-4.8)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ConfigDict, Field

from scrip.api.schemas.common import ApiModel
from scrip.domain.clock import to_rfc3339
from scrip.domain.request_logs import MAX_BODY_BYTES, RequestLog

MAX_LOG_PAGE = 100
LogLimit = Annotated[
    int, Query(ge=1, le=MAX_LOG_PAGE, description=f"Page size, 1-{MAX_LOG_PAGE} (default 50); larger values are 400")
]
StatusBound = Annotated[int | None, Query(ge=100, le=599, description="HTTP status bound (inclusive), 100-599")]

REDACTION_TEXT = (
    "Redacted before it was logged: the value of any field named like a secret (secret, password, token, "
    "api_key, authorization, credential, private_key, signature) and any string shaped like an API key "
    '(sk_…) or a webhook secret (whsec_…) is "[REDACTED]"; request headers are never kept. JSON bodies '
    f"are re-serialised compactly; a body over {MAX_BODY_BYTES // 1024} KB is cut and ends with "
    '"…[truncated N bytes]"; one over 1 MiB is not kept ("[body of N characters not kept]"). '
    "null when there was no body."
)


class RequestLogResponse(ApiModel):
    id: str = Field(description="The log's id: the request id as a UUID (`req_` + 32 hex digits → 8-4-4-4-12)")
    request_id: str = Field(description="`req_…`, as sent in the X-Request-Id header and error bodies")
    method: str
    path: str = Field(description="The concrete path requested")
    route_pattern: str | None = Field(description="The parameterised route, e.g. `/v1/participants/{id}`")
    status_code: int
    duration_ms: float = Field(description="Time in the function, from the request's arrival to its response")
    auth_type: str | None = Field(description="`api_key`, or null for a public route")
    error_code: str | None = Field(description="The error body's `code` when status_code >= 400")
    created_at: str

    @classmethod
    def fields_of(cls, log: RequestLog) -> dict[str, Any]:
        return {
            "id": log.id,
            "request_id": log.request_id,
            "method": log.method,
            "path": log.path,
            "route_pattern": log.route_pattern,
            "status_code": log.status_code,
            "duration_ms": log.duration_ms,
            "auth_type": log.auth_type,
            "error_code": log.error_code,
            "created_at": to_rfc3339(log.created_at),
        }

    @classmethod
    def of(cls, log: RequestLog) -> RequestLogResponse:
        return cls(**cls.fields_of(log))


class RequestLogDetailResponse(RequestLogResponse):
    ip_address: str | None
    user_agent: str | None
    request_body: str | None = Field(description=f"The request body as text. {REDACTION_TEXT}")
    response_body: str | None = Field(description=f"The response body as text. {REDACTION_TEXT}")

    @classmethod
    def of(cls, log: RequestLog) -> RequestLogDetailResponse:
        return cls(
            **cls.fields_of(log),
            ip_address=log.ip_address,
            user_agent=log.user_agent,
            request_body=log.request_body,
            response_body=log.response_body,
        )


class UsageDayResponse(ApiModel):
    date: str = Field(description="A UTC day, YYYY-MM-DD")
    request_count: int
    error_count: int = Field(description="Responses with status >= 400")
    avg_latency_ms: float = Field(description="Mean duration_ms of the day's requests, 0 when there were none")


class UsageResponse(ApiModel):
    """`from` and `to` echo the window asked for (defaults: the last 30 days up to now)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    data: list[UsageDayResponse] = Field(
        description="One row per UTC day the window touches, oldest first, zeros for days without requests; "
        "each row counts its whole day"
    )
