"""Transfer schemas (05 §3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel
from scrip.domain.amounts import format_amount

if TYPE_CHECKING:
    from scrip.services.transfers import PartyRef, TransferRequest, TransferResult

Description = Annotated[str, StringConstraints(min_length=1, max_length=500)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _exactly_one(values: dict[str, object], names: tuple[str, ...], what: str) -> None:
    given = [name for name in names if values.get(name) is not None]
    if len(given) != 1:
        raise ValueError(f"{what} needs exactly one of {', '.join(names)}; got {len(given)}")


class TransferRecipient(RequestModel):
    """Exactly one of `external_id`, `participant_id`, `group_id`. A recipient listed twice
    takes two credit postings [inferred, 05 §3.1 step 5]."""

    external_id: ExternalId | None = Field(default=None, description="Participant by external id; never auto-created")
    participant_id: UUID | None = None
    group_id: UUID | None = None
    amount: DecimalString = Field(
        description="Positive; at most the asset's scale decimals (else 400 invalid_scale); at most the asset's "
        "max_transaction_amount (else 422 max_transaction_amount_exceeded)"
    )

    @model_validator(mode="after")
    def _one_identifier(self) -> TransferRecipient:
        _exactly_one(self.__dict__, ("external_id", "participant_id", "group_id"), "a recipient")
        return self


class TransferRequestBody(RequestModel):
    """Exactly one of `source_external_id`, `source_participant_id`, `source_group_id` (else 400
    validation_error)."""

    program_id: UUID = Field(description="Program context; must be ACTIVE (else 422 program_not_active)")
    asset_id: UUID = Field(description="Linked to the program (else 422 asset_not_linked)")
    description: Description = Field(description="1-500 characters; the journal entry's description")
    recipients: list[TransferRecipient] = Field(
        min_length=1,
        max_length=100,
        description="1-100 recipients. A transfer that fits one DynamoDB transaction (at most 100 items: up to about "
        "47 recipients for a SIMPLE asset, 31 for a LOT asset) commits whole. A larger one is staged [inferred], and "
        "no observer ever sees it half-applied: it is first prepared invisibly (a progress item and a marker on each "
        "recipient's balance, amounts unchanged), then committed in one transaction (the whole journal entry, the "
        "source's debit and lots, the idempotency record, the progress item to COMMITTED), then its recipient legs "
        "are applied 30 per transaction, each exactly once. Any read of a recipient's balances, lots or ledger that "
        "meets a committed transfer's marker finishes it first, so after the commit every recipient shows its credit "
        "and before it nothing shows. The response comes once every leg applied; after a crash the table's stream "
        "finishes a committed transfer, and one that crashed before its commit is undone 2 minutes after it began "
        "(a retry with the same idempotency key then runs it anew). A source whose debit drains more than about 94 "
        "lots is 400 validation_error (reason exceeds_transaction_limit), before anything is written",
    )
    source_external_id: ExternalId | None = None
    source_participant_id: UUID | None = None
    source_group_id: UUID | None = None
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="Scoped to (program_id, transfers): same key and payload answers 200 with the original body and "
        "moves nothing; another payload is 409 idempotency_conflict",
    )

    @model_validator(mode="after")
    def _one_source(self) -> TransferRequestBody:
        _exactly_one(
            self.__dict__, ("source_external_id", "source_participant_id", "source_group_id"), "the transfer's source"
        )
        return self

    def request(self) -> TransferRequest:
        from scrip.services.transfers import RecipientRequest, TransferRequest

        return TransferRequest(
            program_id=str(self.program_id),
            asset_id=str(self.asset_id),
            description=self.description,
            source=_party(self.source_participant_id, self.source_external_id, self.source_group_id),
            recipients=[
                RecipientRequest(_party(r.participant_id, r.external_id, r.group_id), r.amount) for r in self.recipients
            ],
        )


def _party(participant_id: UUID | None, external_id: str | None, group_id: UUID | None) -> PartyRef:
    from scrip.services.transfers import PartyRef

    return PartyRef(
        participant_id=str(participant_id) if participant_id else None,
        external_id=external_id,
        group_id=str(group_id) if group_id else None,
    )


class TransferResponse(ApiModel):
    """The completed transfer (05 §3.1). No transfer id: the journal entry is its record (05 §3.3)."""

    asset_id: str
    journal_entry_id: str = Field(description="The transfer's one journal entry (action_type TRANSFER)")
    recipient_count: int = Field(description="Number of recipient legs, duplicates included")
    source_id: str = Field(description="The source's id: participant id, or group id for a group source [inferred]")
    total_amount: str = Field(description="Sum of the recipients' amounts, debited from the source's AVAILABLE")

    @classmethod
    def of(cls, result: TransferResult) -> TransferResponse:
        return cls(
            asset_id=result.asset.id,
            journal_entry_id=result.journal_entry_id,
            recipient_count=result.recipient_count,
            source_id=result.source_id,
            total_amount=format_amount(result.total_amount, result.asset.scale),
        )
