"""PATCH /v1/webhook-endpoints/{id}: change an endpoint."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import EndpointResponse, EndpointUpdate
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/webhook-endpoints/<id>",
    summary="Update a webhook endpoint",
    description="Omitted fields unchanged; enabled_events and metadata replace; status ACTIVE or DISABLED (a "
    "DISABLED endpoint receives no new deliveries). An archived endpoint is 409 endpoint_not_active.",
    tags=["Webhooks"],
)
def update_webhook_endpoint(id: ResourceId, body: EndpointUpdate) -> EndpointResponse:
    changes = body.model_dump(exclude_unset=True)
    return EndpointResponse.of(webhook_endpoints.update_endpoint(endpoint.caller(), str(id), changes))


handler = endpoint.handler
