"""POST /v1/events: ingest one event."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.events import EventIngest, IngestedEvent
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/events",
    status_code=202,
    summary="Ingest an event",
    description="Stored and answered 202 PENDING; the rules run asynchronously, from the table's stream. "
    "The id is derived from (program_id, idempotency_key) [inferred, 03 §1.3]: a replay with the same payload "
    "answers 202 with the stored event, another payload is 409 idempotency_conflict. Program existence and "
    "participant resolution are checked by the processor (03 §1.6): an unknown program fails the event. "
    "Processing moves the event from PENDING to COMPLETED in the same transaction as its effects, so PROCESSING "
    "is never stored. event_data is at most 32 KiB of JSON [inferred].",
    tags=["Events"],
)
def ingest_event(body: EventIngest) -> IngestedEvent:
    event, _ = events.ingest(endpoint.caller().organization_id, body.submission())
    return IngestedEvent.of(event)


handler = endpoint.handler
