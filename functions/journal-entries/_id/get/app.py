"""GET /v1/journal-entries/{id}: one journal entry with its postings."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.ledger import JournalEntryResponse
from scrip.services import ledger

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/journal-entries/<id>", summary="Get a journal entry", tags=["Ledger"])
def get_journal_entry(id: ResourceId) -> JournalEntryResponse:
    return JournalEntryResponse.of(ledger.get_journal_entry(endpoint.caller(), str(id)))


handler = endpoint.handler
