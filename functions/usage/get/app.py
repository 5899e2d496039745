"""GET /v1/usage: the organization's API requests per UTC day (05 §4.7)."""

from typing import Annotated

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Query, Rfc3339
from scrip.api.schemas.logs import UsageDayResponse, UsageResponse
from scrip.domain.clock import to_rfc3339
from scrip.services import request_logs

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/usage",
    summary="Daily API usage",
    description="Requests, errors (status >= 400) and mean latency per UTC day, from the request logs' counters "
    "(kept 400 days; a window spans at most 400 days, else 400). Counters trail requests by the log "
    "group's delivery, seconds in AWS. Requests refused before their API key was known (401) count for no "
    "organization.",
    tags=["Reports"],
)
def get_usage(
    from_: Annotated[Rfc3339 | None, Query(alias="from", description="Default: now − 30 days")] = None,
    to: Annotated[Rfc3339 | None, Query(description="Default: now; not before from")] = None,
) -> UsageResponse:
    usage = request_logs.usage(endpoint.caller(), from_, to)
    return UsageResponse(
        from_=to_rfc3339(usage.start),
        to=to_rfc3339(usage.end),
        data=[
            UsageDayResponse(
                date=day.date,
                request_count=day.request_count,
                error_count=day.error_count,
                avg_latency_ms=day.avg_latency_ms,
            )
            for day in usage.days
        ],
    )


handler = endpoint.handler
