"""GET /v1/webhook-deliveries/{id}: one delivery, with the last response body and error."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.webhooks import DeliveryDetail
from scrip.services import webhook_delivery

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/webhook-deliveries/<id>", summary="Get a webhook delivery", tags=["Webhooks"])
def get_delivery(id: ResourceId) -> DeliveryDetail:
    return DeliveryDetail.of_detail(webhook_delivery.get_delivery(endpoint.caller(), str(id)))


handler = endpoint.handler
