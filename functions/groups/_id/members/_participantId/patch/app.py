"""PATCH /v1/groups/{id}/members/{participantId}: change a member's role."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.groups import RoleChange, RoleChangeResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/groups/<id>/members/<participantId>",
    summary="Change a member's role",
    description="The last ADMIN cannot be demoted (409 last_admin); a non-member or former member is 404.",
    tags=["Groups"],
)
def change_role(id: ResourceId, participantId: ResourceId, body: RoleChange) -> RoleChangeResponse:
    on_behalf_of = str(body.on_behalf_of_participant_id) if body.on_behalf_of_participant_id else None
    member = groups.change_role(endpoint.caller(), str(id), str(participantId), body.role, on_behalf_of)
    return RoleChangeResponse(message="Member role updated", participant_id=member.participant_id, role=member.role)


handler = endpoint.handler
