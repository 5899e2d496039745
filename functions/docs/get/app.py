"""GET /v1/docs: a page that renders the OpenAPI document (no key needed).

The viewer is Redoc's standalone bundle, vendored from its npm package in ``redoc/`` (version,
licence and checksum in ``redoc/README.md``) and inlined into the page, so the page renders
with no network access beyond this API and under a policy that trusts nothing else. Inlined
rather than served from a route of its own: one more route would have to be in the template,
the local stack and the OpenAPI document for a file only this page reads, and ~1 MB of HTML
is far below API Gateway's and Lambda's response limits.
"""

import base64
import hashlib
from functools import cache
from pathlib import Path

from scrip.api.endpoint import HttpEndpoint, Response, content_types

endpoint = HttpEndpoint(public=True)

REDOC_BUNDLE = Path(__file__).resolve().parent / "redoc" / "redoc.standalone.js"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Scrip-compatible rewards API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="openapi.json"></redoc>
<script>{script}</script>
</body></html>
"""


@cache
def page() -> tuple[str, str]:
    """The page and its Content-Security-Policy, built once per container."""
    script = REDOC_BUNDLE.read_text(encoding="utf-8")
    # The HTML parser would end the inline script at the first "</script".
    assert "</script" not in script.lower()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    policy = "; ".join(
        [
            "default-src 'self'",
            # Only the inlined bundle runs: it is allowed by its hash, not by 'unsafe-inline'.
            f"script-src 'sha256-{digest}'",
            # Redoc's styling (styled-components) writes <style> elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            # Redoc's search index runs in a worker it creates from a Blob of its own code.
            "worker-src blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return PAGE.replace("{script}", script), policy


# No return annotation: Powertools would try to build a response schema from Response.
@endpoint.router.get("/v1/docs", summary="API documentation page", tags=["Meta"], security=[{}], include_in_schema=True)
def docs_page():
    html, policy = page()
    return Response(
        status_code=200,
        content_type=content_types.TEXT_HTML,
        body=html,
        headers={"Content-Security-Policy": policy},
    )


handler = endpoint.handler
