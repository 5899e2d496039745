"""GET /v1/assets: list the organization's assets."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.assets import AssetResponse
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.domain.assets import AssetStatus
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/assets",
    summary="List assets",
    description="Both statuses unless `status` is given; `search` matches symbol or name, case-insensitively.",
    tags=["Assets"],
)
def list_assets(
    limit: Limit = 50,
    cursor: Cursor = None,
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[AssetStatus | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
) -> ListResponse[AssetResponse]:
    page = assets.list_assets(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        program_id=str(program_id) if program_id else None,
        status=status,
        search=search,
    )
    return ListResponse.of(page, [AssetResponse.of(a) for a in page.items])


handler = endpoint.handler
