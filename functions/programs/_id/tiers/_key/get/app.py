"""GET /v1/programs/{id}/tiers/{key}: one tier by key (02 §4.8.3)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import TierKeyPath, TierResponse
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/tiers/<key>",
    summary="Get a tier",
    description="404 when the program or the tier key is unknown.",
    tags=["Tiers"],
)
def get_tier(id: ResourceId, key: TierKeyPath) -> TierResponse:
    return TierResponse.of(tiers.get_tier(endpoint.caller(), str(id), key))


handler = endpoint.handler
