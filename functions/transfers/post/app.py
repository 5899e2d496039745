"""POST /v1/transfers: move value from one source to 1-100 recipients in one journal entry."""

from scrip.api.created import created_or_replayed, first_answer
from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.transfers import TransferRequestBody, TransferResponse
from scrip.services import transfers

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/transfers",
    status_code=201,
    summary="Transfer value",
    description="Zero-sum and all or nothing: one journal entry (the source's AVAILABLE debited by total_amount, each "
    "recipient's AVAILABLE credited); every balance and lot in one transaction when they fit one, else staged (see "
    "`recipients`) and answered once every leg applied. LOT assets: the source's lots are "
    "consumed oldest first and each recipient gets a fresh lot dated now, without the source's expiry. Checked in "
    "this order: idempotency record; amounts (400 validation_error, 400 invalid_scale); program, asset, source or "
    "recipient unknown (404 not_found; external ids never create participants); a recipient equal to the source "
    "(400 self_transfer); program not ACTIVE (422 program_not_active); asset not linked (422 asset_not_linked); a "
    "SUSPENDED or CLOSED participant (409 participant_inactive, decision 10) or an archived group (409 "
    "group_archived); a leg or the total above max_transaction_amount (422 max_transaction_amount_exceeded); the "
    "source's AVAILABLE below total_amount (422 insufficient_balance, no overdraft). 201 first, 200 on an idempotent "
    "replay, 409 idempotency_conflict for the same key with another payload. Emits transfer.completed, "
    "balance.debited for the source and balance.credited for each recipient.",
    tags=["Transfers"],
    responses=documented(
        {201: "Transferred", 200: "Idempotent replay: the original body"},
        {
            400: "`validation_error`; `invalid_scale`; `self_transfer`",
            404: "`not_found`: program, asset, source or a recipient",
            409: "`idempotency_conflict`; `participant_inactive`; `group_archived`; `conflict`: a staged transfer "
            "undone at its deadline before this request committed it, or recipients changing too often (retry)",
            422: "`program_not_active`, `asset_not_linked`, `max_transaction_amount_exceeded`, `insufficient_balance`",
        },
    ),
)
def create_transfer(body: TransferRequestBody) -> tuple[TransferResponse, int]:
    answer = transfers.create(
        endpoint.caller(),
        body.request(),
        idempotency_key=body.idempotency_key,
        fingerprint_fields=body.model_dump(exclude_none=True, exclude={"idempotency_key"}),
        render=lambda result: first_answer(TransferResponse.of(result)),
    )
    return created_or_replayed(answer, TransferResponse)


handler = endpoint.handler
