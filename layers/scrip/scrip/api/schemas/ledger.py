"""Ledger schemas (04): balance operations, balances, journal entries, statements, histories."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictBool, StringConstraints, model_validator

from scrip.api.schemas.balances import BalanceBody, balance_body
from scrip.api.schemas.common import ApiModel, DecimalString, Pagination, RequestModel
from scrip.domain.amounts import format_amount
from scrip.domain.clock import to_rfc3339
from scrip.domain.ledger import ActionType, Bucket, EntityType, JournalEntry
from scrip.storage.ledger import LedgerLine

if TYPE_CHECKING:
    # Annotations only: a handler that renders no balance operation does not import the service.
    from scrip.services.balances import AdjustmentResult, BalanceOperationResult, WalletResult

Description = Annotated[str, StringConstraints(min_length=1, max_length=500)]
ReferenceId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:@-]+$")]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
OperationBucket = Literal["AVAILABLE", "HELD"]


class AdjustRequest(RequestModel):
    program_id: UUID
    asset_id: UUID
    type: Literal["CREDIT", "DEBIT"]
    amount: DecimalString = Field(
        description="Positive; at most the asset's scale decimals; at most max_transaction_amount"
    )
    description: Description
    bucket: OperationBucket = "AVAILABLE"
    allow_negative: StrictBool = Field(
        default=False, description="DEBIT of AVAILABLE only: allow an overdraft (clawback)"
    )


class BalanceOperationRequest(RequestModel):
    """Hold, release and forfeit (04 §5.2). `lot_ids`, `earned_from`, `earned_to`, `reference_id` are LOT-only."""

    program_id: UUID
    asset_id: UUID
    description: Description
    amount: DecimalString | None = Field(default=None, description="Omitted: the whole relevant balance")
    bucket: OperationBucket | None = None
    earned_from: datetime | None = None
    earned_to: datetime | None = None
    lot_ids: list[UUID] | None = None
    reference_id: ReferenceId | None = None
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="Same key and payload replays the original response; another payload is 409"
    )

    @model_validator(mode="after")
    def _window(self) -> BalanceOperationRequest:
        if self.earned_from and self.earned_to and self.earned_to < self.earned_from:
            raise ValueError("earned_to must not be before earned_from")
        return self


class ForfeitRequest(BalanceOperationRequest):
    bucket: OperationBucket = Field(description="Required: AVAILABLE or HELD")  # type: ignore[assignment]


class VoidHoldRequest(RequestModel):
    """Void hold (04 §5.6): the whole provisional accrual of `reference_id`."""

    program_id: UUID
    asset_id: UUID
    description: Description
    reference_id: ReferenceId
    idempotency_key: IdempotencyKey | None = None

    # The shared operation code reads these; void hold takes none of them.
    amount: None = Field(default=None, exclude=True)
    bucket: None = Field(default=None, exclude=True)
    lot_ids: None = Field(default=None, exclude=True)
    earned_from: None = Field(default=None, exclude=True)
    earned_to: None = Field(default=None, exclude=True)


class LotResponse(ApiModel):
    id: str
    asset_id: str
    amount: str
    remaining: str
    status: str
    created_at: str
    expires_at: str | None
    matures_at: str | None
    reference_id: str | None


class AdjustResponse(ApiModel):
    type: Literal["CREDIT", "DEBIT"]
    amount: str
    asset_id: str
    program_id: str
    bucket: str
    journal_entry_id: str
    balance: BalanceBody
    message: str

    @classmethod
    def of(cls, result: AdjustmentResult, message: str) -> AdjustResponse:
        scale = result.asset.scale
        return cls(
            type="CREDIT" if result.operation is ActionType.CREDIT else "DEBIT",
            amount=format_amount(result.amount, scale),
            asset_id=result.asset.id,
            program_id=result.program.id,
            bucket=result.bucket.value,
            journal_entry_id=result.journal_entry_id,
            balance=balance_body(result.balance, scale),
            message=message,
        )


class LotProcessed(ApiModel):
    id: str
    amount: str


class BalanceOperationResponse(ApiModel):
    operation: ActionType
    amount_processed: str
    asset_id: str
    program_id: str
    reference_id: str | None = None
    journal_entry_id: str
    lots_processed: list[LotProcessed] | None = None
    balance: BalanceBody
    message: str

    @classmethod
    def of(cls, result: BalanceOperationResult) -> BalanceOperationResponse:
        scale = result.asset.scale
        processed = format_amount(result.amount_processed, scale)
        lots = result.lots_processed
        return cls(
            operation=result.operation,
            amount_processed=processed,
            asset_id=result.asset.id,
            program_id=result.program.id,
            reference_id=result.reference_id,
            journal_entry_id=result.journal_entry_id,
            lots_processed=None
            if lots is None
            else [LotProcessed(id=lot.lot_id, amount=format_amount(lot.amount, scale)) for lot in lots],
            balance=balance_body(result.balance, scale),
            message=f"Processed {processed}",
        )


class ParticipantBalanceRow(ApiModel):
    asset_id: str
    available: str
    held: str
    deferred: str


class GroupBalanceRow(ApiModel):
    asset_id: str
    balance: str


class ProgramBalanceRow(ApiModel):
    asset_id: str
    available: str
    held: str
    deferred: str
    issuance_policy: str


class WalletRequest(RequestModel):
    amount: DecimalString
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class WalletResponse(ApiModel):
    available: str
    journal_entry_id: str | None = Field(description="null for an UNLIMITED asset, where funding is a no-op")
    message: str

    @classmethod
    def of(cls, result: WalletResult, message: str) -> WalletResponse:
        return cls(
            available=format_amount(result.balance.available, result.asset.scale),
            journal_entry_id=result.journal_entry_id,
            message=message,
        )


class PostingResponse(ApiModel):
    id: str
    amount: str
    asset_id: str
    asset_symbol: str
    bucket: Bucket
    entity_type: EntityType
    participant_id: str | None = None
    group_id: str | None = None
    program_id: str | None = None
    system_account: str | None = None
    created_at: str


class JournalEntryResponse(ApiModel):
    id: str
    action_type: ActionType
    description: str | None
    program_id: str | None
    program_name: str | None
    event_id: str | None
    rule_id: str | None
    reference_id: str | None
    created_by_api_key_id: str | None
    created_at: str
    entry_hash: str
    postings: list[PostingResponse]

    @classmethod
    def of(cls, entry: JournalEntry) -> JournalEntryResponse:
        created_at = to_rfc3339(entry.created_at)
        return cls(
            id=entry.id,
            action_type=entry.action_type,
            description=entry.description,
            program_id=entry.program_id,
            program_name=entry.program_name,
            event_id=entry.event_id,
            rule_id=entry.rule_id,
            reference_id=entry.reference_id,
            created_by_api_key_id=entry.created_by_api_key_id,
            created_at=created_at,
            entry_hash=entry.entry_hash,
            postings=[
                PostingResponse(
                    id=p.id,
                    amount=format_amount(p.amount, entry.scale),
                    asset_id=p.asset_id,
                    asset_symbol=p.asset_symbol,
                    bucket=p.bucket,
                    entity_type=p.account.entity_type,
                    **p.account.identity(),
                    program_id=p.program_id,
                    created_at=created_at,
                )
                for p in entry.postings
            ],
        )


class HistoryRow(ApiModel):
    journal_entry_id: str
    action_type: ActionType
    amount: str
    asset_id: str
    bucket: Bucket
    description: str | None
    event_id: str | None
    event_timestamp: str | None
    created_by_api_key_id: str | None
    created_at: str

    @classmethod
    def of(cls, line: LedgerLine) -> HistoryRow:
        return cls(
            journal_entry_id=line.journal_entry_id,
            action_type=line.action_type,
            amount=format_amount(line.amount, line.scale),
            asset_id=line.asset_id,
            bucket=line.bucket,
            description=line.description,
            event_id=line.event_id,
            event_timestamp=to_rfc3339(line.event_timestamp) if line.event_timestamp else None,
            created_by_api_key_id=line.created_by_api_key_id,
            created_at=to_rfc3339(line.created_at),
        )


class StatementRow(HistoryRow):
    posting_id: str
    running_balance: str


class StatementResponse(ApiModel):
    """`from` and `to` echo the window; balances include all history before it (04 §3.4)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    asset_id: str
    bucket: Bucket | None
    from_: str | None = Field(default=None, alias="from")
    to: str | None
    opening_balance: str
    closing_balance: str
    data: list[StatementRow]
    pagination: Pagination
