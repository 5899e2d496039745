"""Rule use cases (03 §3)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import budgets as budget_rules
from scrip.domain import cel, clock, ids
from scrip.domain import rules as rule_rules
from scrip.domain.assets import Asset
from scrip.domain.budgets import BudgetState
from scrip.domain.errors import Conflict, NotFound, ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.programs import ProgramStatus
from scrip.domain.rules import Rule, RuleArchived, RuleStatus
from scrip.services.common import retry_on_stale
from scrip.storage import assets as asset_store
from scrip.storage import budgets as budget_store
from scrip.storage import programs as program_store
from scrip.storage import rules as rule_store


@dataclass(frozen=True)
class ConditionReport:
    valid: bool
    message: str
    line: int | None = None
    column: int | None = None


def validate_condition(condition: str) -> ConditionReport:
    """Syntax and bounds only: field references are not checked against any schema (03 §3.7)."""
    try:
        cel.check(condition)
    except cel.CelError as error:
        return ConditionReport(False, error.message, error.line, error.column)
    return ConditionReport(True, "CEL condition is valid")


def _assets_for(caller: Caller, actions: list[dict[str, Any]], budgets: list[dict[str, Any]]) -> dict[str, Asset]:
    wanted = {str(a.get("asset_id")) for a in [*actions, *budgets] if a.get("asset_id")}
    return asset_store.get_many(caller.organization_id, sorted(wanted))


def create_rule(
    caller: Caller,
    *,
    program_id: str,
    name: str,
    condition: str,
    actions: list[dict[str, Any]],
    description: str | None = None,
    order: int | None = None,
    stop_after_match: bool = False,
    active_from: datetime | None = None,
    active_to: datetime | None = None,
    budgets: list[dict[str, Any]] | None = None,
    status: RuleStatus = RuleStatus.ACTIVE,
) -> Rule:
    org = caller.organization_id
    program = program_store.require(org, program_id)
    if program.status is ProgramStatus.ARCHIVED:
        raise Conflict(f"program {program_id} is archived")
    rule_rules.check_condition(condition)
    rule_rules.check_window(active_from, active_to)
    assets = _assets_for(caller, actions, budgets or [])
    now = clock.now()
    if order is None:
        order = rule_rules.next_order(
            [r.order for r in rule_store.program_rules(org, program_id) if r.status is not RuleStatus.ARCHIVED]
        )
    rule = Rule(
        organization_id=org,
        id=ids.new_id(),
        program_id=program_id,
        name=name,
        description=description,
        condition=condition,
        actions=rule_rules.validate_actions(actions, program_id=program_id, assets=assets),
        order=order,
        stop_after_match=stop_after_match,
        active_from=active_from,
        active_to=active_to,
        budgets=rule_rules.validate_budgets(budgets or [], program_id=program_id, assets=assets, now=now),
        status=status,
        created_at=now,
        updated_at=now,
        deleted_at=None,
        history_id=ids.new_id(),
    )
    assert rule.history_id is not None
    rule_store.create(rule, caller.api_key_id, rule.history_id)
    return rule


def with_live_budgets(rule: Rule) -> Rule:
    """The rule with each budget's consumption in its current window and next reset (03 §3.3)."""
    if not rule.budgets:
        return rule
    now = clock.now()
    live = []
    for budget in rule.budgets:
        state = budget_store.read(rule.organization_id, rule.id, str(budget["asset_id"]))
        window = budget_rules.current_window(budget, state, now)
        live.append(
            {
                **budget,
                "consumed": budget_rules.consumed_in(window, state),
                "next_reset_at": clock.to_rfc3339(window.next_reset_at) if window.next_reset_at else None,
            }
        )
    return replace(rule, budgets=live)


def get_rule(caller: Caller, rule_id: str) -> Rule:
    return with_live_budgets(rule_store.require(caller.organization_id, rule_id))


