"""Balance operations return results; the response models render them (04 §5), and a stored
rendering replays byte for byte. Stored rule actions read into typed actions (03 §5.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scrip.api.balance_routes import render_operation
from scrip.api.schemas.ledger import AdjustResponse, BalanceOperationResponse, WalletResponse
from scrip.domain.assets import Asset, AssetStatus, InventoryMode, IssuancePolicy
from scrip.domain.ledger import ActionType as LedgerAction
from scrip.domain.ledger import Balance, Bucket
from scrip.domain.programs import OnUnknownParticipant, Program, ProgramStatus, RedemptionTargetType
from scrip.domain.rules import ActionTarget, RuleAction, RuleActionType
from scrip.services import rule_actions
from scrip.services.balances import (
    AdjustmentResult,
    BalanceOperationResult,
    ProcessedLot,
    WalletResult,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ASSET = Asset(
    "org",
    "asset-1",
    "Points",
    "PTS",
    InventoryMode.LOT,
    IssuancePolicy.UNLIMITED,
    2,
    None,
    AssetStatus.ACTIVE,
    ("program-1",),
    NOW,
    NOW,
    None,
)
PROGRAM = Program(
    "org",
    "program-1",
    "Loyalty",
    None,
    None,
    ProgramStatus.ACTIVE,
    OnUnknownParticipant.CREATE,
    RedemptionTargetType.SYSTEM_BREAKAGE,
    None,
    NOW,
    NOW,
    None,
)


def _hold(lots: tuple[ProcessedLot, ...] | None) -> BalanceOperationResult:
    return BalanceOperationResult(
        operation=LedgerAction.HOLD,
        amount_processed=Decimal("7.5"),
        asset=ASSET,
        program=PROGRAM,
        reference_id="order-1",
        journal_entry_id="entry-1",
        balance=Balance(Decimal("2.5"), Decimal("7.5"), Decimal(0)),
        lots_processed=lots,
    )


def test_a_balance_operation_renders_amounts_at_the_asset_scale() -> None:
    body = BalanceOperationResponse.of(
        _hold((ProcessedLot("lot-1", Decimal(5)), ProcessedLot("lot-2", Decimal("2.5"))))
    )
    assert body.model_dump(mode="json") == {
        "operation": "HOLD",
        "amount_processed": "7.50",
        "asset_id": "asset-1",
        "program_id": "program-1",
        "reference_id": "order-1",
        "journal_entry_id": "entry-1",
        "lots_processed": [{"id": "lot-1", "amount": "5.00"}, {"id": "lot-2", "amount": "2.50"}],
        "balance": {"available": "2.50", "held": "7.50", "deferred": "0.00"},
        "message": "Processed 7.50",
    }


def test_a_simple_mode_operation_has_no_lots_processed() -> None:
    assert BalanceOperationResponse.of(_hold(None)).lots_processed is None


@pytest.mark.parametrize("lots", [None, (ProcessedLot("lot-1", Decimal("7.5")),)])
def test_a_replayed_rendering_answers_byte_for_byte_what_the_first_request_answered(
    lots: tuple[ProcessedLot, ...] | None,
) -> None:
    stored = render_operation(_hold(lots))
    # As storage.idempotency writes and reads the record.
    replayed = json.loads(json.dumps(stored.body, default=str, separators=(",", ":")), parse_float=Decimal)
    first = BalanceOperationResponse.model_validate(stored.body).model_dump_json()
    assert stored.status == 200
    assert BalanceOperationResponse.model_validate(replayed).model_dump_json() == first


def test_an_adjustment_and_a_wallet_change_render_with_their_messages() -> None:
    adjusted = AdjustmentResult("entry-2", LedgerAction.DEBIT, Decimal(3), Bucket.HELD, Balance(), ASSET, PROGRAM)
    assert AdjustResponse.of(adjusted, "Balance adjusted successfully").model_dump(mode="json") == {
        "type": "DEBIT",
        "amount": "3.00",
        "asset_id": "asset-1",
        "program_id": "program-1",
        "bucket": "HELD",
        "journal_entry_id": "entry-2",
        "balance": {"available": "0.00", "held": "0.00", "deferred": "0.00"},
        "message": "Balance adjusted successfully",
    }
    unlimited = WalletResult(None, Decimal(3), Balance(), ASSET, PROGRAM)
    assert WalletResponse.of(unlimited, "Program funded successfully").model_dump(mode="json") == {
        "available": "0.00",
        "journal_entry_id": None,
        "message": "Program funded successfully",
    }


def test_a_stored_action_reads_into_a_typed_action() -> None:
    stored = {
        "type": "CREDIT",
        "asset_id": "asset-1",
        "amount": "event.amount * 2",
        "bucket": "HELD",
        "reference_id": "event.order_id",
        "target": {"type": "PARTICIPANT", "external_id": "event.referrer_id"},
    }
    action = RuleAction.of(stored)
    assert action.type is RuleActionType.CREDIT
    assert (action.asset_id, action.amount, action.bucket) == ("asset-1", "event.amount * 2", "HELD")
    assert action.target == ActionTarget("PARTICIPANT", external_id="event.referrer_id")
    assert action.required("asset_id") == "asset-1"
    assert not action.allow_negative and action.key is None and action.payload is None
    assert RuleAction.of({"type": "TAG", "tag": "vip", "target": {}}).target is None


def test_every_action_type_has_a_runner() -> None:
    assert set(rule_actions.RUNNERS) == set(RuleActionType)
