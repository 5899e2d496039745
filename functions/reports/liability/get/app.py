"""GET /v1/reports/liability: holders' balances at an instant, per asset × program (05 §4.3)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.reports import liability_row, report_responses
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, Rfc3339
from scrip.api.schemas.reports import LIABILITY_TEXT, LiabilityResponse
from scrip.domain.clock import to_rfc3339
from scrip.services import reports

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/reports/liability",
    summary="Liability at an instant",
    description=f"One row per asset × program (× bucket with `by_bucket=true`) with holder activity at or before "
    f"`as_of` (inclusive), ordered by asset then program (no program first) then bucket. {LIABILITY_TEXT} The same "
    "`as_of` gives the same answer whatever happens later.",
    tags=["Reports"],
    responses=report_responses("A page of liability rows"),
)
def liability(
    as_of: Annotated[Rfc3339 | None, Query(description="The instant (inclusive); default now")] = None,
    program_id: Annotated[UUID | None, Query()] = None,
    asset_id: Annotated[UUID | None, Query()] = None,
    by_bucket: Annotated[bool, Query(description="Split each row into AVAILABLE, HELD and DEFERRED")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LiabilityResponse:
    result = reports.liability(
        endpoint.caller(),
        as_of=as_of,
        asset_id=str(asset_id) if asset_id else None,
        program_id=str(program_id) if program_id else None,
        by_bucket=by_bucket,
        limit=limit,
        cursor=cursor,
    )
    page = result.page
    return LiabilityResponse(
        as_of=to_rfc3339(result.as_of),
        data=[liability_row(line) for line in page.items],
        pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor),
    )


handler = endpoint.handler
