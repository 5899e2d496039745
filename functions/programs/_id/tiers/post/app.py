"""POST /v1/programs/{id}/tiers: create a tier (02 §4.8.1)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import TierCreate, TierResponse
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/tiers",
    status_code=201,
    summary="Create a tier",
    description="400 validation_error for a bad key, no levels, duplicate level keys or ranks, min_level not "
    "a level, FIXED_YEAR without start_month/start_day, ACTIVITY_REFRESH without duration; 404 unknown "
    "program; 409 conflict for a tier key already used in the program; 409 program_archived [inferred code].",
    tags=["Tiers"],
)
def create_tier(id: ResourceId, body: TierCreate) -> TierResponse:
    return TierResponse.of(tiers.create_tier(endpoint.caller(), str(id), body.model_dump(exclude_unset=True)))


handler = endpoint.handler
