"""POST /v1/events/{id}/retry: requeue a FAILED event."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.events import RetryResponse
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/events/<id>/retry",
    summary="Retry a failed event",
    description="Only a FAILED event (else 409 conflict): a fresh set of 5 attempts, evaluated against the rules "
    "as they are now.",
    tags=["Events"],
)
def retry_event(id: ResourceId) -> RetryResponse:
    outcome = events.retry_event(endpoint.caller(), str(id))
    return RetryResponse(
        event_id=outcome.event.id,
        message="Event queued for retry",
        previous_error=outcome.previous_error,
        previous_status="FAILED",
        status=outcome.event.status.value,
    )


handler = endpoint.handler
