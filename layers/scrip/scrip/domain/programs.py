"""Programs (01-platform §6): the entity and the rules of its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain.errors import ProgramNotActive, ValidationFailed


class ProgramStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


class OnUnknownParticipant(StrEnum):
    CREATE = "CREATE"
    REJECT = "REJECT"


class RedemptionTargetType(StrEnum):
    SYSTEM_REDEMPTION = "SYSTEM_REDEMPTION"
    SYSTEM_BREAKAGE = "SYSTEM_BREAKAGE"
    LEDGER_ENTITY = "LEDGER_ENTITY"


@dataclass(frozen=True)
class Program:
    organization_id: str
    id: str
    name: str
    description: str | None
    key: str | None
    status: ProgramStatus
    on_unknown_participant: OnUnknownParticipant
    redemption_target_type: RedemptionTargetType
    redemption_target_entity_id: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int = 1

    def require_active(self) -> None:
        if self.status is not ProgramStatus.ACTIVE:
            raise ProgramNotActive(self.id, self.status.value)


def new_program(
    *,
    organization_id: str,
    program_id: str,
    name: str,
    description: str | None,
    key: str | None,
    on_unknown_participant: OnUnknownParticipant,
    now: datetime,
) -> Program:
    return Program(
        organization_id=organization_id,
        id=program_id,
        name=name,
        description=description,
        key=key,
        status=ProgramStatus.ACTIVE,
        on_unknown_participant=on_unknown_participant,
        redemption_target_type=RedemptionTargetType.SYSTEM_REDEMPTION,
        redemption_target_entity_id=None,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )


def apply_update(program: Program, changes: dict[str, Any], now: datetime) -> Program:
    """Merge a PATCH body (only the fields present) into ``program``.

    Every status may move to every other (§6.3); archiving stamps ``deleted_at`` and leaving
    ``ARCHIVED`` clears it. The redemption target rules of §6.5 are checked on the body as sent.
    """
    updated = program
    for field in ("name", "description", "on_unknown_participant"):
        if field in changes:
            updated = replace(updated, **{field: changes[field]})

    if "status" in changes:
        status = ProgramStatus(changes["status"])
        if status is not program.status:
            deleted_at = now if status is ProgramStatus.ARCHIVED else None
            updated = replace(updated, status=status, deleted_at=deleted_at)

    target_sent = "redemption_target_type" in changes
    entity_sent = changes.get("redemption_target_entity_id") is not None
    if target_sent:
        target = RedemptionTargetType(changes["redemption_target_type"])
        if target is RedemptionTargetType.LEDGER_ENTITY:
            if not entity_sent:
                raise ValidationFailed(
                    "redemption_target_entity_id is required when redemption_target_type is LEDGER_ENTITY",
                    field="redemption_target_entity_id",
                    reason="required",
                )
            entity_id = changes["redemption_target_entity_id"]
        else:
            if entity_sent:
                raise ValidationFailed(
                    f"redemption_target_entity_id must not be sent with {target.value}",
                    field="redemption_target_entity_id",
                    reason="not_allowed",
                )
            entity_id = None
        updated = replace(updated, redemption_target_type=target, redemption_target_entity_id=entity_id)
    elif entity_sent:
        raise ValidationFailed(
            "redemption_target_entity_id may only be sent with redemption_target_type LEDGER_ENTITY",
            field="redemption_target_entity_id",
            reason="not_allowed",
        )

    if updated == program:
        return program
    return replace(updated, updated_at=now)
