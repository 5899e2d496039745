"""GET /v1/journal-entries/verify: walk hash chains, report the first break (beyond Scrip)."""

from typing import Annotated
from uuid import UUID

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, Query
from scrip.api.schemas.journal_audit import VERIFY_DESCRIPTION, JournalVerificationResponse
from scrip.services import journal_audit

endpoint = HttpEndpoint()


def _text(value: UUID | None) -> str | None:
    return str(value) if value else None


@endpoint.router.get(
    "/v1/journal-entries/verify",
    summary="Verify the journal's hash chains",
    description=VERIFY_DESCRIPTION,
    tags=["Ledger"],
)
def verify_journal(
    limit: Limit = 50,
    cursor: Cursor = None,
    participant_id: Annotated[UUID | None, Query(description="One participant's chains")] = None,
    group_id: Annotated[UUID | None, Query(description="One group's chains (not with participant_id)")] = None,
    program_id: Annotated[
        UUID | None, Query(description="With group_id, that program's balances; alone, the program wallet's chains")
    ] = None,
    asset_id: Annotated[UUID | None, Query(description="One owner's chain of this asset (needs an owner)")] = None,
) -> JournalVerificationResponse:
    verification = journal_audit.verify_journal(
        endpoint.caller(),
        participant_id=_text(participant_id),
        group_id=_text(group_id),
        program_id=_text(program_id),
        asset_id=_text(asset_id),
        limit=limit,
        cursor=cursor,
    )
    return JournalVerificationResponse.of(verification)


handler = endpoint.handler
