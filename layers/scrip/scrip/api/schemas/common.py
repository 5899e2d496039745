"""Types shared by every endpoint's schema: ids, amounts, errors, pagination."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

# Re-exported (``as``) for handlers: see ``scrip.api.endpoint``'s imports.
from aws_lambda_powertools.event_handler.openapi.params import Path as Path
from aws_lambda_powertools.event_handler.openapi.params import Query as Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from scrip.domain.amounts import DECIMAL_PATTERN, parse_decimal
from scrip.domain.clock import INPUT_TEXT, parse_input
from scrip.domain.errors import ApiError
from scrip.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page


def _rfc3339(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return parse_input(value)


# A client's timestamp, read with the bounds and shapes of decision 19 (``domain.clock``).
Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": f"{INPUT_TEXT[0].upper()}{INPUT_TEXT[1:]}"}
    ),
]


def _decimal_string(value: Any) -> Decimal:
    try:
        return parse_decimal(value, field="amount")
    except ApiError as error:
        raise ValueError(error.message.replace("amount ", "value ", 1)) from None


DecimalString = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["100", "12.50"]}),
]
"""A non-negative decimal string (01-platform §4.4): exact, no exponent, never a JSON number."""


def _signed_decimal_string(value: Any) -> Decimal:
    try:
        return parse_decimal(value, field="value", allow_negative=True)
    except ApiError as error:
        raise ValueError(error.message) from None


SignedDecimalString = Annotated[
    Decimal,
    BeforeValidator(_signed_decimal_string),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["42", "-3.5"]}),
]
"""A decimal string that may be negative (counter values)."""

Timestamp = Annotated[datetime, Query(description="RFC 3339 timestamp")]

ResourceId = Annotated[UUID, Path(description="Resource id (UUID)")]
Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}); larger values are 400"),
]
Cursor = Annotated[str | None, Query(description="Opaque `pagination.next_cursor` of the previous page")]


class ApiModel(BaseModel):
    """Every request and response body: its validator is built when first used, not at import.

    A handler module imports whole schema modules but validates and renders only its own
    route's models; building the others (about a millisecond each) would be spent on every cold
    start for nothing. The JSON Schema, hence the OpenAPI document, is the same either way.
    """

    model_config = ConfigDict(defer_build=True)


class RequestModel(ApiModel):
    """Unknown fields are ignored (01-platform §4.2).

    Fields that must not be coerced use strict types (``StrictInt`` for ``scale``): the body
    arrives as Python objects, where a model-wide strict mode would refuse enum strings.
    """

    model_config = ConfigDict(extra="ignore")


class Pagination(ApiModel):
    has_more: bool
    next_cursor: str | None = Field(description="Present iff has_more; pass it as `cursor` for the next page")


class ListResponse[T](ApiModel):
    data: list[T]
    pagination: Pagination

    @classmethod
    def of(cls, page: Page[Any], data: list[T]) -> ListResponse[T]:
        return cls(data=data, pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor))


class ErrorDetails(ApiModel):
    field: str | None = None
    reason: str | None = None
    expected: str | None = None
    received: Any = None
    message: str | None = None
    fields: list[str] | None = None


class ErrorBody(ApiModel):
    """Every non-2xx response (01-platform §4.9, decision 23)."""

    code: str = Field(description="Stable machine-readable code, e.g. `validation_error`")
    message: str
    details: dict[str, Any] | None = None
    request_id: str = Field(description="`req_…`, also sent as the X-Request-Id header")


class MessageResponse(ApiModel):
    message: str
