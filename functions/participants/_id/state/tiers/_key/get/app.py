"""GET /v1/participants/{id}/state/tiers/{key}?program_id=: the participant's level in one tier."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import ParticipantTierResponse, ProgramIdQuery, TierKeyPath
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/state/tiers/<key>",
    summary="Get a participant's level in a tier",
    description="404 when the participant has no level in the tier, or is unknown or not enrolled.",
    tags=["Participant state"],
)
def get_participant_tier(id: ResourceId, key: TierKeyPath, program_id: ProgramIdQuery) -> ParticipantTierResponse:
    return ParticipantTierResponse.of(tiers.get_participant_tier(endpoint.caller(), str(id), str(program_id), key))


handler = endpoint.handler
