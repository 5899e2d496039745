"""GET /v1/webhook-endpoints/delivery-stats: delivery health of each endpoint."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.webhooks import StatsResponse, StatsRow
from scrip.domain import clock
from scrip.services import webhook_endpoints

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/webhook-endpoints/delivery-stats",
    summary="Webhook delivery stats",
    description="One row per non-archived endpoint: attempts in the last 24 h (success_rate = success / (success + "
    "failed attempts), null without attempts), deliveries still PENDING or SENDING, and whether deliveries are "
    "paused by the circuit breaker or a 429's Retry-After.",
    tags=["Webhooks"],
)
def delivery_stats() -> StatsResponse:
    now = clock.now()
    rows = []
    for stats in webhook_endpoints.delivery_stats(endpoint.caller()):
        reason, until = stats.blocked(now)
        e = stats.endpoint
        rows.append(
            StatsRow(
                endpoint_id=e.id,
                url=e.url,
                status=e.status,
                success_24h=stats.success_24h,
                fail_24h=stats.fail_24h,
                success_rate=stats.success_rate,
                degraded=stats.degraded(now),
                pending_count=stats.pending_count,
                oldest_pending_at=clock.to_rfc3339_or_none(stats.oldest_pending_at),
                last_attempt_at=clock.to_rfc3339_or_none(stats.last_attempt_at),
                circuit_broken_until=clock.to_rfc3339_or_none(
                    e.circuit_broken_until if e.circuit_broken_until and e.circuit_broken_until > now else None
                ),
                rate_limited_until=clock.to_rfc3339_or_none(
                    e.rate_limited_until if e.rate_limited_until and e.rate_limited_until > now else None
                ),
                blocked_reason=reason,
                blocked_until=clock.to_rfc3339_or_none(until),
            )
        )
    return StatsResponse(data=rows)


handler = endpoint.handler
