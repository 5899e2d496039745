"""GET /v1/docs: a page that renders the OpenAPI document (no key needed)."""

from aws_lambda_powertools.event_handler import Response, content_types

from scrip.api.endpoint import HttpEndpoint

endpoint = HttpEndpoint(public=True)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Scrip-compatible rewards API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="openapi.json"></redoc>
<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
</body></html>
"""


@endpoint.router.get("/v1/docs", summary="API documentation page", tags=["Meta"], security=[{}], include_in_schema=True)
def docs_page():
    return Response(status_code=200, content_type=content_types.TEXT_HTML, body=PAGE)


handler = endpoint.handler
