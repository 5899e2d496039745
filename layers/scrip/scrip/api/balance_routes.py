"""The balance operation endpoints of participants and groups (04 §5.1-5.5).

Both owners take the same bodies; each handler module registers one of these routes for one
kind of owner, so each operation's code is written once. The services return results; the
response models in ``api.schemas.ledger`` render them.
"""

from __future__ import annotations

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.ledger import (
    AdjustRequest,
    AdjustResponse,
    BalanceOperationRequest,
    BalanceOperationResponse,
    ForfeitRequest,
    VoidHoldRequest,
)
from scrip.domain.idempotency import StoredResponse
from scrip.domain.ledger import ActionType, Bucket, EntityType
from scrip.domain.lots import LotFilters
from scrip.services import balances

COLLECTIONS = {EntityType.PARTICIPANT: "participants", EntityType.GROUP: "groups"}
TAGS = {EntityType.PARTICIPANT: ["Participant balances"], EntityType.GROUP: ["Group balances"]}
MESSAGES = {
    EntityType.PARTICIPANT: "Balance adjusted successfully",
    EntityType.GROUP: "Group balance adjusted successfully",
}


def adjust(endpoint: HttpEndpoint, kind: EntityType) -> None:
    @endpoint.router.post(
        f"/v1/{COLLECTIONS[kind]}/<id>/balances/adjust",
        summary=f"Credit or debit a {kind.value.lower()}'s balance",
        description="One journal entry. Not idempotent (the spec gives adjust no idempotency_key). "
        "DEBIT beyond the balance is 422 insufficient_balance unless allow_negative (AVAILABLE only).",
        tags=TAGS[kind],
    )
    def adjust_route(id: ResourceId, body: AdjustRequest) -> AdjustResponse:
        result = balances.adjust(
            endpoint.caller(),
            balances.BalanceOwner(kind, str(id)),
            program_id=str(body.program_id),
            asset_id=str(body.asset_id),
            type=body.type,
            amount=body.amount,
            description=body.description,
            bucket=Bucket(body.bucket),
            allow_negative=body.allow_negative,
        )
        return AdjustResponse.of(result, MESSAGES[kind])


def render_operation(result: balances.BalanceOperationResult) -> StoredResponse:
    # JSON types, as the idempotency record stores them: the first answer and its replays are
    # then both validated from the same body, and serialize byte for byte alike.
    return StoredResponse(200, BalanceOperationResponse.of(result).model_dump(mode="json"))


def _run(
    endpoint: HttpEndpoint,
    kind: EntityType,
    action: ActionType,
    id: str,
    body: BalanceOperationRequest | VoidHoldRequest,
) -> BalanceOperationResponse:
    answer = balances.idempotent_balance_operation(
        endpoint.caller(),
        balances.BalanceOwner(kind, id),
        action,
        idempotency_key=body.idempotency_key,
        request=body.model_dump(exclude_unset=True, exclude={"idempotency_key"}),
        render=render_operation,
        program_id=str(body.program_id),
        asset_id=str(body.asset_id),
        description=body.description,
        amount=body.amount,
        bucket=Bucket(body.bucket) if body.bucket else None,
        filters=LotFilters(
            lot_ids=frozenset(str(i) for i in body.lot_ids) if body.lot_ids is not None else None,
            earned_from=body.earned_from,
            earned_to=body.earned_to,
            reference_id=body.reference_id,
        ),
    )
    return BalanceOperationResponse.model_validate(answer.response.body)


def _operation(
    endpoint: HttpEndpoint, kind: EntityType, action: ActionType, path: str, summary: str, description: str
) -> None:
    route = endpoint.router.post(
        f"/v1/{COLLECTIONS[kind]}/<id>/balances/{path}", summary=summary, description=description, tags=TAGS[kind]
    )

    if action is ActionType.FORFEIT:

        @route
        def forfeit_route(id: ResourceId, body: ForfeitRequest) -> BalanceOperationResponse:
            return _run(endpoint, kind, action, str(id), body)

    elif action is ActionType.VOID_HOLD:

        @route
        def void_hold_route(id: ResourceId, body: VoidHoldRequest) -> BalanceOperationResponse:
            return _run(endpoint, kind, action, str(id), body)

    else:

        @route
        def operation_route(id: ResourceId, body: BalanceOperationRequest) -> BalanceOperationResponse:
            return _run(endpoint, kind, action, str(id), body)


def hold(endpoint: HttpEndpoint, kind: EntityType) -> None:
    _operation(
        endpoint,
        kind,
        ActionType.HOLD,
        "hold",
        f"Hold part of a {kind.value.lower()}'s balance",
        "AVAILABLE → HELD, all or nothing; `amount` omitted holds the whole AVAILABLE balance.",
    )


def release(endpoint: HttpEndpoint, kind: EntityType) -> None:
    _operation(
        endpoint,
        kind,
        ActionType.RELEASE,
        "release",
        f"Release a {kind.value.lower()}'s held balance",
        "HELD → AVAILABLE, up to `amount` (omitted: everything held); nothing held is 422 insufficient_balance.",
    )


def forfeit(endpoint: HttpEndpoint, kind: EntityType) -> None:
    _operation(
        endpoint,
        kind,
        ActionType.FORFEIT,
        "forfeit",
        f"Forfeit part of a {kind.value.lower()}'s balance",
        "AVAILABLE or HELD → SYSTEM_BREAKAGE, all or nothing. Allowed for SUSPENDED and CLOSED participants and "
        "for inactive programs.",
    )


def void_hold(endpoint: HttpEndpoint, kind: EntityType) -> None:
    _operation(
        endpoint,
        kind,
        ActionType.VOID_HOLD,
        "void-hold",
        f"Void a {kind.value.lower()}'s provisional credit",
        "LOT-mode only. Returns the provisional HELD lots credited with `reference_id` to their source (the program "
        "wallet or SYSTEM_ISSUANCE); lots held by a HOLD are never touched. No such lots: 422 no_matching_lots. "
        "Allowed for SUSPENDED and CLOSED participants. Path [inferred]: /balances/void-hold.",
    )
