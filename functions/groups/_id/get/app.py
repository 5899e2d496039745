"""GET /v1/groups/{id}: a group (archived ones too) with its balances."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.groups import GroupResponse
from scrip.domain.amounts import format_amount
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/groups/<id>", summary="Get a group", tags=["Groups"])
def get_group(id: ResourceId) -> GroupResponse:
    group, totals = groups.group_detail(endpoint.caller(), str(id))
    return GroupResponse.of(group, balances={asset.id: format_amount(total, asset.scale) for asset, total in totals})


handler = endpoint.handler
