"""GET /v1/groups/{id}/balances: the group's total of each asset."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ListResponse, Query, ResourceId
from scrip.api.schemas.ledger import GroupBalanceRow
from scrip.domain.amounts import format_amount
from scrip.domain.pagination import Page
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/groups/<id>/balances",
    summary="Get a group's balances",
    description="Totals per asset (all buckets), over every program or the one given.",
    tags=["Group balances"],
)
def group_balances(id: ResourceId, program_id: Annotated[UUID | None, Query()] = None) -> ListResponse[GroupBalanceRow]:
    totals = ledger.group_totals(endpoint.caller(), str(id), str(program_id) if program_id else None)
    data = [GroupBalanceRow(asset_id=asset.id, balance=format_amount(total, asset.scale)) for asset, total in totals]
    return ListResponse.of(Page(totals, None), data)


handler = endpoint.handler
