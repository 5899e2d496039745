"""POST /v1/programs/{id}/automations: create an automation (06 §1.7.1)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationCreate, AutomationResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import automations

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/automations",
    status_code=201,
    summary="Create an automation",
    description="Starts active with source=api; scope=participants starts with execution_status idle (pending for "
    "an immediate trigger, whose one fan-out is queued). A cron's next_run_at is its first slot strictly after now.",
    tags=["Automations"],
    responses=documented(
        {201: "Automation created"},
        {
            400: "`validation_error`: an invalid trigger x scope combination (`details.reason` invalid_combination), "
            "a trigger setting missing or not applying to its type, participant_id or participant_filter out of "
            "place, a bad cron expression, time zone or schedule_config, or invalid CEL (with its position)",
            404: "`not_found`: unknown program",
            409: "`conflict`: the name is already used in the program",
            422: "`program_not_active`",
        },
    ),
)
def create_automation(id: ResourceId, body: AutomationCreate) -> AutomationResponse:
    return AutomationResponse.of(automations.create_automation(endpoint.caller(), str(id), body.fields()))


handler = endpoint.handler
