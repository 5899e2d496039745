"""GET /v1/participants/{id}/state/tiers?program_id=: the participant's levels in a program's tiers."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import ParticipantTierList, ParticipantTierListItem, ProgramIdQuery
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/state/tiers",
    summary="List a participant's tiers",
    description="Only tiers where the participant holds a level [inferred]. 404 unknown participant or program, "
    "or a participant not enrolled in the program.",
    tags=["Participant state"],
)
def list_participant_tiers(id: ResourceId, program_id: ProgramIdQuery) -> ParticipantTierList:
    found = tiers.list_participant_tiers(endpoint.caller(), str(id), str(program_id))
    return ParticipantTierList(data=[ParticipantTierListItem.of(t) for t in found])


handler = endpoint.handler
