"""POST /v1/assets: create an asset, linked to its program."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetCreate, AssetResponse
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/assets",
    status_code=201,
    summary="Create an asset",
    description="Duplicate symbol (case-insensitive) → 409 conflict; unknown program → 404.",
    tags=["Assets"],
)
def create_asset(body: AssetCreate) -> AssetResponse:
    fields = body.model_dump()
    fields["program_id"] = str(body.program_id)
    return AssetResponse.of(assets.create_asset(endpoint.caller(), **fields))


handler = endpoint.handler
