"""What turns a handler module's route into a Lambda handler.

Each module under ``functions/`` declares one route on an ``HttpEndpoint``'s router and
exports ``handler = endpoint.handler``. The same routers, gathered, give the OpenAPI document,
so the document is generated from the code that validates requests.

Authentication happens here, before the route and its validation run: a request without a
valid key is ``401`` whatever its body, and no handler can forget to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api import errors
from scrip.domain.errors import Unauthorized
from scrip.domain.ids import new_request_id
from scrip.domain.organizations import Caller
from scrip.observability import logger, metrics, tracer
from scrip.services import auth

REQUEST_ID_HEADER = "X-Request-Id"


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


def _request_id(event: Mapping[str, Any]) -> str:
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    return "req_" + gateway_id.replace("-", "") if gateway_id else new_request_id()


def _with_request_id(response: dict[str, Any], request_id: str) -> dict[str, Any]:
    response.setdefault("headers", {})
    response["headers"][REQUEST_ID_HEADER] = request_id
    if "multiValueHeaders" in response:
        response["multiValueHeaders"][REQUEST_ID_HEADER] = [request_id]
    return response


class HttpEndpoint:
    """One API route and the Lambda handler that serves it."""

    def __init__(self, *, public: bool = False) -> None:
        self.router = Router()
        self.public = public
        self._resolver: APIGatewayRestResolver | None = None
        handle = tracer.capture_lambda_handler(capture_response=False)(self._handle)
        handle = metrics.log_metrics(raise_on_empty_metrics=False)(handle)
        self.handler = logger.inject_lambda_context(clear_state=True)(handle)

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
        resolver = self.resolver
        resolver.clear_context()
        request_id = _request_id(event)
        logger.append_keys(request_id=request_id)
        resolver.append_context(request_id=request_id)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        if not self.public:
            try:
                caller = auth.authenticate(presented_key(event))
            except Unauthorized as error:
                metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
                body = {"code": error.code, "message": error.message, "request_id": request_id}
                return {
                    "statusCode": error.status,
                    "headers": {"Content-Type": "application/json", REQUEST_ID_HEADER: request_id},
                    "body": json.dumps(body),
                    "isBase64Encoded": False,
                }
            logger.append_keys(organization_id=caller.organization_id)
            resolver.append_context(caller=caller)
        return _with_request_id(resolver.resolve(event, context), request_id)
