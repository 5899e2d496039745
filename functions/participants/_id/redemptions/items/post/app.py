"""POST /v1/participants/{id}/redemptions/items: a catalog item redemption."""

from scrip.api.created import created_or_replayed, first_answer
from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.redemptions import ItemRedemptionRequest, RedemptionResponse
from scrip.services import redemptions

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/participants/<id>/redemptions/items",
    summary="Redeem a catalog item",
    description="Redeems a reward of the program's catalog: UNIT_BASED costs quantity x unit_cost (captured on the "
    "redemption), AMOUNT_BASED the amount sent (at least unit_cost). One transaction holds the REDEMPTION journal "
    "entry (participant AVAILABLE to the program's redemption target, LOT assets consumed FIFO), the redemption and, "
    "for UNIT_BASED, the reward's redeemed_count and the participant's count: concurrent redemptions never pass "
    "max_total or max_per_participant, and the reward shows OUT_OF_STOCK once redeemed_count reaches max_total. "
    "Checked in this order (05 §2.3, §2.6): an idempotency_key already used answers 200 with the original "
    "redemption (another payload: 409 idempotency_conflict); participant unknown 404; program unknown 404, not "
    "ACTIVE 422 program_not_active; participant not ACTIVE 409 participant_inactive (decision 10); reward unknown "
    "in this program 404 [inferred: before the asset, which is the reward's]; asset not linked 422 "
    "asset_not_linked, archived 422 asset_archived; reward OUT_OF_STOCK 422 reward_out_of_stock, DRAFT or ARCHIVED "
    "or outside available_from..available_until (inclusive) 422 reward_not_available; amount sent for UNIT_BASED, "
    "or quantity sent or amount missing for AMOUNT_BASED 400 validation_error; too many decimals 400 invalid_scale; "
    "amount below unit_cost 422 amount_below_minimum; cost above max_transaction_amount 422 "
    "max_transaction_amount_exceeded; more units than remain 422 inventory_exceeded; more than "
    "max_per_participant held 422 participant_limit_exceeded; AVAILABLE below the cost 422 insufficient_balance. "
    "A participant not enrolled in the program is enrolled once the redemption commits [inferred].",
    tags=["Redemptions"],
    responses=documented(
        {201: "Redemption created", 200: "Idempotent replay"},
        {
            400: "`validation_error`; `invalid_scale`: more decimals than the asset's scale",
            404: "`not_found`: participant, program or reward",
            409: "`idempotency_conflict`; `participant_inactive`",
            422: "`program_not_active`, `asset_not_linked`, `asset_archived`, "
            "`reward_out_of_stock`, `reward_not_available`, "
            "`amount_below_minimum`, `max_transaction_amount_exceeded`, `inventory_exceeded`, "
            "`participant_limit_exceeded`, `insufficient_balance`, `too_many_lots`",
        },
    ),
)
def redeem_item(id: ResourceId, body: ItemRedemptionRequest) -> tuple[RedemptionResponse, int]:
    answer = redemptions.redeem_item(
        endpoint.caller(),
        str(id),
        program_id=str(body.program_id),
        reward_id=str(body.reward_id),
        quantity=body.quantity,
        amount=body.amount,
        description=body.description,
        idempotency_key=body.idempotency_key,
        request=body.model_dump(exclude={"idempotency_key"}),
        render=lambda redemption: first_answer(RedemptionResponse.of(redemption)),
    )
    return created_or_replayed(answer, RedemptionResponse)


handler = endpoint.handler
