"""POST /v1/webhook-endpoints/{id}/rotate-secret: a new signing secret, at once."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import EndpointWithSecret
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/webhook-endpoints/<id>/rotate-secret",
    summary="Rotate a webhook endpoint's secret",
    description="Every attempt from now on is signed with the new secret (shown here once); the old one stops "
    "immediately. Archived endpoints are 409 endpoint_not_active.",
    tags=["Webhooks"],
)
def rotate_webhook_secret(id: ResourceId) -> EndpointWithSecret:
    rotated, secret = webhook_endpoints.rotate_secret(endpoint.caller(), str(id))
    return EndpointWithSecret.with_secret(rotated, secret)


handler = endpoint.handler
