"""GET /v1/reports/liability-rollforward: how liability moved over a period, line by line (05 §4.4)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.reports import report_responses, rollforward_row
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, Rfc3339
from scrip.api.schemas.reports import LIABILITY_TEXT, RollforwardResponse
from scrip.domain.clock import to_rfc3339
from scrip.services import reports

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/reports/liability-rollforward",
    summary="Liability rollforward",
    description="One row per asset × program with holder activity at or before `to`, ordered by asset then program "
    "(no program first). `from` and `to` are required and inclusive; `opening_balance` and `closing_balance` "
    "equal `liability` just before `from` and at `to`, and the lines explain the difference exactly, or the "
    f"request fails with `unclassified_activity`. {LIABILITY_TEXT}",
    tags=["Reports"],
    responses=report_responses("A page of rollforward rows"),
)
def liability_rollforward(
    from_: Annotated[Rfc3339, Query(alias="from", description="Period start (inclusive)")],
    to: Annotated[Rfc3339, Query(description="Period end (inclusive)")],
    program_id: Annotated[UUID | None, Query()] = None,
    asset_id: Annotated[UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RollforwardResponse:
    period = reports.period_of(from_, to, required=True)
    assert period is not None
    page = reports.rollforward(
        endpoint.caller(),
        period=period,
        asset_id=str(asset_id) if asset_id else None,
        program_id=str(program_id) if program_id else None,
        limit=limit,
        cursor=cursor,
    )
    return RollforwardResponse(
        from_=to_rfc3339(period.start),
        to=to_rfc3339(period.end),
        data=[rollforward_row(line) for line in page.items],
        pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor),
    )


handler = endpoint.handler
