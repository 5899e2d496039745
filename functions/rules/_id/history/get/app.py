"""GET /v1/rules/{id}/history: the rule's versions, newest first."""

from typing import Annotated, Literal

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, ListResponse, Query, ResourceId
from scrip.api.schemas.rules import RuleHistoryEntry
from scrip.services import rules

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/rules/<id>/history", summary="A rule's history", tags=["Rules"])
def rule_history(
    id: ResourceId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
    change_type: Annotated[Literal["created", "updated", "archived", "suspended", "activated"] | None, Query()] = None,
) -> ListResponse[RuleHistoryEntry]:
    page = rules.rule_history(endpoint.caller(), str(id), limit=limit, cursor=cursor, change_type=change_type)
    entries = [RuleHistoryEntry.model_validate(item) for item in page.items]
    return ListResponse.of(page, entries)


handler = endpoint.handler
