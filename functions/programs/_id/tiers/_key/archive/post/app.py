"""POST /v1/programs/{id}/tiers/{key}/archive: archive a tier, one way (02 §4.8.5)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import TierKeyPath, TierResponse
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/tiers/<key>/archive",
    summary="Archive a tier",
    description="One-way: the tier stays readable, participants keep their state, no level of it is assigned "
    "any more (PUT is 409 tier_archived). 404 unknown program or tier; 409 tier_archived when already "
    "archived; 409 program_archived.",
    tags=["Tiers"],
)
def archive_tier(id: ResourceId, key: TierKeyPath) -> TierResponse:
    return TierResponse.of(tiers.archive_tier(endpoint.caller(), str(id), key))


handler = endpoint.handler
