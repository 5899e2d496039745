"""POST /v1/rules/{id}/reset-budget?asset_id=: reset a rule's budget for one asset."""

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Query, ResourceId
from scrip.api.schemas.rules import BudgetResponse
from scrip.domain.amounts import canonical_decimal
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/rules/<id>/reset-budget",
    summary="Reset a rule budget",
    description="consumed back to 0. An INTERVAL budget's next period starts now; a CRON budget keeps its next fire "
    "time; a lifetime budget has no next_reset_at. 404 when the rule has no budget for asset_id.",
    tags=["Rules"],
)
def reset_budget(id: ResourceId, asset_id: Annotated[UUID, Query()]) -> BudgetResponse:
    budget = rules.reset_budget(endpoint.caller(), str(id), str(asset_id))
    return BudgetResponse(
        asset_id=budget["asset_id"],
        limit=canonical_decimal(Decimal(budget["limit"])),
        schedule_type=budget.get("schedule_type"),
        cron_expression=budget.get("cron_expression"),
        interval=budget.get("interval"),
        consumed=canonical_decimal(Decimal(budget["consumed"])),
        next_reset_at=budget.get("next_reset_at"),
    )


handler = endpoint.handler
