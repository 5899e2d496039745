"""GET /v1/openapi.json: the OpenAPI 3.1 document of every endpoint (no key needed).

This function is deployed with the whole ``functions/`` tree so that it can gather every
handler's route and models.
"""

from pathlib import Path
from typing import Any

from scrip.api.endpoint import HttpEndpoint
from scrip.api.openapi import document

FUNCTIONS_ROOT = Path(__file__).resolve().parents[2]

endpoint = HttpEndpoint(public=True)


@endpoint.router.get("/v1/openapi.json", summary="OpenAPI document", tags=["Meta"], security=[{}])
def openapi_document() -> dict[str, Any]:
    return document(str(FUNCTIONS_ROOT))


handler = endpoint.handler
