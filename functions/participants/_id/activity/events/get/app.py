"""GET /v1/participants/{id}/activity/events: a participant's events."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.api.schemas.events import EventResponse
from scrip.domain.events import EventStatus
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants/<id>/activity/events",
    summary="List a participant's events",
    description="Newest first. An event joins its participant's list once the participant is known: at ingestion "
    "when it names participant_id, else when it is processed.",
    tags=["Events"],
)
def participant_events(
    id: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[EventStatus | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    event_from: Annotated[datetime | None, Query()] = None,
    event_to: Annotated[datetime | None, Query()] = None,
) -> ListResponse[EventResponse]:
    page = events.list_events(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        participant_scope=str(id),
        program_id=str(program_id) if program_id else None,
        status=status,
        event_type=None,
        participant_id=None,
        external_id=None,
        rule_id=None,
        created_from=from_,
        created_to=to,
        event_from=event_from,
        event_to=event_to,
    )
    return ListResponse.of(page, [EventResponse.of(e) for e in page.items])


handler = endpoint.handler
