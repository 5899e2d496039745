"""GET /v1/participants: list participants, or look one up by external_id."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.api.schemas.participants import ParticipantSummary
from scrip.domain.participants import ParticipantStatus
from scrip.services import participants

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/participants",
    summary="List participants",
    description="`external_id` is an exact lookup (at most one item, same envelope). `search` is a case-insensitive "
    "substring match over external_id and the profile fields. `from`/`to` bound `created_at`, both inclusive.",
    tags=["Participants"],
)
def list_participants(
    limit: Limit = 50,
    cursor: Cursor = None,
    external_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[ParticipantStatus | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    sort_by: Annotated[Literal["created_at", "external_id", "status"], Query()] = "created_at",
    sort_dir: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> ListResponse[ParticipantSummary]:
    page = participants.list_participants(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        external_id=external_id,
        program_id=str(program_id) if program_id else None,
        status=status,
        search=search,
        created_from=from_,
        created_to=to,
        sort_by=sort_by,
        sort_dir=sort_dir,
    )
    return ListResponse.of(page, [ParticipantSummary.of(p) for p in page.items])


handler = endpoint.handler
