"""POST /v1/groups: create a group with its first members."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.groups import GroupCreate, GroupResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/groups",
    status_code=201,
    summary="Create a group",
    description="At least one member and at least one ADMIN (else 400); unknown participants are 404.",
    tags=["Groups"],
)
def create_group(body: GroupCreate) -> GroupResponse:
    on_behalf_of = str(body.on_behalf_of_participant_id) if body.on_behalf_of_participant_id else None
    members = [m.new_member() for m in body.members]
    group = groups.create_group(endpoint.caller(), name=body.name, members=members, on_behalf_of=on_behalf_of)
    return GroupResponse.of(group)


handler = endpoint.handler
