"""GET /v1/redemptions/{id}/reversals: a redemption's reversals, oldest first."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import Cursor, Limit, ListResponse, ResourceId
from scrip.api.schemas.reversals import ReversalResponse
from scrip.services import reversals

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/redemptions/<id>/reversals",
    summary="List a redemption's reversals",
    description="Every reversal of the redemption, chronological (oldest first). Unknown redemption: 404.",
    tags=["Redemptions"],
    responses=documented({200: "A page of the redemption's reversals"}, {404: "`not_found`: unknown redemption"}),
)
def list_reversals(id: ResourceId, limit: Limit = 50, cursor: Cursor = None) -> ListResponse[ReversalResponse]:
    page = reversals.list_reversals(endpoint.caller(), str(id), limit=limit, cursor=cursor)
    return ListResponse.of(page, [ReversalResponse.of(r) for r in page.items])


handler = endpoint.handler
