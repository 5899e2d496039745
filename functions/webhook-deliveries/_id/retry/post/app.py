"""POST /v1/webhook-deliveries/{id}/retry: a FAILED delivery gets a fresh set of 8 attempts."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import DeliveryResponse
from scrip.services import webhook_delivery

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/webhook-deliveries/<id>/retry",
    summary="Retry a failed webhook delivery",
    description="The same delivery back to PENDING with attempt_count 0. Only a FAILED delivery (else 404); the "
    "endpoint must be ACTIVE (else 409 endpoint_not_active).",
    tags=["Webhooks"],
)
def retry_delivery(id: ResourceId) -> DeliveryResponse:
    return DeliveryResponse.of(webhook_delivery.retry_delivery(endpoint.caller(), str(id)))


handler = endpoint.handler
