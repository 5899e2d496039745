"""GET /v1/programs/{id}/assets: list the assets linked to a program."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetResponse
from scrip.api.schemas.common import Cursor, Limit, ListResponse, ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/programs/<id>/assets", summary="List program assets", tags=["Programs"])
def list_program_assets(id: ResourceId, limit: Limit = 50, cursor: Cursor = None) -> ListResponse[AssetResponse]:
    page = assets.list_program_assets(endpoint.caller(), str(id), limit=limit, cursor=cursor)
    return ListResponse.of(page, [AssetResponse.of(a) for a in page.items])


handler = endpoint.handler
