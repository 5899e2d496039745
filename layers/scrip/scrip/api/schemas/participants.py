"""Participant schemas (02 §1)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from scrip.api.schemas.balances import balance_body
from scrip.api.schemas.common import ApiModel, RequestModel
from scrip.domain.clock import to_rfc3339
from scrip.domain.participants import EMAIL_PATTERN, Participant, ParticipantStatus
from scrip.domain.state import counter_text
from scrip.services.participants import ParticipantDetail

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Phone = Annotated[str, StringConstraints(max_length=50)]


def _email(value: str) -> str:
    if value and not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("not a valid e-mail address")
    return value


Email = Annotated[str, StringConstraints(max_length=255), AfterValidator(_email)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=255)]
AttributeValue = Annotated[str, StringConstraints(max_length=4096)]


class _Profile(RequestModel):
    email: Email | None = None
    phone: Phone | None = None
    first_name: Text255 | None = None
    last_name: Text255 | None = None
    display_name: Text255 | None = None


class ParticipantCreate(_Profile):
    """Creates the participant, or updates the one with this `external_id` (200 instead of 201)."""

    external_id: ExternalId
    program_id: UUID | None = Field(
        default=None, description="Enroll in this program (reactivates an inactive enrollment)"
    )
    status: ParticipantStatus | None = Field(default=None, description="ACTIVE on creation unless given")
    attributes: dict[str, AttributeValue] | None = Field(default=None, description="Merged into existing attributes")
    tags: list[Tag] | None = Field(
        default=None, description="Lower-cased; replaces the tag set of an existing participant"
    )


class ParticipantUpdate(_Profile):
    """Profile fields overwrite (an empty string clears), `tags` replace, `attributes` merge.

    `status` is ignored here: use `PATCH /v1/participants/{id}/status`.
    """

    external_id: ExternalId = None  # type: ignore[assignment]  # absent ≠ null: null is rejected
    attributes: dict[str, AttributeValue] | None = None
    tags: list[Tag] | None = None


class ParticipantStatusChange(RequestModel):
    status: ParticipantStatus


class ParticipantSummary(ApiModel):
    id: str
    external_id: str
    status: ParticipantStatus
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, participant: Participant) -> ParticipantSummary:
        return cls(
            id=participant.id,
            external_id=participant.external_id,
            status=participant.status,
            **participant.profile(),
            created_at=to_rfc3339(participant.created_at),
            updated_at=to_rfc3339(participant.updated_at),
        )


class ParticipantResponse(ParticipantSummary):
    attributes: dict[str, str]
    tags: list[str]
    counters: dict[str, str] = Field(description="Effective values: 0 once an auto-reset window has elapsed")
    balances: list[dict[str, Any]] = Field(description="Per-asset balances (the ledger fills them)")
    tiers: dict[str, Any]
    program_ids: list[str]

    @classmethod
    def of_detail(cls, detail: ParticipantDetail) -> ParticipantResponse:
        summary = ParticipantSummary.of(detail.participant)
        return cls(
            **summary.model_dump(),
            attributes=detail.attributes,
            tags=detail.tags,
            counters={k: counter_text(c.value) for k, c in detail.counters.items()},
            balances=[
                {"asset_id": asset.id, **balance_body(balance, asset.scale).model_dump()}
                for asset, balance in detail.balances
            ],
            tiers=detail.tiers,
            program_ids=detail.program_ids,
        )
