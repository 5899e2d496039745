"""GET /v1/programs: list programs."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.api.schemas.programs import ProgramResponse, SortBy, SortDir
from scrip.domain.programs import ProgramStatus
from scrip.services import programs

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs",
    summary="List programs",
    description="Archived programs are left out unless `include_archived=true` or `status` is given. "
    "`search` is a case-insensitive substring match on the name.",
    tags=["Programs"],
)
def list_programs(
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[ProgramStatus | None, Query()] = None,
    include_archived: Annotated[bool, Query()] = False,
    search: Annotated[str | None, Query(max_length=255)] = None,
    sort_by: Annotated[SortBy, Query()] = "created_at",
    sort_dir: Annotated[SortDir, Query()] = "desc",
) -> ListResponse[ProgramResponse]:
    page = programs.list_programs(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        status=status,
        include_archived=include_archived,
        search=search,
        sort_by=sort_by,
        sort_dir=sort_dir,
    )
    return ListResponse.of(page, [ProgramResponse.of(p) for p in page.items])


handler = endpoint.handler
