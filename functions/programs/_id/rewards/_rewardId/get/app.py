"""GET /v1/programs/{id}/rewards/{rewardId}: get a reward with its current redeemed_count."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.rewards import RewardResponse
from scrip.services import rewards

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/rewards/<rewardId>",
    summary="Get a reward",
    description="404 when the reward does not exist or belongs to another program.",
    tags=["Rewards"],
    responses=documented(
        {200: "The reward"}, {404: "`not_found`: unknown program or reward, or a reward of another program"}
    ),
)
def get_reward(id: ResourceId, rewardId: ResourceId) -> RewardResponse:
    return RewardResponse.of(rewards.get_reward(endpoint.caller(), str(id), str(rewardId)))


handler = endpoint.handler
