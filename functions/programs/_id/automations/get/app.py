"""GET /v1/programs/{id}/automations: list the program's automations (06 §1.7.2)."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.automations import AutomationResponse
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, ResourceId
from scrip.domain.automations import AutomationSource, AutomationStatus, Scope, TriggerType
from scrip.services import automations

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/programs/<id>/automations",
    summary="List automations",
    description="Newest first (created_at, then id, descending). Filters combine with AND. Archived automations are "
    "left out unless `status=archived`. `search` is a case-insensitive substring match on the name. 404 unknown "
    "program.",
    tags=["Automations"],
    responses=documented({200: "A page of the program's automations"}, {404: "`not_found`: unknown program"}),
)
def list_automations(
    id: ResourceId,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[AutomationStatus | None, Query()] = None,
    trigger_type: Annotated[TriggerType | None, Query()] = None,
    scope: Annotated[Scope | None, Query()] = None,
    source: Annotated[AutomationSource | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
) -> ListResponse[AutomationResponse]:
    page = automations.list_automations(
        endpoint.caller(),
        str(id),
        limit=limit,
        cursor=cursor,
        status=status,
        trigger_type=trigger_type,
        scope=scope,
        source=source,
        search=search,
    )
    return ListResponse.of(page, [AutomationResponse.of(a) for a in page.items])


handler = endpoint.handler
