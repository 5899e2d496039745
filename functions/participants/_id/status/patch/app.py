"""PATCH /v1/participants/{id}/status: change a participant's lifecycle status."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.participants import ParticipantResponse, ParticipantStatusChange
from scrip.services import participants

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/participants/<id>/status",
    summary="Change a participant's status",
    description="Any status may move to any other. SUSPENDED and CLOSED block financial operations "
    "(409 participant_inactive); state and metadata stay writable.",
    tags=["Participants"],
)
def change_status(id: ResourceId, body: ParticipantStatusChange) -> ParticipantResponse:
    return ParticipantResponse.of_detail(participants.change_status(endpoint.caller(), str(id), body.status))


handler = endpoint.handler
