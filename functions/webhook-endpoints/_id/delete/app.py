"""DELETE /v1/webhook-endpoints/{id}: archive an endpoint."""

from scrip.api.endpoint import HttpEndpoint, Response
from scrip.api.schemas.common import ResourceId
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/webhook-endpoints/<id>",
    summary="Archive a webhook endpoint",
    description="204; the endpoint leaves the list and receives nothing; its pending deliveries end FAILED "
    '("endpoint archived"). Archiving again succeeds.',
    status_code=204,
    tags=["Webhooks"],
)
def archive_webhook_endpoint(id: ResourceId) -> None:
    webhook_endpoints.archive_endpoint(endpoint.caller(), str(id))
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
