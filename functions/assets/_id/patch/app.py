"""PATCH /v1/assets/{id}: rename, archive, or change max_transaction_amount."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetResponse, AssetUpdate
from scrip.api.schemas.common import ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.patch("/v1/assets/<id>", summary="Update an asset", tags=["Assets"])
def update_asset(id: ResourceId, body: AssetUpdate) -> AssetResponse:
    changes = body.model_dump(exclude_unset=True)
    return AssetResponse.of(assets.update_asset(endpoint.caller(), str(id), changes))


handler = endpoint.handler
