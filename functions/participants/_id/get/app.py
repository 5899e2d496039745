"""GET /v1/participants/{id}: a participant with its state and enrollments."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.participants import ParticipantResponse
from scrip.services import participants

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/participants/<id>", summary="Get a participant", tags=["Participants"])
def get_participant(id: ResourceId) -> ParticipantResponse:
    return ParticipantResponse.of_detail(participants.get_participant(endpoint.caller(), str(id)))


handler = endpoint.handler
