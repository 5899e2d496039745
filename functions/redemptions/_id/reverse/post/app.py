"""POST /v1/redemptions/{id}/reverse: a full or partial reversal of a redemption."""

from scrip.api.created import created_or_replayed, first_answer
from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.reversals import ReversalRequest, ReversalResponse
from scrip.services import reversals

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/redemptions/<id>/reverse",
    summary="Reverse a redemption",
    description="Returns value from the redemption target captured on the redemption to the participant's "
    "AVAILABLE: one REDEMPTION_REVERSAL journal entry (program: the redemption's; description: the reason). "
    "Neither amount nor quantity reverses whatever remains. LOT assets: the lots the redemption consumed are "
    "given back last-consumed first, with their creation and expiry (one given back past its expiry is expired "
    "by the next lot job run). UNIT_BASED: the reward's redeemed_count and the participant's count are given "
    "back (an OUT_OF_STOCK reward is ACTIVE again). The redemption's reversed_amount, reversed_quantity and "
    "status (PARTIALLY_REVERSED, FULLY_REVERSED) follow. Participant, program and target state are not checked; "
    "a ledger-entity target may be left overdrawn. Errors: an idempotency_key already used answers 200 with the "
    "original reversal (another payload: 409 idempotency_conflict); unknown redemption 404; missing reason, "
    "wrong field for the redemption's kind, both fields, non-positive values 400 validation_error, too many "
    "decimals 400 invalid_scale; beyond what remains, or already FULLY_REVERSED, 422 reversal_exceeds_remaining; "
    "more lots to give back than one transaction holds (a redemption of 93 lots reversed whole) 422 too_many_lots: "
    "reverse it in parts.",
    tags=["Redemptions"],
    responses=documented(
        {201: "Reversal created", 200: "Idempotent replay"},
        {
            400: "`validation_error`; `invalid_scale`: more decimals than the asset's scale",
            404: "`not_found`: unknown redemption",
            409: "`idempotency_conflict`",
            422: "`reversal_exceeds_remaining`, `too_many_lots`",
        },
    ),
)
def reverse_redemption(id: ResourceId, body: ReversalRequest) -> tuple[ReversalResponse, int]:
    answer = reversals.reverse(
        endpoint.caller(),
        str(id),
        amount=body.amount,
        quantity=body.quantity,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
        request=body.model_dump(exclude={"idempotency_key"}),
        render=lambda reversal: first_answer(ReversalResponse.of(reversal)),
    )
    return created_or_replayed(answer, ReversalResponse)


handler = endpoint.handler
