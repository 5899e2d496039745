"""GET /v1/programs/{id}/tiers: every tier of the program (02 §4.8.2)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.tiers import TierList, TierResponse
from scrip.services import tiers

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/tiers",
    summary="List tiers",
    description="Every tier with its full configuration, archived ones included [inferred], by key; no "
    "pagination (a program has few tiers). 404 unknown program.",
    tags=["Tiers"],
)
def list_tiers(id: ResourceId) -> TierList:
    return TierList(data=[TierResponse.of(t) for t in tiers.list_tiers(endpoint.caller(), str(id))])


handler = endpoint.handler
