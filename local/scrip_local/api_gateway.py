"""API Gateway for the local stack: HTTP requests in, REST proxy events to the functions.

Routes come from the template's ``Api`` events. Like a deployed REST API, a path or method
that no route declares gets ``404 not_found`` (the template's gateway response) without
invoking anything.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from scrip_local.runtime import Function
from scrip_local.template import ApiRoute

STAGE = "live"


def werkzeug_rule(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def proxy_event(request: Request, route: ApiRoute, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The REST API (payload 1.0) proxy event API Gateway sends for ``request``."""
    headers = dict(request.headers.items())
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        multi_headers.setdefault(key, []).append(value)
    query = dict(request.args.items())
    multi_query = {k: request.args.getlist(k) for k in request.args}
    body = request.get_data()
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": f"/{STAGE}{request.path}",
            "stage": STAGE,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _gateway_error(status: int, code: str, message: str) -> Response:
    body = {"code": code, "message": message, "request_id": "req_" + uuid.uuid4().hex}
    return Response(json.dumps(body), status=status, content_type="application/json")


def to_http_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway's answer to a malformed proxy response.
        return _gateway_error(502, "internal_error", "malformed Lambda proxy response")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(key)
        for value in values:
            response.headers.add(key, str(value))
    return response


class ApiGateway:
    def __init__(self, routes: list[ApiRoute], functions: dict[str, Function]) -> None:
        self.routes = routes
        self.functions = functions
        self._map = Map(
            [Rule(werkzeug_rule(r.path), methods=[r.method], endpoint=r) for r in routes],
            strict_slashes=False,
        )
        self.local_routes: dict[tuple[str, str], Callable[[Request], Response]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        local = self.local_routes.get((request.method, request.path))
        if local is not None:
            return local(request)
        adapter = self._map.bind_to_environ(request.environ)
        try:
            route, arguments = adapter.match()
        except (NotFound, MethodNotAllowed):
            return _gateway_error(404, "not_found", "no such route")
        event = proxy_event(request, route, {k: str(v) for k, v in arguments.items()})
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:  # noqa: BLE001 - a crashed function is API Gateway's 502
            import traceback

            traceback.print_exc()
            return _gateway_error(502, "internal_error", "the function failed")
        return to_http_response(result)
