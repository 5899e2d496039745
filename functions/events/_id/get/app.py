"""GET /v1/events/{id}: an event with its rule evaluations."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Query, ResourceId
from scrip.api.schemas.events import EventDetail
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/events/<id>",
    summary="Get an event",
    description="With `rule_evaluations`, each citing the rule version (`rule_history_id`) it used. Evaluations "
    "that failed (SKIPPED_ERROR) or timed out (SKIPPED_TIMEOUT) only with include_skipped=true.",
    tags=["Events"],
)
def get_event(id: ResourceId, include_skipped: Annotated[bool, Query()] = False) -> EventDetail:
    return EventDetail.of_detail(events.get_event(endpoint.caller(), str(id)), include_skipped)


handler = endpoint.handler
