"""GET /v1/journal-entries: the organization's journal, newest first."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, Query, SignedDecimalString
from scrip.api.schemas.ledger import JournalEntryResponse
from scrip.domain.ledger import ActionType, Bucket, JournalFilters
from scrip.services import ledger

endpoint = HttpEndpoint()


def _text(value: UUID | None) -> str | None:
    return str(value) if value else None


@endpoint.router.get(
    "/v1/journal-entries",
    summary="List journal entries",
    description="Entries carry their postings (decision 16). Posting filters (participant, group, asset, bucket, "
    "amount bounds) match an entry when any posting matches. At most one of participant_id, group_id, external_id.",
    tags=["Ledger"],
)
def list_journal_entries(
    limit: Limit = 50,
    cursor: Cursor = None,
    program_id: Annotated[UUID | None, Query()] = None,
    event_id: Annotated[UUID | None, Query()] = None,
    rule_id: Annotated[UUID | None, Query()] = None,
    participant_id: Annotated[UUID | None, Query()] = None,
    group_id: Annotated[UUID | None, Query()] = None,
    external_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    asset_id: Annotated[UUID | None, Query()] = None,
    bucket: Annotated[Bucket | None, Query()] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    min_amount: Annotated[SignedDecimalString | None, Query()] = None,
    max_amount: Annotated[SignedDecimalString | None, Query()] = None,
    action_type: Annotated[ActionType | None, Query()] = None,
    reference_id: Annotated[str | None, Query(max_length=255)] = None,
) -> ListResponse[JournalEntryResponse]:
    filters = JournalFilters(
        program_id=_text(program_id),
        event_id=_text(event_id),
        rule_id=_text(rule_id),
        participant_id=_text(participant_id),
        group_id=_text(group_id),
        asset_id=_text(asset_id),
        bucket=bucket,
        action_type=action_type,
        reference_id=reference_id,
        created_from=from_,
        created_to=to,
    )
    page = ledger.list_journal_entries(
        endpoint.caller(),
        limit=limit,
        cursor=cursor,
        filters=filters,
        external_id=external_id,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    return ListResponse.of(page, [JournalEntryResponse.of(e) for e in page.items])


handler = endpoint.handler
