"""GET /v1/groups: list groups."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.api.schemas.groups import GroupResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/groups",
    summary="List groups",
    description="Archived groups only with `include_archived=true`.",
    tags=["Groups"],
)
def list_groups(
    limit: Limit = 50, cursor: Cursor = None, include_archived: Annotated[bool, Query()] = False
) -> ListResponse[GroupResponse]:
    page = groups.list_groups(endpoint.caller(), limit=limit, cursor=cursor, include_archived=include_archived)
    return ListResponse.of(page, [GroupResponse.of(g) for g in page.items])


handler = endpoint.handler
