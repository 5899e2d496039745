"""GET /v1/programs/{id}/balance: the program wallet of each linked PREFUNDED asset."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.balances import balance_body
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.ledger import ProgramBalanceRow
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/balance",
    summary="Get a program's wallet balances",
    description="UNLIMITED assets bypass the wallet and are not listed.",
    tags=["Programs"],
)
def program_balance(
    id: ResourceId, asset_id: Annotated[UUID | None, Query()] = None, limit: Limit = 50, cursor: Cursor = None
) -> ListResponse[ProgramBalanceRow]:
    page = ledger.program_wallets(
        endpoint.caller(), str(id), str(asset_id) if asset_id else None, limit=limit, cursor=cursor
    )
    data = [
        ProgramBalanceRow(
            asset_id=row.asset.id,
            issuance_policy=row.asset.issuance_policy.value,
            **balance_body(row.balance, row.asset.scale).model_dump(),
        )
        for row in page.items
    ]
    return ListResponse.of(page, data)


handler = endpoint.handler
