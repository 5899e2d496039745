"""GET /v1/programs/{id}/rewards: list the program's rewards."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.rewards import RewardResponse, SortBy, SortDir
from scrip.domain.rewards import RewardStatus
from scrip.services import rewards

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/rewards",
    summary="List rewards",
    description="Archived rewards are left out unless `include_archived=true` or `status=ARCHIVED`. "
    "`search` is a case-insensitive substring match on the name. 404 unknown program.",
    tags=["Rewards"],
    responses=documented({200: "A page of the program's rewards"}, {404: "`not_found`: unknown program"}),
)
def list_rewards(
    id: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[RewardStatus | None, Query()] = None,
    include_archived: Annotated[bool, Query()] = False,
    search: Annotated[str | None, Query(max_length=255)] = None,
    sort_by: Annotated[SortBy, Query()] = "created_at",
    sort_dir: Annotated[SortDir, Query()] = "desc",
) -> ListResponse[RewardResponse]:
    page = rewards.list_rewards(
        endpoint.caller(),
        str(id),
        limit=limit,
        cursor=cursor,
        status=status,
        include_archived=include_archived,
        search=search,
        sort_by=sort_by,
        sort_dir=sort_dir,
    )
    return ListResponse.of(page, [RewardResponse.of(r) for r in page.items])


handler = endpoint.handler
