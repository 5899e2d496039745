"""What turns a handler module's route into a Lambda handler.

Each module under ``functions/`` declares one route on an ``HttpEndpoint``'s router and
exports ``handler = endpoint.handler``. The same routers, gathered, give the OpenAPI document,
so the document is generated from the code that validates requests.

Authentication happens here, before the route and its validation run: a request without a
valid key is ``401`` whatever its body, and no handler can forget to check. The body is judged
here too, once for every route, before powertools parses it: its own parser answers an
unexpected ``Content-Type`` or a body that is not UTF-8 with an exception, hence a 500.

Every request leaves one request log line (05 §4.8), built once the response is: method, route,
status, duration, error code, and the bodies redacted by ``domain.request_logs``. The line is
printed (``outbound.request_logs``), never written to the table here: the log group's
subscription delivers it to the ingest function after the client has its answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# Handlers take powertools' HTTP names from here: one place names what the handlers use of it.
from aws_lambda_powertools.event_handler import content_types as content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Router
from aws_lambda_powertools.event_handler.api_gateway import Response as Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api import errors
from scrip.domain import clock
from scrip.domain.errors import ApiError, Unauthorized, UnsupportedMediaType, ValidationFailed
from scrip.domain.ids import new_id, new_request_id
from scrip.domain.organizations import Caller
from scrip.domain.request_logs import AuthType, RequestLog, error_code_of, log_id_of, redact_body, to_line
from scrip.observability import lambda_handler, logger, metrics
from scrip.outbound import request_logs
from scrip.services import auth

REQUEST_ID_HEADER = "X-Request-Id"
JSON_MEDIA_TYPE = "application/json"
# A body on these means nothing in this API: it is ignored rather than judged.
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# What can make a body that is valid JSON fail to parse or to be used (everything else is the
# route's validation): a \u escape of a lone UTF-16 surrogate parses into a string that cannot
# be encoded (``event_data`` and ``metadata`` then fail at hashing or storing), and an integer
# past Python's digit limit makes ``json.loads`` raise a bare ``ValueError``. The lookbehind
# starts the digit run only at its first digit, so the scan stays linear.
_INT_DIGITS = sys.get_int_max_str_digits() or 1_000_000
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_SUSPECT_JSON = re.compile(_SURROGATE_ESCAPE + r"|(?<![0-9])[0-9]{" + str(_INT_DIGITS + 1) + "}")


def build_resolver(routers: Iterable[Router]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    errors.register(app)
    for router in routers:
        app.include_router(router)
    return app


def _header(event: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def presented_key(event: Mapping[str, Any]) -> str | None:
    """``Authorization: Bearer`` (scheme case-insensitive) wins over ``X-API-Key``."""
    authorization = _header(event, "Authorization")
    if authorization is not None:
        scheme, _, credential = authorization.strip().partition(" ")
        return credential.strip() if scheme.lower() == "bearer" else None
    return _header(event, "X-API-Key")


def _without_header(headers: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    return {key: value for key, value in (headers or {}).items() if key.lower() != name.lower()}


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """``"Application/JSON; Charset=UTF-8"`` → ``("application/json", {"charset": "utf-8"})``."""
    media_type, *parameters = content_type.split(";")
    parsed = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), parsed


def _unsupported(content_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"Content-Type {content_type!r} is not supported: send {JSON_MEDIA_TYPE} (UTF-8)",
        details={"field": "Content-Type", "expected": JSON_MEDIA_TYPE, "received": content_type},
    )


def _body_text(event: Mapping[str, Any]) -> str:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body)
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _not_utf8() from None


def _not_utf8(message: str = "request body is not UTF-8 text") -> ValidationFailed:
    return ValidationFailed(message, field="body", reason="invalid_encoding", expected="UTF-8 JSON")


def _check_json(text: str) -> None:
    """The 400 for a body that is JSON but not one a service can use; parsed only when suspect."""
    if not _SUSPECT_JSON.search(text):
        return
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return  # the route's validation answers these
    except ValueError:
        raise ValidationFailed(
            f"a number in the request body has more than {_INT_DIGITS} digits", field="body", reason="number_too_long"
        ) from None
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _not_utf8("request body escapes a lone UTF-16 surrogate, which is not a character") from None


def with_json_body(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as powertools can parse it, or the 4xx its body deserves.

    A JSON body is accepted under any spelling of ``application/json`` (media types are
    case-insensitive, and a ``charset`` other than UTF-8 is refused) or with no (or a blank)
    ``Content-Type``; any other media type is ``415``. An empty body is left to the route's
    validation, which says whether one was required, whatever its ``Content-Type``.
    """
    method = str(event.get("httpMethod") or "").upper()
    if method in BODYLESS_METHODS:
        return {**event, "body": None, "isBase64Encoded": False}
    text = ""
    if event.get("body"):
        content_type = (_header(event, "Content-Type") or "").strip()
        if content_type:
            media_type, parameters = _media_type(content_type)
            if media_type != JSON_MEDIA_TYPE or parameters.get("charset", "utf-8") not in ("utf-8", "utf8"):
                raise _unsupported(content_type)
        text = _body_text(event)
        _check_json(text)
    # powertools parses by the header, case-sensitively: it only ever sees the one spelling.
    headers = _without_header(event.get("headers"), "Content-Type") | {"Content-Type": JSON_MEDIA_TYPE}
    prepared = {**event, "headers": headers, "body": text or event.get("body"), "isBase64Encoded": False}
    if event.get("multiValueHeaders"):
        multi_headers = _without_header(event["multiValueHeaders"], "Content-Type")
        prepared["multiValueHeaders"] = multi_headers | {"Content-Type": [JSON_MEDIA_TYPE]}
    return prepared


