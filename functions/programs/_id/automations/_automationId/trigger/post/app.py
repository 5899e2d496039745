"""POST /v1/programs/{id}/automations/{automationId}/trigger: fire now (06 §1.7.7)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationResponse
from scrip.api.schemas.common import ResourceId
from scrip.services import automation_runs

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/automations/<automationId>/trigger",
    summary="Trigger an automation now",
    description="Fires outside the schedule. Only an `active` automation that is either participants-scoped with no "
    "run pending or executing (`idle`, `completed` and `failed` are not running), or a program-scoped cron; else 400 "
    '`validation_error` "Automation cannot be triggered (must be active and idle or cron+program)". A program cron '
    "gets `next_run_at` = now: the scheduler's next tick (within a minute) fires it, then its schedule resumes. A "
    "participants-scoped automation starts a fan-out run at once (`execution_status` `pending`, counters reset), "
    "whose events carry the trigger instant in their idempotency key [inferred]; a one_time's scheduled run and a "
    "cron's `next_run_at` are left as they were [inferred].",
    tags=["Automations"],
    responses=documented(
        {200: "The automation, as the trigger left it"},
        {400: "`validation_error`: not triggerable", 404: "`not_found`: unknown program or automation"},
    ),
)
def trigger_automation(id: ResourceId, automationId: ResourceId) -> AutomationResponse:
    return AutomationResponse.of(automation_runs.trigger(endpoint.caller(), str(id), str(automationId)))


handler = endpoint.handler
