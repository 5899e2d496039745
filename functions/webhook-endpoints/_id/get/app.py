"""GET /v1/webhook-endpoints/{id}: one endpoint (never its secret)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import EndpointResponse
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/webhook-endpoints/<id>", summary="Get a webhook endpoint", tags=["Webhooks"])
def get_webhook_endpoint(id: ResourceId) -> EndpointResponse:
    return EndpointResponse.of(webhook_endpoints.get_endpoint(endpoint.caller(), str(id)))


handler = endpoint.handler
