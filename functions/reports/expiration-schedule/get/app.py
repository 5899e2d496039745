"""GET /v1/reports/expiration-schedule: when outstanding LOT value will expire, per asset (04 §8.10)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.reports import NOT_FOUND, expiration_row
from scrip.api.responses import documented
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, Rfc3339
from scrip.api.schemas.reports import EXPIRATION_TEXT, ExpirationScheduleResponse
from scrip.domain.clock import to_rfc3339
from scrip.domain.expiration_schedule import MAX_BUCKETS, Granularity
from scrip.services import expiration_schedule, reports

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/reports/expiration-schedule",
    summary="Expiration schedule",
    description="One row per LOT-mode asset in scope (SIMPLE-mode value never expires), every asset of the "
    "organization (archived ones included: their lots still expire) or the one `asset_id` names, ordered by asset "
    f"id; an asset with nothing outstanding still has its row, all zeros [inferred]. {EXPIRATION_TEXT} "
    "With `program_id`, only assets linked to the program and "
    "only lots the program credited (a lot's program is its source journal entry's) are counted; an `asset_id` not "
    "linked to that program gives no row [inferred]. The schedule is now's: it is kept from the table's stream and "
    "may trail a credit or spend by a moment; lots created before the index was deployed are not counted "
    f"[inferred]. A window needing more than {MAX_BUCKETS} buckets at the granularity asked is refused "
    "(`validation_error`, reason `too_many_buckets`) [inferred].",
    tags=["Reports"],
    responses=documented(
        {200: "A page of expiration schedules, one per LOT asset"},
        {
            400: "`validation_error`: a malformed or missing `from`/`to`, `from` after `to`, an unknown "
            f"`granularity`, more than {MAX_BUCKETS} buckets (reason `too_many_buckets`), a last bucket ending "
            "after 9999-12-31 (reason `out_of_range`), a SIMPLE-mode `asset_id` (reason `not_lot_asset`), a "
            "malformed id, `limit` or `cursor`",
            404: NOT_FOUND,
        },
    ),
)
def expiration_schedule_report(
    from_: Annotated[Rfc3339, Query(alias="from", description="Window start (inclusive)")],
    to: Annotated[Rfc3339, Query(description="Window end (inclusive)")],
    granularity: Annotated[
        Granularity, Query(description="Bucket size: calendar days, Monday-started weeks or months, in UTC")
    ] = Granularity.MONTH,
    program_id: Annotated[UUID | None, Query()] = None,
    asset_id: Annotated[UUID | None, Query(description="One LOT-mode asset; a SIMPLE-mode asset is 400")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ExpirationScheduleResponse:
    period = reports.period_of(from_, to, required=True)
    assert period is not None
    page = expiration_schedule.expiration_schedule(
        endpoint.caller(),
        period=period,
        granularity=granularity,
        asset_id=str(asset_id) if asset_id else None,
        program_id=str(program_id) if program_id else None,
        limit=limit,
        cursor=cursor,
    )
    return ExpirationScheduleResponse(
        from_=to_rfc3339(period.start),
        to=to_rfc3339(period.end),
        granularity=granularity.value,
        data=[expiration_row(line) for line in page.items],
        pagination=Pagination(has_more=page.has_more, next_cursor=page.next_cursor),
    )


handler = endpoint.handler
