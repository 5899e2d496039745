"""GET /v1/rules: list rules (a program's in evaluation order)."""

from typing import Annotated, Literal
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query
from scrip.api.schemas.rules import RuleResponse
from scrip.domain.rules import RuleStatus
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/rules",
    summary="List rules",
    description="With `program_id`: that program's rules in evaluation order "
    "(`order`, ascending unless sort_dir=desc). "
    "Without: the organization's rules by creation time. Archived rules only with include_archived or status=ARCHIVED.",
    tags=["Rules"],
)
def list_rules(
    limit: Limit = 50,
    cursor: Cursor = None,
    program_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[RuleStatus | None, Query()] = None,
    include_archived: Annotated[bool, Query()] = False,
    search: Annotated[str | None, Query(max_length=255)] = None,
    sort_dir: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> ListResponse[RuleResponse]:
    page = rules.list_rules(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        program_id=str(program_id) if program_id else None,
        status=status,
        include_archived=include_archived,
        search=search,
        sort_dir=sort_dir,
    )
    return ListResponse.of(page, [RuleResponse.of(r) for r in page.items])


handler = endpoint.handler
