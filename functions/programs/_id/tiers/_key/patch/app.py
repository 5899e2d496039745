"""PATCH /v1/programs/{id}/tiers/{key}: partial update of a tier (02 §4.8.4)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import TierKeyPath, TierResponse, TierUpdate
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/programs/<id>/tiers/<key>",
    summary="Update a tier",
    description="Levels upsert by key (a new level needs a rank); `lifecycle: {}` clears the lifecycle. "
    "Thresholds apply to future evaluations only. 404 unknown program or tier; 409 conflict when a rank would "
    "be shared by two levels; 409 tier_archived; 409 program_archived.",
    tags=["Tiers"],
)
def update_tier(id: ResourceId, key: TierKeyPath, body: TierUpdate) -> TierResponse:
    changes = body.model_dump(exclude_unset=True)
    return TierResponse.of(tiers.update_tier(endpoint.caller(), str(id), key, changes))


handler = endpoint.handler
