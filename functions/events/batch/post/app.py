"""POST /v1/events/batch: ingest 1-100 events, each accepted or refused on its own."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.events import BatchResponse, BatchResult, EventBatch, IngestedEvent, parse_batch_item
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/events/batch",
    status_code=202,
    summary="Ingest a batch of events",
    description="1-100 events. Each item is validated and stored independently: a refused item (shape, or "
    "`idempotency_conflict`) is `error` and never affects the others. A key repeated inside the batch is a replay "
    "of its first occurrence [inferred].",
    tags=["Events"],
)
def ingest_batch(body: EventBatch) -> BatchResponse:
    results = events.ingest_batch(endpoint.caller(), [parse_batch_item(raw) for raw in body.events])
    rows = [
        BatchResult(index=r.index, status="accepted", event=IngestedEvent.of(r.event))
        if r.event is not None
        else BatchResult(index=r.index, status="error", error=r.error)
        for r in results
    ]
    accepted = sum(1 for r in rows if r.status == "accepted")
    return BatchResponse(total=len(rows), success_count=accepted, error_count=len(rows) - accepted, results=rows)


handler = endpoint.handler
