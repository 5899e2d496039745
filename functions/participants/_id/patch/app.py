"""PATCH /v1/participants/{id}: update profile, external_id, tags and attributes."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.participants import ParticipantResponse, ParticipantUpdate
from scrip.services import participants

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/participants/<id>",
    summary="Update a participant",
    description="Profile fields overwrite (an empty string clears one), `tags` replace the set, `attributes` merge. "
    "A new `external_id` must be unused (409 conflict). `status` is ignored: use the status endpoint.",
    tags=["Participants"],
)
def update_participant(id: ResourceId, body: ParticipantUpdate) -> ParticipantResponse:
    detail = participants.update_participant(endpoint.caller(), str(id), body.model_dump(exclude_unset=True))
    return ParticipantResponse.of_detail(detail)


handler = endpoint.handler
