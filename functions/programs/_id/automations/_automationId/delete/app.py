"""DELETE /v1/programs/{id}/automations/{automationId}: archive an automation (06 §1.7.5)."""

from aws_lambda_powertools.event_handler.api_gateway import Response

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.services import automations

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/programs/<id>/automations/<automationId>",
    status_code=204,
    summary="Archive an automation",
    description="Soft delete: status archived, terminal. It never fires again, leaves the default list and stays "
    "readable by id; a fan-out in progress finishes. Archiving an archived automation is 204 again.",
    tags=["Automations"],
    responses=documented({204: "Archived"}, {404: "`not_found`: unknown program or automation"}),
)
def archive_automation(id: ResourceId, automationId: ResourceId) -> None:
    automations.archive_automation(endpoint.caller(), str(id), str(automationId))
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
