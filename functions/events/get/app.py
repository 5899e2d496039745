"""GET /v1/events: list events."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.api.schemas.events import EventResponse
from scrip.domain.events import EventStatus, EventType
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/events",
    summary="List events",
    description="`from`/`to` bound `created_at` (ingestion clock), `event_from`/`event_to` bound `event_timestamp`; "
    "`rule_id` keeps events in which that rule matched. Without rule_evaluations (see GET /v1/events/{id}).",
    tags=["Events"],
)
def list_events(
    limit: Limit = 50,
    cursor: Cursor = None,
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[EventStatus | None, Query()] = None,
    event_type: Annotated[EventType | None, Query()] = None,
    participant_id: Annotated[UUID | None, Query()] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
    rule_id: Annotated[UUID | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    event_from: Annotated[datetime | None, Query()] = None,
    event_to: Annotated[datetime | None, Query()] = None,
    sort_by: Annotated[Literal["created_at", "event_timestamp", "status"], Query()] = "created_at",
    sort_dir: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> ListResponse[EventResponse]:
    page = events.list_events(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        sort_by=sort_by,
        sort_dir=sort_dir,
        program_id=str(program_id) if program_id else None,
        status=status,
        event_type=event_type,
        participant_id=str(participant_id) if participant_id else None,
        external_id=external_id,
        rule_id=str(rule_id) if rule_id else None,
        created_from=from_,
        created_to=to,
        event_from=event_from,
        event_to=event_to,
    )
    return ListResponse.of(page, [EventResponse.of(e) for e in page.items])


handler = endpoint.handler
