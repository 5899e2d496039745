"""POST /v1/participants/{id}/redemptions: an amount (raw) redemption."""

from scrip.api.created import created_or_replayed, first_answer
from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.redemptions import AmountRedemptionRequest, RedemptionResponse
from scrip.services import redemptions

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/participants/<id>/redemptions",
    summary="Redeem an amount",
    description="Debits the participant's AVAILABLE balance and credits the program's redemption target (captured "
    "on the redemption): one REDEMPTION journal entry; LOT assets are consumed FIFO, expired and immature lots "
    "skipped. Checked in this order (05 §2.3): an idempotency_key already used answers 200 with the original "
    "redemption (another payload: 409 idempotency_conflict); participant unknown 404; program unknown 404, not "
    "ACTIVE 422 program_not_active; participant not ACTIVE 409 participant_inactive (decision 10); asset unknown "
    "404, not linked 422 asset_not_linked, archived 422 asset_archived; amount not positive 400 validation_error, "
    "too many decimals 400 invalid_scale, above max_transaction_amount 422 max_transaction_amount_exceeded; "
    "AVAILABLE below amount 422 insufficient_balance. A participant not enrolled in the program is enrolled once "
    "the redemption commits [inferred]. More lots than one transaction holds: 422 too_many_lots.",
    tags=["Redemptions"],
    responses=documented(
        {201: "Redemption created", 200: "Idempotent replay"},
        {
            400: "`validation_error`; `invalid_scale`: more decimals than the asset's scale",
            404: "`not_found`: participant, program or asset",
            409: "`idempotency_conflict`; `participant_inactive`",
            422: "`program_not_active`, `asset_not_linked`, `asset_archived`, "
            "`max_transaction_amount_exceeded`, `insufficient_balance`, `too_many_lots`",
        },
    ),
)
def redeem_amount(id: ResourceId, body: AmountRedemptionRequest) -> tuple[RedemptionResponse, int]:
    answer = redemptions.redeem_amount(
        endpoint.caller(),
        str(id),
        program_id=str(body.program_id),
        asset_id=str(body.asset_id),
        amount=body.amount,
        description=body.description,
        idempotency_key=body.idempotency_key,
        request=body.model_dump(exclude={"idempotency_key"}),
        render=lambda redemption: first_answer(RedemptionResponse.of(redemption)),
    )
    return created_or_replayed(answer, RedemptionResponse)


handler = endpoint.handler
