"""POST /v1/rules: create a rule."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.rules import RuleCreate, RuleResponse
from scrip.domain.rules import RuleStatus
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/rules",
    status_code=201,
    summary="Create a rule",
    description="The condition and every CEL field must compile; each action carries its type's fields; assets must "
    "be linked to the program; lot options need a LOT-mode asset. SET_TIER is refused until tiers exist. "
    "An order already taken by another non-archived rule of the program is 409 order_conflict.",
    tags=["Rules"],
)
def create_rule(body: RuleCreate) -> RuleResponse:
    rule = rules.create_rule(
        endpoint.caller(),
        program_id=str(body.program_id),
        name=body.name,
        description=body.description,
        condition=body.condition,
        actions=[a.stored() for a in body.actions],
        order=body.order,
        stop_after_match=body.stop_after_match,
        active_from=body.active_from,
        active_to=body.active_to,
        budgets=[b.stored() for b in body.budgets],
        status=RuleStatus(body.status),
    )
    return RuleResponse.of(rule)


handler = endpoint.handler
