"""GET /v1/groups/{id}/members: list a group's members."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.groups import MemberResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/groups/<id>/members",
    summary="List group members",
    description="Former (LEFT) members only with `include_former=true`.",
    tags=["Groups"],
)
def list_members(
    id: ResourceId, limit: Limit = 50, cursor: Cursor = None, include_former: Annotated[bool, Query()] = False
) -> ListResponse[MemberResponse]:
    page = groups.list_members(endpoint.caller(), str(id), limit=limit, cursor=cursor, include_former=include_former)
    return ListResponse.of(page, [MemberResponse.of(m) for m in page.items])


handler = endpoint.handler
