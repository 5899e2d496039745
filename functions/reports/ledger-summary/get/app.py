"""GET /v1/reports/ledger-summary: per-asset totals, all time and over a period (05 §4.1)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.reports import ledger_summary_row, report_responses
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, Rfc3339
from scrip.api.schemas.reports import LIABILITY_TEXT, LedgerSummaryResponse
from scrip.services import reports

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/reports/ledger-summary",
    summary="Ledger summary per asset",
    description="One row per asset with holder activity, ordered by asset id. All-time totals always; with both "
    "`from` and `to` (inclusive; one without the other is 400) the period fields too, whose identity holds "
    f"exactly. {LIABILITY_TEXT}",
    tags=["Reports"],
    responses=report_responses("A page of per-asset totals"),
)
def ledger_summary(
    program_id: Annotated[UUID | None, Query(description="Only value attributed to this program")] = None,
    from_: Annotated[Rfc3339 | None, Query(alias="from", description="Period start (inclusive); with `to`")] = None,
    to: Annotated[Rfc3339 | None, Query(description="Period end (inclusive); with `from`")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LedgerSummaryResponse:
    period = reports.period_of(from_, to, required=False)
    page = reports.ledger_summary(
        endpoint.caller(),
        program_id=str(program_id) if program_id else None,
        period=period,
        limit=limit,
        cursor=cursor,
    )
    return LedgerSummaryResponse(
        data=[ledger_summary_row(line) for line in page.items],
        pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor),
    )


handler = endpoint.handler
