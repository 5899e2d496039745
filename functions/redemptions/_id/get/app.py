"""GET /v1/redemptions/{id}: one redemption, with its reversal state."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.redemptions import RedemptionResponse
from scrip.services import redemptions

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/redemptions/<id>",
    summary="Get a redemption",
    description="Either kind, with `reversed_amount` (the headroom left for a partial reversal is `amount - "
    "reversed_amount`). Unknown id: 404.",
    tags=["Redemptions"],
    responses=documented({200: "The redemption"}, {404: "`not_found`: unknown redemption"}),
)
def get_redemption(id: ResourceId) -> RedemptionResponse:
    return RedemptionResponse.of(redemptions.get_redemption(endpoint.caller(), str(id)))


handler = endpoint.handler
