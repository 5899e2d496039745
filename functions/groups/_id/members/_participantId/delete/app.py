"""DELETE /v1/groups/{id}/members/{participantId}: remove a member (it becomes LEFT)."""

from scrip.api.endpoint import HttpEndpoint, Response
from scrip.api.schemas.common import ResourceId
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/groups/<id>/members/<participantId>",
    status_code=204,
    summary="Remove a group member",
    description="The membership is kept as LEFT; the last ADMIN cannot leave (409 last_admin).",
    tags=["Groups"],
)
def remove_member(id: ResourceId, participantId: ResourceId) -> None:
    groups.remove_member(endpoint.caller(), str(id), str(participantId))
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
