"""GET /v1/webhook-endpoints/{id}/deliveries: an endpoint's deliveries, newest first."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, ListResponse, ResourceId
from scrip.api.schemas.webhooks import DeliveryResponse, StatusFilter, WebhookLimit, page_size
from scrip.services import webhook_delivery

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/webhook-endpoints/<id>/deliveries",
    summary="List an endpoint's deliveries",
    description="Newest first; items omit last_response_body and last_error (see GET /v1/webhook-deliveries/{id}).",
    tags=["Webhooks"],
)
def list_deliveries(
    id: ResourceId, limit: WebhookLimit = 20, cursor: Cursor = None, status: StatusFilter = None
) -> ListResponse[DeliveryResponse]:
    page = webhook_delivery.list_deliveries(
        endpoint.caller(), str(id), limit=page_size(limit), cursor=cursor, status=status
    )
    return ListResponse.of(page, [DeliveryResponse.of(d) for d in page.items])


handler = endpoint.handler
