"""GET /v1/logs: the organization's request logs, newest first by default (05 §4.8)."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, ListResponse, Query, Rfc3339
from scrip.api.schemas.logs import LogLimit, RequestLogResponse, StatusBound
from scrip.domain.request_logs import AuthType, LogFilters, SortBy, SortDir
from scrip.services import request_logs
from scrip.services.request_logs import MAX_EXAMINED_PER_PAGE, MAX_SORTED_WINDOW, LogQuery

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/logs",
    summary="List request logs",
    description="Every API request of the organization, kept 30 days (requests refused before their API key was "
    "known belong to no organization and are not listed). Logs appear seconds after their request: the log "
    "group delivers them. `from`/`to` default to the whole retention. A page examines at most "
    f"{MAX_EXAMINED_PER_PAGE} logs: with filters that rarely match, a page can hold fewer than `limit` items "
    "while `has_more` is true; follow the cursor. `sort_by=duration_ms` or `status_code` sorts the whole "
    f"from/to window in one go, so the window may hold at most {MAX_SORTED_WINDOW} requests: a larger one is "
    "`400 validation_error` (`details.field` `from`), narrow `from`/`to`. `request_id` (with or without "
    "`req_`) finds one request's log directly.",
    tags=["Reports"],
)
def list_logs(
    limit: LogLimit = 50,
    cursor: Cursor = None,
    method: Annotated[str | None, Query(min_length=1, max_length=10, description="e.g. GET (any case)")] = None,
    route_pattern: Annotated[
        str | None, Query(min_length=1, max_length=255, description="The route template, e.g. /v1/participants/{id}")
    ] = None,
    request_id: Annotated[str | None, Query(min_length=1, max_length=64, description="req_… or its UUID")] = None,
    auth_type: Annotated[AuthType | None, Query()] = None,
    status_min: StatusBound = None,
    status_max: StatusBound = None,
    from_: Annotated[Rfc3339 | None, Query(alias="from", description="created_at >= from")] = None,
    to: Annotated[Rfc3339 | None, Query(description="created_at <= to")] = None,
    sort_by: Annotated[SortBy, Query()] = SortBy.CREATED_AT,
    sort_dir: Annotated[SortDir, Query(description="Default desc (newest, slowest or highest first)")] = SortDir.DESC,
) -> ListResponse[RequestLogResponse]:
    query = LogQuery(
        filters=LogFilters(
            method=method.upper() if method else None,
            route_pattern=route_pattern,
            auth_type=auth_type.value if auth_type else None,
            status_min=status_min,
            status_max=status_max,
        ),
        request_id=request_id,
        created_from=from_,
        created_to=to,
        sort_by=sort_by,
        sort_dir=sort_dir,
    )
    page = request_logs.list_logs(endpoint.caller(), query, limit=limit, cursor=cursor)
    return ListResponse.of(page, [RequestLogResponse.of(log) for log in page.items])


handler = endpoint.handler
