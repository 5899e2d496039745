"""PATCH /v1/rules/{id}: update, suspend, reactivate or archive a rule."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.rules import RuleResponse, RuleUpdate
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/rules/<id>",
    summary="Update a rule",
    description="At least one field. Archived rules are read-only (409 rule_archived); "
    "archiving frees the rule's order. "
    "Every change is a new immutable version in the rule's history.",
    tags=["Rules"],
)
def update_rule(id: ResourceId, body: RuleUpdate) -> RuleResponse:
    changes = body.model_dump(exclude_unset=True)
    if "actions" in changes:
        changes["actions"] = [a.stored() for a in body.actions]
    if "budgets" in changes:
        changes["budgets"] = [b.stored() for b in body.budgets]
    return RuleResponse.of(rules.update_rule(endpoint.caller(), str(id), changes))


handler = endpoint.handler
