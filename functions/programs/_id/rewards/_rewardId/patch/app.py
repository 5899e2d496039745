"""PATCH /v1/programs/{id}/rewards/{rewardId}: update a reward (merge semantics)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.rewards import RewardResponse, RewardUpdate
from scrip.services import rewards

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/programs/<id>/rewards/<rewardId>",
    summary="Update a reward",
    description="Only the fields sent change; null clears a nullable field. redemption_type and asset_id "
    "are immutable (400 validation_error). 404 unknown reward; 409 conflict for a name already used.",
    tags=["Rewards"],
    responses=documented(
        {200: "The updated reward"},
        {
            400: "`validation_error` (redemption_type and asset_id are immutable); `invalid_scale`",
            404: "`not_found`: unknown program or reward",
            409: "`conflict`: the name is already used in the program",
        },
    ),
)
def update_reward(id: ResourceId, rewardId: ResourceId, body: RewardUpdate) -> RewardResponse:
    changes = body.model_dump(exclude_unset=True)
    return RewardResponse.of(rewards.update_reward(endpoint.caller(), str(id), str(rewardId), changes))


handler = endpoint.handler