def _error_result(error: ApiError, request_id: str) -> dict[str, Any]:
    """The proxy result for a failure found before the resolver runs."""
    body: dict[str, Any] = {"code": error.code, "message": error.message, "request_id": request_id}
    if error.details:
        body["details"] = error.details
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": JSON_MEDIA_TYPE, REQUEST_ID_HEADER: request_id},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _request_id(event: Mapping[str, Any]) -> str:
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    return "req_" + gateway_id.replace("-", "") if gateway_id else new_request_id()


def _with_request_id(response: dict[str, Any], request_id: str) -> dict[str, Any]:
    response.setdefault("headers", {})
    response["headers"][REQUEST_ID_HEADER] = request_id
    if "multiValueHeaders" in response:
        response["multiValueHeaders"][REQUEST_ID_HEADER] = [request_id]
    return response


def _request_log(
    event: Mapping[str, Any],
    response: Mapping[str, Any],
    request_id: str,
    caller: Caller | None,
    created_at: datetime,
    duration_ms: float,
) -> RequestLog:
    """What the logs keep of a request (``domain.request_logs`` redacts the bodies; no header but the user agent)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    status = int(response.get("statusCode") or 500)
    response_body = response.get("body")
    if response.get("isBase64Encoded") and isinstance(response_body, str):
        response_body = None  # this API answers JSON only; an encoded body is not worth decoding for a log
    try:
        request_body = _body_text(event) if str(event.get("httpMethod") or "").upper() not in BODYLESS_METHODS else None
    except ApiError:
        request_body = None  # not UTF-8: its 4xx says so
    return RequestLog(
        id=log_id_of(request_id) or new_id(),
        organization_id=caller.organization_id if caller else None,
        request_id=request_id,
        method=str(event.get("httpMethod") or "").upper(),
        path=str(event.get("path") or ""),
        route_pattern=event.get("resource"),
        status_code=status,
        duration_ms=round(duration_ms, 3),
        auth_type=AuthType.API_KEY.value if caller else None,
        error_code=error_code_of(status, response_body if isinstance(response_body, str) else None),
        created_at=created_at,
        ip_address=identity.get("sourceIp"),
        user_agent=identity.get("userAgent") or _header(event, "User-Agent"),
        request_body=redact_body(request_body),
        response_body=redact_body(response_body if isinstance(response_body, str) else None),
    )


class HttpEndpoint:
    """One API route and the Lambda handler that serves it."""

    def __init__(self, *, public: bool = False) -> None:
        self.router = Router()
        self.public = public
        self._resolver: APIGatewayRestResolver | None = None
        self.handler = lambda_handler(self._handle)

    def caller(self) -> Caller:
        caller = self.router.context.get("caller")
        if not isinstance(caller, Caller):
            raise Unauthorized("missing API key")
        return caller

    @property
    def resolver(self) -> APIGatewayRestResolver:
        if self._resolver is None:
            self._resolver = build_resolver([self.router])
        return self._resolver

    def _handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started, created_at = time.perf_counter(), clock.now()
        request_id = _request_id(event)
        response, caller = self._respond(event, context, request_id)
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            request_logs.emit(to_line(_request_log(event, response, request_id, caller, created_at, duration_ms)))
        except Exception:  # noqa: BLE001 - the client's answer never depends on its log line
            logger.exception("request log line not written")
        return response

    def _respond(
        self, event: dict[str, Any], context: LambdaContext, request_id: str
    ) -> tuple[dict[str, Any], Caller | None]:
        """The response, and who asked (None for a public route or a refused key): the
        resolver clears its context once it has answered, so the caller is kept here."""
        resolver = self.resolver
        resolver.clear_context()
        logger.append_keys(request_id=request_id)
        resolver.append_context(request_id=request_id)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        caller: Caller | None = None
        if not self.public:
            try:
                caller = auth.authenticate(presented_key(event))
            except Unauthorized as error:
                metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
                return _error_result(error, request_id), None
            logger.append_keys(organization_id=caller.organization_id)
            resolver.append_context(caller=caller)
        try:
            event = with_json_body(event)
        except ApiError as error:
            return _error_result(error, request_id), caller
        return _with_request_id(resolver.resolve(event, context), request_id), caller
