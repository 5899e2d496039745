"""GET /v1/rules/{id}: get a rule."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.rules import RuleResponse
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/rules/<id>", summary="Get a rule", tags=["Rules"])
def get_rule(id: ResourceId) -> RuleResponse:
    return RuleResponse.of(rules.get_rule(endpoint.caller(), str(id)))


handler = endpoint.handler
