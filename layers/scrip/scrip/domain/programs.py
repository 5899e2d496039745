"""Programs (01-platform §6): the entity and the rules of its lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain.errors import ProgramNotActive, ValidationFailed
from scrip.domain.ledger import (
    Account,
    EntityType,
    SystemAccount,
    group_account,
    participant_account,
    system_account,
)


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
    # Whether a LEDGER_ENTITY target names a participant or a group (decision 17): resolved
    # once when the target is set, so a redemption needs no lookup to post to it. Not rendered.
    redemption_target_entity_type: EntityType | None = None

    def require_active(self) -> None:
        if self.status is not ProgramStatus.ACTIVE:
            raise ProgramNotActive(self.id, self.status.value)

    def redemption_target_account(self) -> Account:
        """The account a redemption through this program credits (05 §2.1, §2.4).

        A group target is credited in this program's balance of the group (02 §3.6.10).
        """
        if self.redemption_target_type is RedemptionTargetType.SYSTEM_BREAKAGE:
            return system_account(SystemAccount.SYSTEM_BREAKAGE)
        if self.redemption_target_type is RedemptionTargetType.LEDGER_ENTITY:
            assert self.redemption_target_entity_id is not None
            if self.redemption_target_entity_type is EntityType.GROUP:
                return group_account(self.redemption_target_entity_id, self.id)
            return participant_account(self.redemption_target_entity_id)
        return system_account(SystemAccount.SYSTEM_REDEMPTION)


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


def apply_update(
    program: Program, changes: dict[str, Any], now: datetime, *, target_entity_type: EntityType | None = None
) -> Program:
    """Merge a PATCH body (only the fields present) into ``program``.

    Every status may move to every other (§6.3); archiving stamps ``deleted_at`` and leaving
    ``ARCHIVED`` clears it. The redemption target rules of §6.5 are checked on the body as sent;
    ``target_entity_type`` is what the caller found ``redemption_target_entity_id`` to name.
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
            entity_id: str | None = str(changes["redemption_target_entity_id"])
            entity_type: EntityType | None = target_entity_type
        else:
            if entity_sent:
                raise ValidationFailed(
                    f"redemption_target_entity_id must not be sent with {target.value}",
                    field="redemption_target_entity_id",
                    reason="not_allowed",
                )
            entity_id, entity_type = None, None
        updated = replace(
            updated,
            redemption_target_type=target,
            redemption_target_entity_id=entity_id,
            redemption_target_entity_type=entity_type,
        )
    elif entity_sent:
        raise ValidationFailed(
            "redemption_target_entity_id may only be sent with redemption_target_type LEDGER_ENTITY",
            field="redemption_target_entity_id",
            reason="not_allowed",
        )

    if updated == program:
        return program
    return replace(updated, updated_at=now)
