"""Automations API use cases (06 §1.7.1-1.7.5); execution is the scheduler's (§1.9)."""

from __future__ import annotations

import dataclasses
from typing import Any

from scrip.domain import automations as automation_rules
from scrip.domain import clock, ids
from scrip.domain.automations import Automation, AutomationSource, AutomationStatus, Scope, TriggerType
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.services import subscriptions
from scrip.services.common import retry_on_stale
from scrip.storage import automations as automation_store
from scrip.storage import programs as program_store
from scrip.storage import transactions


def create_automation(caller: Caller, program_id: str, fields: dict[str, Any]) -> Automation:
    org_id = caller.organization_id
    program_store.require(org_id, program_id).require_active()  # 404, then 422, before the body's rules
    now = clock.now()
    automation = automation_rules.new_automation(
        organization_id=org_id,
        program_id=program_id,
        automation_id=ids.new_id(),
        now=now,
        **fields,
    )
    # A participant_state automation's first refresh runs from its INSERT record; the periodic
    # one comes a period later (its due entry is written with it).
    automation = subscriptions.with_refresh_schedule(automation, automation, True, now)
    automation_store.create(automation)  # the program's existence is checked again in the transaction
    return automation


def get_automation(caller: Caller, program_id: str, automation_id: str) -> Automation:
    return automation_store.require(caller.organization_id, program_id, automation_id)


def update_automation(caller: Caller, program_id: str, automation_id: str, changes: dict[str, Any]) -> Automation:
    org_id = caller.organization_id

    def attempt() -> Automation:
        current = automation_store.require(org_id, program_id, automation_id)
        now = clock.now()
        updated = automation_rules.apply_update(current, changes, now)
        if updated is current:
            return current
        after = dataclasses.replace(updated, version=current.version + 1)
        # A participant_state automation whose filter or schedule changed re-evaluates its
        # subscriptions (§1.7.4), by a refresh started in the same transaction; its periodic
        # refresh moves a period after that one (or leaves the due index while paused).
        refreshing = subscriptions.refresh_writes(current, after)
        after = subscriptions.with_refresh_schedule(current, after, bool(refreshing), now)
        transactions.write([*automation_store.save_writes(current, after), *refreshing])
        return after

    return retry_on_stale(attempt, automation_store.StaleAutomation)


def archive_automation(caller: Caller, program_id: str, automation_id: str) -> None:
    """Archive (§1.7.5): terminal, idempotent; the due index entry goes in the same transaction.
    A participant_state automation's active subscriptions end by a job started in the same
    transaction (``subscriptions.end_writes``)."""
    org_id = caller.organization_id

    def attempt() -> None:
        current = automation_store.require(org_id, program_id, automation_id)
        if current.status is AutomationStatus.ARCHIVED:
            return
        archived = dataclasses.replace(automation_rules.archived(current, clock.now()), version=current.version + 1)
        transactions.write([*automation_store.save_writes(current, archived), *subscriptions.end_writes(archived)])

    retry_on_stale(attempt, automation_store.StaleAutomation)


def list_automations(
    caller: Caller,
    program_id: str,
    *,
    limit: int,
    cursor: str | None,
    status: AutomationStatus | None,
    trigger_type: TriggerType | None,
    scope: Scope | None,
    source: AutomationSource | None,
    search: str | None,
) -> Page[Automation]:
    org_id = caller.organization_id
    program_store.require(org_id, program_id)
    # Without a status filter archived automations are left out; status=archived lists them (§1.7.2).
    statuses = {status} if status is not None else {AutomationStatus.ACTIVE, AutomationStatus.PAUSED}
    signature = scope_signature("automations", org_id, program_id, status, trigger_type, scope, source, search)
    after = decode_cursor(cursor, signature) if cursor else None
    found, resume_after = automation_store.list_page(
        org_id,
        program_id,
        limit=limit,
        after=after,
        statuses=statuses,
        trigger_type=trigger_type,
        scope=scope,
        source=source,
        search=search,
    )
    return Page(found, encode_cursor(resume_after, signature) if resume_after else None)
