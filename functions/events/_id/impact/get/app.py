"""GET /v1/events/{id}/impact: what an event changed."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.events import BalanceImpact, EventDetail, ImpactResponse
from scrip.api.schemas.ledger import JournalEntryResponse
from scrip.domain import amounts
from scrip.domain.events import plain_numbers
from scrip.services import events

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/events/<id>/impact",
    summary="Get an event's impact",
    description="The event, its rule evaluations, the journal entries it created, the state changes it made (each "
    "with its rule), and the net balance change per (entity, asset, bucket), zero rows omitted.",
    tags=["Events"],
)
def event_impact(id: ResourceId) -> ImpactResponse:
    found = events.impact(endpoint.caller(), str(id))
    detail = EventDetail.of_detail(found.event, include_skipped=True)
    return ImpactResponse(
        **detail.model_dump(),
        journal_entries=[JournalEntryResponse.of(e) for e in found.journal_entries],
        state_changes=[plain_numbers(vars(c)) for c in found.event.state_changes],
        balance_impact=[
            BalanceImpact(
                entity_type=row["entity_type"],
                entity_id=row["entity_id"],
                asset_symbol=row["asset_symbol"],
                bucket=row["bucket"],
                amount=amounts.format_amount(row["amount"], row["scale"]),
            )
            for row in found.balance_impact
        ],
    )


handler = endpoint.handler
