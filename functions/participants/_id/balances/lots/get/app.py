"""GET /v1/participants/{id}/balances/lots: the participant's lots of a LOT-mode asset."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.ledger import LotResponse
from scrip.domain.amounts import format_amount
from scrip.domain.clock import to_rfc3339
from scrip.domain.lots import LotStatus
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/balances/lots",
    summary="List a participant's lots",
    description="FIFO order (created_at, then id). `asset_id` is required and must be a LOT-mode asset (else 400). "
    "Lots without expiry never match expires_before/expires_after.",
    tags=["Participant balances"],
)
def list_lots(
    id: ResourceId,
    asset_id: Annotated[UUID, Query()],
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[LotStatus | None, Query()] = None,
    expires_before: Annotated[datetime | None, Query()] = None,
    expires_after: Annotated[datetime | None, Query()] = None,
    reference_id: Annotated[str | None, Query(max_length=255)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListResponse[LotResponse]:
    asset, page = ledger.participant_lots(
        endpoint.caller(),
        str(id),
        asset_id=str(asset_id),
        program_id=str(program_id) if program_id else None,
        status=status,
        expires_before=expires_before,
        expires_after=expires_after,
        reference_id=reference_id,
        limit=limit,
        cursor=cursor,
    )
    data = [
        LotResponse(
            id=lot.id,
            asset_id=lot.asset_id,
            amount=format_amount(lot.amount, asset.scale),
            remaining=format_amount(lot.remaining, asset.scale),
            status=lot.status.value,
            created_at=to_rfc3339(lot.created_at),
            expires_at=to_rfc3339(lot.expires_at) if lot.expires_at else None,
            matures_at=to_rfc3339(lot.matures_at) if lot.matures_at else None,
            reference_id=lot.reference_id,
        )
        for lot in page.items
    ]
    return ListResponse.of(page, data)


handler = endpoint.handler
