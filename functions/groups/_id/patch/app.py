"""PATCH /v1/groups/{id}: rename a group."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.groups import GroupResponse, GroupUpdate
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/groups/<id>",
    summary="Update a group",
    description="An archived group is read-only (409 group_archived).",
    tags=["Groups"],
)
def update_group(id: ResourceId, body: GroupUpdate) -> GroupResponse:
    name = body.model_dump(exclude_unset=True).get("name")
    return GroupResponse.of(groups.update_group(endpoint.caller(), str(id), name=name))


handler = endpoint.handler
