"""POST /v1/programs/{id}/automations/{automationId}/refresh-subscriptions: re-evaluate the
participant filter (06 §1.7.9)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.subscriptions import RefreshQueued
from scrip.services import subscriptions

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/automations/<automationId>/refresh-subscriptions",
    status_code=202,
    summary="Refresh an automation's subscriptions",
    description="Queues a re-evaluation of `participant_filter` over the program's enrolled participants (a paged "
    "job, seconds for thousands): each active participant that matches and has no active subscription is "
    "subscribed with its first `next_trigger_at` (ATTRIBUTE_DATE from the attribute, INTERVAL from now, CRON in the "
    "automation's zone, THRESHOLD none); an active subscription's `next_trigger_at` is recomputed from the "
    "participant's current attributes; a subscription whose participant no longer matches (or is no longer active) "
    "becomes `completed` [inferred]. The job's end sets the automation's `last_evaluated_at`. A participant_state "
    "automation's creation queues the same refresh. The periodic refresh (every 15 min [inferred]) is not run. "
    "400 `validation_error` when the automation is not `active` or not `participant_state`; 404 unknown.",
    tags=["Automations"],
    responses=documented(
        {202: "The refresh is queued"},
        {
            400: "`validation_error`: not active, or not a participant_state automation",
            404: "`not_found`: unknown program or automation",
        },
    ),
)
def refresh_subscriptions(id: ResourceId, automationId: ResourceId) -> RefreshQueued:
    subscriptions.refresh(endpoint.caller(), str(id), str(automationId))
    return RefreshQueued(status="queued")


handler = endpoint.handler
