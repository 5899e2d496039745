"""DELETE /v1/participants/{id}/state/tiers/{key}?program_id=: back to base (02 §4.9)."""

from aws_lambda_powertools.event_handler.api_gateway import Response

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import ProgramIdQuery, TierKeyPath
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/participants/<id>/state/tiers/<key>",
    status_code=204,
    summary="Remove a participant's level in a tier",
    description="Resets to base (rank 0) and cancels a pending expiry; succeeds when there is no level. Allowed "
    "on an archived tier [inferred]. 404 unknown participant, program or tier, or not enrolled; "
    "409 participant_inactive; 422 program_not_active.",
    tags=["Participant state"],
)
def remove_participant_tier(id: ResourceId, key: TierKeyPath, program_id: ProgramIdQuery) -> None:
    tiers.remove_participant_tier(endpoint.caller(), str(id), str(program_id), key)
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
