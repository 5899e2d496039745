"""The ledger-history endpoints of participants and program wallets (04 §3.3, §3.5).

Both list an account's ledger lines, oldest first, with the same filters; each handler module
registers the route for one kind of account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Query

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, ResourceId
from scrip.api.schemas.ledger import HistoryRow
from scrip.domain.ledger import Bucket, EntityType, participant_account, wallet_account
from scrip.services import ledger

PATHS = {
    EntityType.PARTICIPANT: "/v1/participants/<id>/activity/history",
    EntityType.PROGRAM: "/v1/programs/<id>/history",
}
SUMMARIES = {
    EntityType.PARTICIPANT: "A participant's transaction history",
    EntityType.PROGRAM: "A program wallet's history",
}
TAGS = {EntityType.PARTICIPANT: ["Participant balances"], EntityType.PROGRAM: ["Programs"]}


def history(endpoint: HttpEndpoint, kind: EntityType) -> None:
    account_of = participant_account if kind is EntityType.PARTICIPANT else wallet_account

    @endpoint.router.get(
        PATHS[kind],
        summary=SUMMARIES[kind],
        description="One row per posting to the account, chronological. `from`/`to` bound ingestion time, "
        "`event_from`/`event_to` the originating event's time (rows without an event use ingestion time); inclusive.",
        tags=TAGS[kind],
    )
    def history_route(
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
            account_of(str(id)),
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
