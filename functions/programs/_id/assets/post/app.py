"""POST /v1/programs/{id}/assets: link an existing asset to the program."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetLink, AssetResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/assets",
    summary="Link an asset to a program",
    description="Answers the asset. Already linked → 409 conflict; archived asset → 422 asset_archived.",
    tags=["Programs"],
)
def link_asset(id: ResourceId, body: AssetLink) -> AssetResponse:
    return AssetResponse.of(assets.link_asset(endpoint.caller(), str(id), str(body.asset_id)))


handler = endpoint.handler
