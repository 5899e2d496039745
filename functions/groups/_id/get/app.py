"""GET /v1/groups/{id}: a group (archived ones too) with its balances."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.groups import GroupResponse
from scrip.services import groups

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/groups/<id>", summary="Get a group", tags=["Groups"])
def get_group(id: ResourceId) -> GroupResponse:
    # Balances are the ledger's: until a group holds any, the map is empty.
    return GroupResponse.of(groups.get_group(endpoint.caller(), str(id)), balances={})


handler = endpoint.handler
