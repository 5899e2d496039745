"""A route's documented responses for the OpenAPI document: its successes and its errors.

Powertools documents only what a route declares (plus a ``422 Validation Error`` of its own
shape, which this API never sends: bad input is ``400 validation_error``). A route that lists
its errors here gets each status with the ``ErrorBody`` schema and a description naming the
codes, so a client generator sees the same statuses as the spec; a declared ``422`` replaces
Powertools' one.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from scrip.api.schemas.common import ErrorBody

# Every authenticated route can answer these (01 §4); listed once here.
COMMON_ERRORS: Mapping[int, str] = {
    400: "`validation_error`: a path, query or body field is malformed or out of range",
    401: "`unauthorized`: missing, invalid or revoked API key",
}


def documented(success: Mapping[int, str], errors: Mapping[int, str]) -> dict[int, OpenAPIResponse]:
    """``responses=`` for a route: ``success`` (status → description, body from the return type)
    and ``errors`` (status → the codes it carries), the common ones added unless overridden."""
    responses: dict[int, OpenAPIResponse] = {}
    for status, text in success.items():
        # A 204 has no body: an empty content map keeps Powertools from describing one.
        responses[status] = {"description": text, "content": {}} if status == 204 else {"description": text}
    for status, text in {**COMMON_ERRORS, **errors}.items():
        responses[status] = {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    return responses
