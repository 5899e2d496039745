"""GET /v1/programs/{id}/automations/{automationId}: one automation (06 §1.7.3)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import automations

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/automations/<automationId>",
    summary="Get an automation",
    description="With its live execution state; archived automations stay readable. An automation of another "
    "program is 404.",
    tags=["Automations"],
    responses=documented({200: "The automation"}, {404: "`not_found`: unknown program or automation"}),
)
def get_automation(id: ResourceId, automationId: ResourceId) -> AutomationResponse:
    return AutomationResponse.of(automations.get_automation(endpoint.caller(), str(id), str(automationId)))


handler = endpoint.handler
