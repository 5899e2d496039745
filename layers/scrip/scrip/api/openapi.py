"""The OpenAPI document, generated from the routers and models that validate requests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from scrip.api.catalogue import http_endpoints
from scrip.api.endpoint import build_resolver

DESCRIPTION = """\
Open, self-hostable implementation of Scrip's rewards API (loyalty, cashback and incentive
programs on a double-entry ledger), running on AWS Lambda, API Gateway and DynamoDB.

Conventions (01-platform §4): amounts are decimal strings; ids are lowercase UUIDs; lists page
with `limit` (1-200, default 50; outside the range → 400) and an opaque `cursor`, stable under
concurrent inserts; every error body is `{code, message, details?, request_id}` and every
response carries `X-Request-Id`. Unknown routes answer `404 not_found` (API Gateway cannot
tell a known path with another method apart, so there is no 405). Request bodies are JSON in
UTF-8: `Content-Type: application/json` in any letter case, with no charset or `utf-8`, or no
`Content-Type` at all; any other media type is `415 unsupported_media_type`, a body that is not
UTF-8 is `400 validation_error`, and a body sent with GET or DELETE is ignored.
"""


@cache
def document(functions_root: str) -> dict[str, Any]:
    routers = [e.router for e in http_endpoints(Path(functions_root))]
    resolver = build_resolver(routers)
    text = resolver.get_openapi_json_schema(
        title="Scrip-compatible rewards API",
        version="1.0.0",
        description=DESCRIPTION,
        security_schemes={
            "bearer": HTTPBearer(description="`Authorization: Bearer sk_…`"),
            "apiKey": APIKey.model_validate(
                {"name": "X-API-Key", "in": APIKeyIn.header, "description": "`X-API-Key: sk_…`"}
            ),
        },
        security=[{"bearer": []}, {"apiKey": []}],
    )
    return dict(json.loads(text))
