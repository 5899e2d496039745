"""PATCH /v1/programs/{id}/automations/{automationId}: update an automation (06 §1.7.4)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationResponse, AutomationUpdate
from scrip.api.schemas.common import ResourceId
from scrip.services import automations

endpoint = HttpEndpoint()


@endpoint.router.patch(
    "/v1/programs/<id>/automations/<automationId>",
    summary="Update an automation",
    description="Flat partial update: only the keys sent change. Schedule changes and resuming recompute "
    "next_run_at from now; pausing removes it.",
    tags=["Automations"],
    responses=documented(
        {200: "The updated automation"},
        {
            400: "`validation_error`: trigger_type, scope, schedule_type, participant_id, program_id or source sent; "
            "a setting that does not apply to the trigger type; status archived; trigger_at of a processed "
            "one_time; bad cron, time zone, schedule_config or CEL; the automation is archived (`details.reason` "
            "archived)",
            404: "`not_found`: unknown program or automation",
            409: "`conflict`: the name is already used in the program",
        },
    ),
)
def update_automation(id: ResourceId, automationId: ResourceId, body: AutomationUpdate) -> AutomationResponse:
    changed = automations.update_automation(endpoint.caller(), str(id), str(automationId), body.changes())
    return AutomationResponse.of(changed)


handler = endpoint.handler
