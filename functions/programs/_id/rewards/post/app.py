"""POST /v1/programs/{id}/rewards: create a reward in the program's catalog."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.rewards import RewardCreate, RewardResponse
from scrip.services import rewards

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/rewards",
    status_code=201,
    summary="Create a reward",
    description="404 unknown program; 409 conflict for a name already used in the program; "
    "422 asset_not_linked; 400 invalid_scale for a unit_cost finer than the asset's scale.",
    tags=["Rewards"],
    responses=documented(
        {201: "Reward created"},
        {
            400: "`validation_error` (caps on AMOUNT_BASED included); `invalid_scale`: "
            "unit_cost finer than the asset's scale",
            404: "`not_found`: unknown program",
            409: "`conflict`: the name is already used in the program",
            422: "`asset_not_linked`",
        },
    ),
)
def create_reward(id: ResourceId, body: RewardCreate) -> RewardResponse:
    return RewardResponse.of(rewards.create_reward(endpoint.caller(), str(id), body.model_dump()))


handler = endpoint.handler
