"""GET /v1/assets/{id}: get an asset."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/assets/<id>", summary="Get an asset", tags=["Assets"])
def get_asset(id: ResourceId) -> AssetResponse:
    return AssetResponse.of(assets.get_asset(endpoint.caller(), str(id)))


handler = endpoint.handler
