"""POST /v1/webhook-deliveries/{id}/resend: a new delivery of the same notification."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import DeliveryResponse
from scrip.services import webhook_delivery

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/webhook-deliveries/<id>/resend",
    status_code=201,
    summary="Resend a webhook delivery",
    description="201 with a new delivery (same webhook_event_id and byte-identical body, resend_seq + 1); the source "
    "is untouched. Only DELIVERED or FAILED deliveries (else 409 not_resendable) to an ACTIVE endpoint (else 409 "
    "endpoint_not_active).",
    tags=["Webhooks"],
)
def resend_delivery(id: ResourceId) -> DeliveryResponse:
    return DeliveryResponse.of(webhook_delivery.resend_delivery(endpoint.caller(), str(id)))


handler = endpoint.handler
