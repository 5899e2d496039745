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
    group = groups.create_group(endpoint.caller(), name=body.name, members=[m.new_member() for m in body.members])
    return GroupResponse.of(group)


handler = endpoint.handler
