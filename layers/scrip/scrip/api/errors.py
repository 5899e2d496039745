"""Rendering every failure as the spec's error body (01-platform §4.9, decision 23)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from scrip.domain.errors import ApiError
from scrip.observability import logger

_LOCATIONS = ("body", "query", "path", "header")


def error_response(
    status: int, code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> Response[Any]:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in _LOCATIONS]
    return ".".join(parts) if parts else "body"


def validation_details(errors: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The first problem as the message, every offending field in ``fields``."""
    first: dict[str, Any] = errors[0] if errors else {"msg": "invalid request", "type": "invalid"}
    reason = str(first.get("type", "invalid"))
    fields = list(dict.fromkeys(_field_name(tuple(e.get("loc", ()))) for e in errors))
    field = _field_name(tuple(first.get("loc", ())))
    if reason == "json_invalid":
        field, fields = "body", ["body"]
        message = "request body is not valid JSON"
    elif reason == "missing":
        message = f"{field} is required"
    else:
        message = f"{field}: {first.get('msg', 'invalid value')}"
    details: dict[str, Any] = {"field": field, "reason": reason, "message": message, "fields": fields}
    context = first.get("ctx") or {}
    if "expected" in context:
        details["expected"] = str(context["expected"])
    elif "pattern" in context:
        details["expected"] = f"pattern {context['pattern']}"
    received = first.get("input")
    if received is not None and reason != "missing" and isinstance(received, (str, int, float, bool)):
        details["received"] = received
    return message, details


def register(app: APIGatewayRestResolver) -> None:
    def request_id() -> str:
        return str(app.context.get("request_id", ""))

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response[Any]:
        response = error_response(error.status, error.code, error.message, request_id(), error.details)
        response.headers.update(error.headers())
        return response

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[Any]:
        message, details = validation_details(list(error.errors()))
        return error_response(400, "validation_error", message, request_id(), details)

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response[Any]:
        # Parsing (or validating) a body nested thousands of levels deep runs out of stack: the input's fault.
        message = "request body nests too deeply"
        details = {"field": "body", "reason": "json_invalid", "message": message, "fields": ["body"]}
        return error_response(400, "validation_error", message, request_id(), details)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal server error", request_id())

    @app.not_found
    def _no_route(_: Exception) -> Response[Any]:
        return error_response(404, "not_found", "no such route", request_id())
