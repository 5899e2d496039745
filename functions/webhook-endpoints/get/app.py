"""GET /v1/webhook-endpoints: list endpoints, newest first."""

from typing import Annotated, Literal

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, ListResponse, Query
from scrip.api.schemas.webhooks import EndpointResponse, WebhookLimit, page_size
from scrip.domain.webhooks import EndpointStatus
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/webhook-endpoints",
    summary="List webhook endpoints",
    description="Newest first; archived endpoints never appear; secrets never appear.",
    tags=["Webhooks"],
)
def list_webhook_endpoints(
    limit: WebhookLimit = 20,
    cursor: Cursor = None,
    status: Annotated[Literal["ACTIVE", "DISABLED"] | None, Query()] = None,
) -> ListResponse[EndpointResponse]:
    page = webhook_endpoints.list_endpoints(
        endpoint.caller(),
        limit=page_size(limit),
        cursor=cursor,
        status=EndpointStatus(status) if status else None,
    )
    return ListResponse.of(page, [EndpointResponse.of(e) for e in page.items])


handler = endpoint.handler
