"""GET /v1/programs/{id}/automations/{automationId}/subscriptions: a participant_state
automation's subscriptions (06 §1.7.8)."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.subscriptions import SubscriptionResponse
from scrip.domain.subscriptions import SubscriptionStatus
from scrip.services import subscriptions

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/automations/<automationId>/subscriptions",
    summary="List an automation's subscriptions",
    description="Who is enrolled in a participant_state automation and when each fires next: ordered by "
    "`next_trigger_at` ascending, nulls last, then participant id [inferred]. `status` filters. A cron, one_time or "
    "immediate automation answers 200 with an empty list (§1.7.8). 404 unknown program or automation.",
    tags=["Automations"],
    responses=documented(
        {200: "A page of the automation's subscriptions"},
        {404: "`not_found`: unknown program or automation"},
    ),
)
def list_subscriptions(
    id: ResourceId,
    automationId: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[SubscriptionStatus | None, Query()] = None,
) -> ListResponse[SubscriptionResponse]:
    page = subscriptions.list_subscriptions(
        endpoint.caller(), str(id), str(automationId), limit=limit, cursor=cursor, status=status
    )
    return ListResponse.of(page, [SubscriptionResponse.of(s) for s in page.items])


handler = endpoint.handler