def reset_budget(caller: Caller, rule_id: str, asset_id: str) -> dict[str, Any]:
    """Consumption back to 0 (03 §3.7); an INTERVAL budget's next period starts now."""
    rule = rule_store.require(caller.organization_id, rule_id)
    budget = next((b for b in rule.budgets if b["asset_id"] == asset_id), None)
    if budget is None:
        raise NotFound(f"rule {rule_id} has no budget for asset {asset_id}")
    now = clock.now()
    state = budget_store.read(rule.organization_id, rule.id, asset_id)
    if budget.get("schedule_type") == "INTERVAL":
        state = BudgetState(anchor=now)
    window = budget_rules.current_window(budget, state, now)
    budget_store.reset(rule.organization_id, rule.id, asset_id, BudgetState(window.id, Decimal(0), state.anchor))
    return {
        **budget,
        "consumed": Decimal(0),
        "next_reset_at": clock.to_rfc3339(window.next_reset_at) if window.next_reset_at else None,
    }


_CHANGE_TYPES = {RuleStatus.ARCHIVED: "archived", RuleStatus.SUSPENDED: "suspended", RuleStatus.ACTIVE: "activated"}


def update_rule(caller: Caller, rule_id: str, changes: dict[str, Any]) -> Rule:
    """PATCH (03 §3.7): at least one field; archived rules are read-only."""
    if not changes:
        raise ValidationFailed("send at least one field to change", reason="empty")
    org = caller.organization_id

    def attempt() -> Rule:
        current = rule_store.require(org, rule_id)
        if current.status is RuleStatus.ARCHIVED:
            raise RuleArchived(rule_id)
        now = clock.now()
        fields: dict[str, Any] = {}
        for name in ("name", "description", "order", "stop_after_match", "active_from", "active_to"):
            if name in changes:
                fields[name] = changes[name]
        if "condition" in changes:
            rule_rules.check_condition(changes["condition"])
            fields["condition"] = changes["condition"]
        assets = _assets_for(caller, changes.get("actions") or [], changes.get("budgets") or [])
        if "actions" in changes:
            fields["actions"] = rule_rules.validate_actions(
                changes["actions"] or [], program_id=current.program_id, assets=assets
            )
        if "budgets" in changes:
            kept = {b["asset_id"]: b for b in current.budgets}
            budgets = rule_rules.validate_budgets(
                changes["budgets"] or [], program_id=current.program_id, assets=assets, now=now
            )
            fields["budgets"] = [
                {**b, "consumed": kept[b["asset_id"]]["consumed"]} if b["asset_id"] in kept else b for b in budgets
            ]
        status = RuleStatus(changes["status"]) if changes.get("status") else current.status
        updated = replace(
            current, **fields, status=status, updated_at=now, version=current.version + 1, history_id=ids.new_id()
        )
        if status is RuleStatus.ARCHIVED:
            updated = replace(updated, deleted_at=now)
        rule_rules.check_window(updated.active_from, updated.active_to)
        change_type = _CHANGE_TYPES[status] if status is not current.status else "updated"
        recorded = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changes.items()}
        assert updated.history_id is not None
        rule_store.save(current, updated, change_type, recorded, caller.api_key_id, updated.history_id)
        return updated

    return with_live_budgets(retry_on_stale(attempt, rule_store.StaleRule))


def list_rules(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    program_id: str | None,
    status: RuleStatus | None,
    include_archived: bool,
    search: str | None,
    sort_dir: str,
) -> Page[Rule]:
    if status is not None:
        statuses: list[RuleStatus] | None = [status]
    elif include_archived:
        statuses = None
    else:
        statuses = [RuleStatus.ACTIVE, RuleStatus.SUSPENDED]
    scope = scope_signature("rules", caller.organization_id, program_id, status, include_archived, search, sort_dir)
    found, resume = rule_store.list_page(
        caller.organization_id,
        program_id=program_id,
        statuses=statuses,
        search=search,
        descending=sort_dir == "desc",
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
    )
    return Page([with_live_budgets(rule) for rule in found], encode_cursor(resume, scope) if resume else None)


def rule_history(
    caller: Caller, rule_id: str, *, limit: int, cursor: str | None, change_type: str | None
) -> Page[dict[str, Any]]:
    rule_store.require(caller.organization_id, rule_id)
    scope = scope_signature("rule-history", caller.organization_id, rule_id, change_type)
    found, resume = rule_store.history_page(
        caller.organization_id,
        rule_id,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        change_type=change_type,
    )
    return Page(found, encode_cursor(resume, scope) if resume else None)
