"""DELETE /v1/groups/{id}: archive a group (permanent)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.groups import GroupResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/groups/<id>",
    summary="Archive a group",
    description="Answers the archived group; archiving again answers it unchanged. "
    "Members, state and balances are kept.",
    tags=["Groups"],
)
def archive_group(id: ResourceId) -> GroupResponse:
    return GroupResponse.of(groups.archive_group(endpoint.caller(), str(id)))


handler = endpoint.handler
