"""POST /v1/programs/{id}/automations/{automationId}/cancel: stop a running fan-out (06 §1.7.6)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import automation_runs

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/automations/<automationId>/cancel",
    summary="Cancel an automation's running fan-out",
    description="Stops a `pending` or `executing` run between pages: `execution_status` `failed`, "
    "`execution_error` `canceled`, `execution_completed_at` now. Participants already processed keep their events; "
    "the rest get none from this run. `status` stays as it was: the automation fires again at its next trigger. "
    "A run with no `pending`/`executing` status (including one whose last page finished just before) or a "
    "program-scoped automation (no fan-out) is 400 `validation_error` [inferred].",
    tags=["Automations"],
    responses=documented(
        {200: "The automation, with the run failed"},
        {400: "`validation_error`: nothing running to cancel", 404: "`not_found`: unknown program or automation"},
    ),
)
def cancel_automation(id: ResourceId, automationId: ResourceId) -> AutomationResponse:
    return AutomationResponse.of(automation_runs.cancel(endpoint.caller(), str(id), str(automationId)))


handler = endpoint.handler
