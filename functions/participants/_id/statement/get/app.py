"""GET /v1/participants/{id}/statement: postings of one asset with running balances."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, Pagination, Query, ResourceId
from scrip.api.schemas.ledger import HistoryRow, OperationBucket, StatementResponse, StatementRow
from scrip.domain.amounts import format_amount
from scrip.domain.clock import to_rfc3339
from scrip.domain.ledger import Bucket
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/statement",
    summary="A participant's statement",
    description="Chronological postings of one asset in the window (`from`/`to` on ingestion time, inclusive) with "
    "the running balance after each; opening, running and closing balances include all earlier history.",
    tags=["Participant balances"],
)
def participant_statement(
    id: ResourceId,
    asset_id: Annotated[UUID, Query()],
    bucket: Annotated[OperationBucket | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StatementResponse:
    result = ledger.statement(
        endpoint.caller(),
        str(id),
        asset_id=str(asset_id),
        bucket=Bucket(bucket) if bucket else None,
        created_from=from_,
        created_to=to,
        limit=limit,
        cursor=cursor,
    )
    scale = result.asset.scale
    rows = [
        StatementRow(
            **HistoryRow.of(row.line).model_dump(),
            posting_id=row.line.posting_id,
            running_balance=format_amount(row.running_balance, scale),
        )
        for row in result.rows
    ]
    return StatementResponse(
        asset_id=result.asset.id,
        bucket=result.bucket,
        from_=to_rfc3339(from_) if from_ else None,
        to=to_rfc3339(to) if to else None,
        opening_balance=format_amount(result.opening_balance, scale),
        closing_balance=format_amount(result.closing_balance, scale),
        data=rows,
        pagination=Pagination(has_more=result.next_cursor is not None, next_cursor=result.next_cursor),
    )


handler = endpoint.handler
