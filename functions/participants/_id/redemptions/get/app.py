"""GET /v1/participants/{id}/redemptions: the participant's redemptions, newest first."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.redemptions import RedemptionResponse
from scrip.domain.redemptions import RedemptionStatus
from scrip.services import redemptions

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/redemptions",
    summary="List a participant's redemptions",
    description="Amount and catalog redemptions, newest first. `reward_catalog_item_id` filters on the resource's "
    "`reward_id` (the spec names the filter so); `from`/`to` bound `created_at`, both inclusive. Unknown "
    "participant: 404.",
    tags=["Redemptions"],
    responses=documented({200: "A page of the participant's redemptions"}, {404: "`not_found`: unknown participant"}),
)
def list_redemptions(
    id: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[RedemptionStatus | None, Query()] = None,
    reward_catalog_item_id: Annotated[UUID | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> ListResponse[RedemptionResponse]:
    page = redemptions.list_participant_redemptions(
        endpoint.caller(),
        str(id),
        limit=limit,
        cursor=cursor,
        status=status,
        reward_id=str(reward_catalog_item_id) if reward_catalog_item_id else None,
        created_from=from_,
        created_to=to,
    )
    return ListResponse.of(page, [RedemptionResponse.of(r) for r in page.items])


handler = endpoint.handler
