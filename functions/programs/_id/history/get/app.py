"""GET /v1/programs/{id}/history: funds, burns and credit draws of the program wallet."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, ResourceId
from scrip.api.schemas.ledger import HistoryRow
from scrip.domain.ledger import Bucket, wallet_account
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/programs/<id>/history", summary="A program wallet's history", tags=["Programs"])
def program_history(
    id: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    asset_id: Annotated[UUID | None, Query()] = None,
    bucket: Annotated[Bucket | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    event_from: Annotated[datetime | None, Query()] = None,
    event_to: Annotated[datetime | None, Query()] = None,
) -> ListResponse[HistoryRow]:
    page = ledger.account_history(
        endpoint.caller(),
        wallet_account(str(id)),
        limit=limit,
        cursor=cursor,
        asset_id=str(asset_id) if asset_id else None,
        bucket=bucket,
        created_from=from_,
        created_to=to,
        event_from=event_from,
        event_to=event_to,
    )
    return ListResponse.of(page, [HistoryRow.of(line) for line in page.items])


handler = endpoint.handler
