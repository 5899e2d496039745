"""POST /v1/webhook-endpoints: register an endpoint (its secret is shown this once)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.webhooks import EndpointCreate, EndpointWithSecret
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/webhook-endpoints",
    status_code=201,
    summary="Create a webhook endpoint",
    description="The `whsec_` secret is returned here and by rotate-secret only (Standard Webhooks signatures, "
    "decision 3). The URL must be HTTPS and resolve only to public addresses: private, loopback, link-local "
    "(metadata) and shared ranges are refused with 400 on `url`.",
    tags=["Webhooks"],
)
def create_webhook_endpoint(body: EndpointCreate) -> EndpointWithSecret:
    created, secret = webhook_endpoints.create_endpoint(
        endpoint.caller(),
        url=body.url,
        enabled_events=body.enabled_events,
        description=body.description,
        metadata=body.metadata,
    )
    return EndpointWithSecret.with_secret(created, secret)


handler = endpoint.handler
