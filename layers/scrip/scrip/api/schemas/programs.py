"""Program schemas (01-platform §6)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from scrip.api.schemas.common import ApiModel, RequestModel
from scrip.domain.clock import to_rfc3339
from scrip.domain.programs import OnUnknownParticipant, Program, ProgramStatus, RedemptionTargetType

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=1000)]
ProgramKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class ProgramCreate(RequestModel):
    name: Name
    description: Description | None = None
    on_unknown_participant: OnUnknownParticipant = OnUnknownParticipant.CREATE
    key: ProgramKey | None = Field(
        default=None,
        description="[inferred] Optional human-readable identifier, unique per organization and "
        "immutable; a duplicate is 409 conflict.",
    )


class ProgramUpdate(RequestModel):
    """Merge semantics: only the fields sent change. `key` is immutable and ignored."""

    name: Name = None  # type: ignore[assignment]  # absent ≠ null: null is rejected
    description: Description | None = None
    on_unknown_participant: OnUnknownParticipant = None  # type: ignore[assignment]
    status: ProgramStatus = Field(
        default=None, description="Any status may move to any other; ARCHIVED sets deleted_at, leaving it clears it."
    )  # type: ignore[assignment]
    redemption_target_type: RedemptionTargetType = None  # type: ignore[assignment]
    redemption_target_entity_id: UUID | None = Field(
        default=None,
        description="Required with LEDGER_ENTITY, refused otherwise (400 validation_error). Names an existing "
        "participant or group of the organization, whatever its status (decision 17; unknown → 404 not_found); "
        "redeemed value is credited to its AVAILABLE balance, a group's in this program. Captured by each "
        "redemption when it is created.",
    )


class ProgramResponse(ApiModel):
    id: str
    name: str
    description: str | None
    key: str | None
    status: ProgramStatus
    on_unknown_participant: OnUnknownParticipant
    redemption_target_type: RedemptionTargetType
    redemption_target_entity_id: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present only when redemption_target_type is LEDGER_ENTITY (05 §2.1).",
    )
    created_at: str
    updated_at: str
    deleted_at: str | None

    @classmethod
    def of(cls, program: Program) -> ProgramResponse:
        return cls(
            id=program.id,
            name=program.name,
            description=program.description,
            key=program.key,
            status=program.status,
            on_unknown_participant=program.on_unknown_participant,
            redemption_target_type=program.redemption_target_type,
            redemption_target_entity_id=program.redemption_target_entity_id,
            created_at=to_rfc3339(program.created_at),
            updated_at=to_rfc3339(program.updated_at),
            deleted_at=to_rfc3339(program.deleted_at) if program.deleted_at else None,
        )


SortBy = Literal["created_at", "name"]
SortDir = Literal["asc", "desc"]
