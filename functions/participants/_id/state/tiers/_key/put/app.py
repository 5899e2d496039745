"""PUT /v1/participants/{id}/state/tiers/{key}?program_id=: assign a level (02 §4.9)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import ParticipantTierResponse, ParticipantTierSet, ProgramIdQuery, TierKeyPath
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.put(
    "/v1/participants/<id>/state/tiers/<key>",
    summary="Set a participant's level in a tier",
    description="Manual override, up or down; replaces any pending expiry (or cancels it without `expires_at`). "
    "400 validation_error for a level the tier does not have (reason unknown_level) or an expires_at not in "
    "the future; 404 unknown participant, program or tier, or not enrolled; 409 participant_inactive; "
    "409 tier_archived; 422 program_not_active.",
    tags=["Participant state"],
)
def set_participant_tier(
    id: ResourceId, key: TierKeyPath, program_id: ProgramIdQuery, body: ParticipantTierSet
) -> ParticipantTierResponse:
    found = tiers.set_participant_tier(endpoint.caller(), str(id), str(program_id), key, body.level, body.expires_at)
    return ParticipantTierResponse.of(found)


handler = endpoint.handler
