"""GET /v1/events/by-key: the event of a program's idempotency key (decision 15)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import Query
from scrip.api.schemas.events import EventDetail
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/events/by-key",
    summary="Get an event by idempotency key",
    description="The event ingested with `idempotency_key` in `program_id`, as GET /v1/events/{id} renders it "
    "(keys are scoped to the program and compared exactly). No such event → 404 not_found. The literal path "
    "takes precedence over /v1/events/{id}.",
    tags=["Events"],
    responses=documented({200: "The event"}, {404: "`not_found`: no event has this key in the program"}),
)
def get_event_by_key(
    program_id: Annotated[UUID, Query()],
    idempotency_key: Annotated[str, Query(min_length=1, max_length=255)],
    include_skipped: Annotated[bool, Query()] = False,
) -> EventDetail:
    event = events.get_event_by_key(endpoint.caller(), str(program_id), idempotency_key)
    return EventDetail.of_detail(event, include_skipped)


handler = endpoint.handler
