"""Program use cases (01-platform §6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scrip.domain import clock, ids
from scrip.domain import programs as program_rules
from scrip.domain.errors import NotFound
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.programs import OnUnknownParticipant, Program, ProgramStatus
from scrip.services.common import retry_on_stale
from scrip.storage import groups as group_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store


def create_program(
    caller: Caller,
    *,
    name: str,
    description: str | None = None,
    key: str | None = None,
    on_unknown_participant: OnUnknownParticipant = OnUnknownParticipant.CREATE,
) -> Program:
    program = program_rules.new_program(
        organization_id=caller.organization_id,
        program_id=ids.new_id(),
        name=name,
        description=description,
        key=key,
        on_unknown_participant=on_unknown_participant,
        now=clock.now(),
    )
    program_store.create(program)
    return program


def get_program(caller: Caller, program_id: str) -> Program:
    return program_store.require(caller.organization_id, program_id)


def update_program(caller: Caller, program_id: str, changes: dict[str, Any]) -> Program:
    target_entity_type = None
    if changes.get("redemption_target_type") == program_rules.RedemptionTargetType.LEDGER_ENTITY:
        target_entity_type = _require_ledger_entity(caller, changes.get("redemption_target_entity_id"))

    def attempt() -> Program:
        current = program_store.require(caller.organization_id, program_id)
        updated = program_rules.apply_update(current, changes, clock.now(), target_entity_type=target_entity_type)
        if updated is current:
            return current
        updated = replace(updated, version=current.version + 1)
        program_store.save(current, updated)
        return updated

    return retry_on_stale(attempt, program_store.StaleProgram)


def _require_ledger_entity(caller: Caller, entity_id: object) -> EntityType | None:
    """What a redemption target names: an existing participant or group of the organization
    (decision 17), whatever its status; anything else is ``404 not_found`` (01 §6.5).

    Checked when the target is set only: participants and groups are never deleted (closed or
    archived at most), so the id keeps naming its holder for later redemptions.
    """
    if entity_id is None:
        return None  # the domain rule reports the missing id as a validation error
    org = caller.organization_id
    if participant_store.get(org, str(entity_id)) is not None:
        return EntityType.PARTICIPANT
    if group_store.get(org, str(entity_id)) is not None:
        return EntityType.GROUP
    raise NotFound(f"no participant or group {entity_id}", details={"field": "redemption_target_entity_id"})


def list_programs(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    status: ProgramStatus | None,
    include_archived: bool,
    search: str | None,
    sort_by: str,
    sort_dir: str,
) -> Page[Program]:
    if status is not None:
        statuses: list[ProgramStatus] | None = [status]
    elif include_archived:
        statuses = None
    else:
        statuses = [ProgramStatus.ACTIVE, ProgramStatus.SUSPENDED]
    scope = scope_signature("programs", caller.organization_id, status, include_archived, search, sort_by, sort_dir)
    after = decode_cursor(cursor, scope) if cursor else None
    programs, resume_after = program_store.list_page(
        caller.organization_id,
        sort_by=sort_by,
        descending=sort_dir == "desc",
        limit=limit,
        after=after,
        statuses=statuses,
        search=search,
    )
    return Page(programs, encode_cursor(resume_after, scope) if resume_after else None)
