"""GET /v1/reports/program-activity: one row per program, to compare them (05 §4.2)."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.reports import program_activity_row, report_responses
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, Rfc3339
from scrip.api.schemas.reports import ProgramActivityResponse
from scrip.services import reports

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/reports/program-activity",
    summary="Activity per program",
    description="Programs with journal entries (within `from`/`to` when given, both inclusive, one without the "
    "other is 400) and, with `since`, whose latest entry is after `since` [inferred: activity means journal "
    "entries]; ordered by program id. `event_count`, `total_issued` and `total_redeemed` are period-scoped; "
    "the other fields are all time or current.",
    tags=["Reports"],
    responses=report_responses("A page of program rows", not_found=False),
)
def program_activity(
    since: Annotated[Rfc3339 | None, Query(description="Only programs with a journal entry after this instant")] = None,
    from_: Annotated[Rfc3339 | None, Query(alias="from", description="Period start (inclusive); with `to`")] = None,
    to: Annotated[Rfc3339 | None, Query(description="Period end (inclusive); with `from`")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ProgramActivityResponse:
    period = reports.period_of(from_, to, required=False)
    page = reports.program_activity(endpoint.caller(), since=since, period=period, limit=limit, cursor=cursor)
    return ProgramActivityResponse(
        data=[program_activity_row(line) for line in page.items],
        pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor),
    )


handler = endpoint.handler
