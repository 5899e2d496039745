"""POST /v1/groups/{id}/members: add one member or a batch."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import MessageResponse, ResourceId
from scrip.api.schemas.groups import MembersAdd
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/groups/<id>/members",
    summary="Add group members",
    description="Either `participant_id` (+ `role`) or `members`. All or nothing: one participant who is already an "
    "active member refuses the request (409 conflict). Former members may rejoin.",
    tags=["Groups"],
)
def add_members(id: ResourceId, body: MembersAdd) -> MessageResponse:
    on_behalf_of = str(body.on_behalf_of_participant_id) if body.on_behalf_of_participant_id else None
    groups.add_members(endpoint.caller(), str(id), body.new_members(), on_behalf_of)
    return MessageResponse(message="Member(s) added to group")


handler = endpoint.handler
