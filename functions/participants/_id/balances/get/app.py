"""GET /v1/participants/{id}/balances: the participant's balance of each asset, per bucket."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.balances import balance_body
from scrip.api.schemas.common import ListResponse, Query, ResourceId
from scrip.api.schemas.ledger import ParticipantBalanceRow
from scrip.domain.pagination import Page
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/balances",
    summary="Get a participant's balances",
    description="One row per asset the participant has held; `available` may be negative after a clawback.",
    tags=["Participant balances"],
)
def participant_balances(
    id: ResourceId, asset_id: Annotated[UUID | None, Query()] = None
) -> ListResponse[ParticipantBalanceRow]:
    rows = ledger.participant_balances(endpoint.caller(), str(id), str(asset_id) if asset_id else None)
    data = [
        ParticipantBalanceRow(asset_id=r.asset.id, **balance_body(r.balance, r.asset.scale).model_dump()) for r in rows
    ]
    return ListResponse.of(Page(rows, None), data)


handler = endpoint.handler
