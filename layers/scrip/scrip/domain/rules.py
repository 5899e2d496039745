"""Rules (03 §3, §5): one CEL condition and its actions, owned by a program.

Validation happens when a rule is written, so that processing never meets a malformed rule:
the condition and every CEL-valued field must compile, each action carries the fields of its
type, assets must be linked to the rule's program, lot options need a LOT-mode asset, and
durations and timestamps must parse.

A rule's work is bounded too: at most ``MAX_ACTIONS`` actions (each writes at most about nine
items, and an event's own records about seven, so one matching rule fits the 100 items of one
transaction) and ``MAX_ACTIONS_BYTES`` of them in all (the rule item and its history entry,
which holds the changes and a snapshot, stay far below DynamoDB's 400 KB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from scrip.domain import cel
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.budgets import cron_is_valid, croniter_next
from scrip.domain.clock import parse_input
from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.state import parse_duration

ORDER_STEP = 10
MAX_ACTIONS = 10
MAX_ACTIONS_BYTES = 65_536  # as JSON
MAX_BUDGETS = 10


class RuleStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


class RuleActionType(StrEnum):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"
    HOLD = "HOLD"
    RELEASE = "RELEASE"
    FORFEIT = "FORFEIT"
    VOID_HOLD = "VOID_HOLD"
    TAG = "TAG"
    UNTAG = "UNTAG"
    COUNTER = "COUNTER"
    SET_ATTRIBUTE = "SET_ATTRIBUTE"
    SET_TIER = "SET_TIER"
    SCHEDULE_EVENT = "SCHEDULE_EVENT"
    BROADCAST = "BROADCAST"


ASSET_ACTIONS = {
    RuleActionType.CREDIT,
    RuleActionType.DEBIT,
    RuleActionType.HOLD,
    RuleActionType.RELEASE,
    RuleActionType.FORFEIT,
    RuleActionType.VOID_HOLD,
}
REQUIRED = {
    RuleActionType.CREDIT: ("asset_id", "amount"),
    RuleActionType.DEBIT: ("asset_id", "amount"),
    RuleActionType.HOLD: ("asset_id",),
    RuleActionType.RELEASE: ("asset_id",),
    RuleActionType.FORFEIT: ("asset_id",),
    RuleActionType.VOID_HOLD: ("asset_id", "reference_id"),
    RuleActionType.TAG: ("tag",),
    RuleActionType.UNTAG: ("tag",),
    RuleActionType.COUNTER: ("key", "value"),
    RuleActionType.SET_ATTRIBUTE: ("key", "value"),
    RuleActionType.SET_TIER: ("tier", "level"),
    RuleActionType.SCHEDULE_EVENT: ("event_name", "delay"),
    RuleActionType.BROADCAST: ("event_name",),
}
CEL_FIELDS = ("amount", "value")
# Literal text or a CEL expression: text that does not parse is a literal, but CEL that could
# stall an evaluation is refused like any CEL field.
LITERAL_OR_CEL_FIELDS = ("reference_id", "target.external_id", "target.participant_id")


class OrderConflict(ApiError):
    status, code = 409, "order_conflict"

    def __init__(self, order: int) -> None:
        super().__init__(f"another rule of this program already has order {order}", details={"order": order})


class RuleArchived(ApiError):
    status, code = 409, "rule_archived"

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"rule {rule_id} is archived and cannot be changed")


@dataclass(frozen=True)
class Rule:
    organization_id: str
    id: str
    program_id: str
    name: str
    description: str | None
    condition: str
    actions: list[dict[str, Any]]
    order: int
    stop_after_match: bool
    active_from: datetime | None
    active_to: datetime | None
    budgets: list[dict[str, Any]]
    status: RuleStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int = 1
    history_id: str | None = None  # the version entry (03 §3.8) that evaluations cite


def _fail(field: str, message: str, reason: str = "invalid", received: Any = None) -> ValidationFailed:
    return ValidationFailed(message, field=field, reason=reason, received=received)


def check_condition(condition: str, field: str = "condition") -> None:
    try:
        cel.check(condition)
    except cel.CostlyExpression as error:
        raise _fail(field, f"{field} is too costly to evaluate: {error.message}", "cel_cost", condition) from None
    except cel.CelError as error:
        raise _fail(field, f"{field} is not valid CEL: {error.message}", "cel", condition) from None


def check_literal_or_cel(text: str, field: str) -> None:
    try:
        cel.check(text)
    except cel.CostlyExpression as error:
        raise _fail(field, f"{field} is too costly to evaluate: {error.message}", "cel_cost", text) from None
    except cel.CelError:
        pass  # literal text


def check_moment(value: Any, field: str) -> None:
    """A relative duration (Go syntax, ``d`` accepted) or an RFC 3339 timestamp (decision 12)."""
    if not isinstance(value, str) or not value:
        raise _fail(field, f'{field} must be a duration such as "720h" or an RFC 3339 timestamp', received=value)
    try:
        parse_duration(value, field=field)
        return
    except ValidationFailed:
        pass
    try:
        parse_input(value)
    except ValueError:
        raise _fail(
            field, f'{field} must be a duration such as "720h" or an RFC 3339 timestamp', received=value
        ) from None


def validate_actions(
    actions: list[dict[str, Any]], *, program_id: str, assets: dict[str, Asset]
) -> list[dict[str, Any]]:
    """The actions as stored (unknown fields dropped), or a 400 naming the offending field."""
    if not actions:
        raise _fail("actions", "a rule needs at least one action", "required")
    if len(actions) > MAX_ACTIONS:
        raise _fail("actions", f"a rule has at most {MAX_ACTIONS} actions", "too_many", len(actions))
    if len(json.dumps(actions, default=str)) > MAX_ACTIONS_BYTES:
        raise _fail("actions", f"a rule's actions are at most {MAX_ACTIONS_BYTES} bytes of JSON", "too_large")
    cleaned = []
    for index, action in enumerate(actions):
        prefix = f"actions.{index}"
        try:
            kind = RuleActionType(str(action.get("type")))
        except ValueError:
            raise _fail(
                f"{prefix}.type", f"unknown action type {action.get('type')!r}", "enum", action.get("type")
            ) from None
        for name in REQUIRED[kind]:
            if action.get(name) in (None, ""):
                raise _fail(f"{prefix}.{name}", f"{kind.value} requires {name}", "required")
        for name in CEL_FIELDS:
            if name in action and action[name] is not None:
                if not isinstance(action[name], str):
                    raise _fail(
                        f"{prefix}.{name}", f"{name} is a string (a literal or a CEL expression)", received=action[name]
                    )
                if not (kind is RuleActionType.SET_ATTRIBUTE and name == "value"):
                    check_condition(action[name], f"{prefix}.{name}")
                else:
                    check_literal_or_cel(action[name], f"{prefix}.{name}")
        for path in LITERAL_OR_CEL_FIELDS:
            holder, _, name = path.rpartition(".")
            container = action.get(holder) if holder else action
            if isinstance(container, dict) and isinstance(container.get(name), str):
                check_literal_or_cel(container[name], f"{prefix}.{path}")
        if kind in ASSET_ACTIONS:
            asset = assets.get(str(action["asset_id"]))
            if asset is None or program_id not in asset.program_ids:
                raise _fail(
                    f"{prefix}.asset_id",
                    "the asset must exist and be linked to the rule's program",
                    received=action["asset_id"],
                )
            lot_fields = [n for n in ("reference_id", "expires_at", "matures_at") if action.get(n)]
            if lot_fields and asset.inventory_mode is not InventoryMode.LOT:
                raise _fail(f"{prefix}.{lot_fields[0]}", f"{lot_fields[0]} applies to LOT-mode assets only", "lot_only")
            for name in ("expires_at", "matures_at"):
                if action.get(name):
                    check_moment(action[name], f"{prefix}.{name}")
            if action.get("bucket") not in (None, "AVAILABLE", "HELD"):
                raise _fail(f"{prefix}.bucket", "bucket is AVAILABLE or HELD", "enum", action.get("bucket"))
        if kind is RuleActionType.COUNTER and action.get("reset_after"):
            parse_duration(str(action["reset_after"]), field=f"{prefix}.reset_after")
        if kind is RuleActionType.SCHEDULE_EVENT:
            parse_duration(str(action["delay"]), field=f"{prefix}.delay")
        if kind is RuleActionType.SET_TIER:
            _check_set_tier(action, prefix)
        target = action.get("target")
        if target is not None:
            _check_target(target, f"{prefix}.target")
        cleaned.append({k: v for k, v in action.items() if v is not None})
    return cleaned


def _check_set_tier(action: dict[str, Any], prefix: str) -> None:
    """SET_TIER (02 §4.10): ``tier`` and ``level`` are keys, checked against the program's tiers
    when the action runs (a tier may be created after the rule); ``expires_at`` is a duration
    from the event's processing time, or an RFC 3339 instant as for lots; the program is not a
    tier holder."""
    for name in ("tier", "level"):
        if not isinstance(action[name], str):
            raise _fail(f"{prefix}.{name}", f"{name} is a key string", received=action[name])
    if action.get("expires_at"):
        check_moment(action["expires_at"], f"{prefix}.expires_at")
    target = action.get("target")
    if isinstance(target, dict) and target.get("type") == "PROGRAM":
        raise _fail(f"{prefix}.target.type", "SET_TIER targets a participant or a group", "enum", "PROGRAM")


def _check_target(target: Any, field: str) -> None:
    if not isinstance(target, dict) or target.get("type") not in ("PARTICIPANT", "PROGRAM", "GROUP"):
        raise _fail(f"{field}.type", "target.type is PARTICIPANT, PROGRAM or GROUP", "enum")
    if target["type"] == "PARTICIPANT":
        given = [k for k in ("id", "external_id", "participant_id") if target.get(k)]
        if len(given) != 1:
            raise _fail(field, "a PARTICIPANT target names exactly one of id, external_id, participant_id", "exclusive")
    if target["type"] == "GROUP" and not target.get("id"):
        raise _fail(f"{field}.id", "a GROUP target names the group's id", "required")


def validate_budgets(
    budgets: list[dict[str, Any]], *, program_id: str, assets: dict[str, Asset], now: datetime
) -> list[dict[str, Any]]:
    if len(budgets) > MAX_BUDGETS:
        raise _fail("budgets", f"a rule has at most {MAX_BUDGETS} budgets", "too_many", len(budgets))
    seen: set[str] = set()
    stored = []
    for index, budget in enumerate(budgets):
        prefix = f"budgets.{index}"
        asset_id = str(budget.get("asset_id") or "")
        asset = assets.get(asset_id)
        if asset is None or program_id not in asset.program_ids:
            raise _fail(
                f"{prefix}.asset_id", "the asset must exist and be linked to the rule's program", received=asset_id
            )
        if asset_id in seen:
            raise _fail(f"{prefix}.asset_id", "at most one budget per asset", "duplicate", asset_id)
        seen.add(asset_id)
        try:
            limit = Decimal(str(budget.get("limit")))
        except InvalidOperation:
            raise _fail(f"{prefix}.limit", "limit is a positive decimal string", received=budget.get("limit")) from None
        if limit <= 0:
            raise _fail(f"{prefix}.limit", "limit is a positive decimal string", received=budget.get("limit"))
        schedule = budget.get("schedule_type")
        next_reset: str | None = None
        if schedule == "INTERVAL":
            interval = parse_duration(str(budget.get("interval") or ""), field=f"{prefix}.interval")
            next_reset = (now + interval).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif schedule == "CRON":
            expression = str(budget.get("cron_expression") or "")
            if not cron_is_valid(expression):
                raise _fail(f"{prefix}.cron_expression", 'cron_expression is five cron fields, e.g. "0 0 1 * *"')
            next_reset = (croniter_next(expression, now)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif schedule is not None:
            raise _fail(f"{prefix}.schedule_type", "schedule_type is CRON, INTERVAL or null", "enum", schedule)
        stored.append(
            {
                "asset_id": asset_id,
                "limit": limit,
                "schedule_type": schedule,
                "cron_expression": budget.get("cron_expression") if schedule == "CRON" else None,
                "interval": budget.get("interval") if schedule == "INTERVAL" else None,
                "consumed": Decimal(0),
                "next_reset_at": next_reset,
            }
        )
    return stored


def check_window(active_from: datetime | None, active_to: datetime | None) -> None:
    if active_from and active_to and active_to <= active_from:
        raise _fail("active_to", "active_to must be after active_from", "range")


def next_order(existing: list[int]) -> int:
    return (max(existing) if existing else 0) + ORDER_STEP


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class ActionTarget:
    """Whom an action acts on instead of the event's participant (03 §5.3)."""

    type: str  # PARTICIPANT, PROGRAM or GROUP
    id: str | None = None
    external_id: str | None = None  # literal or CEL
    participant_id: str | None = None  # literal or CEL

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> ActionTarget:
        return cls(
            type=str(stored.get("type")),
            id=_text(stored.get("id")),
            external_id=_text(stored.get("external_id")),
            participant_id=_text(stored.get("participant_id")),
        )


@dataclass(frozen=True)
class RuleAction:
    """One action as a rule stores it (03 §5.1), typed for the rules engine to run.

    A rule's actions are stored as the API's ``Action`` model dumps them, and passed
    ``validate_actions``: each carries the ``REQUIRED`` fields of its type, and the fields its
    type does not use are None.
    """

    type: RuleActionType
    asset_id: str | None = None
    amount: str | None = None  # literal or CEL
    bucket: str | None = None  # AVAILABLE or HELD; None is AVAILABLE
    allow_negative: bool = False
    description: str | None = None
    reference_id: str | None = None  # literal or CEL
    expires_at: str | None = None  # a duration from now, or RFC 3339
    matures_at: str | None = None
    key: str | None = None
    value: str | None = None  # CEL (COUNTER); CEL or literal (SET_ATTRIBUTE)
    reset_after: str | None = None
    tag: str | None = None
    tier: str | None = None  # SET_TIER: tier and level keys
    level: str | None = None
    event_name: str | None = None
    delay: str | None = None
    payload: Mapping[str, Any] | None = None
    target: ActionTarget | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> RuleAction:
        target = stored.get("target")
        return cls(
            type=RuleActionType(str(stored["type"])),
            asset_id=_text(stored.get("asset_id")),
            amount=_text(stored.get("amount")),
            bucket=_text(stored.get("bucket")),
            allow_negative=bool(stored.get("allow_negative")),
            description=_text(stored.get("description")),
            reference_id=_text(stored.get("reference_id")),
            expires_at=_text(stored.get("expires_at")),
            matures_at=_text(stored.get("matures_at")),
            key=_text(stored.get("key")),
            value=_text(stored.get("value")),
            reset_after=_text(stored.get("reset_after")),
            tag=_text(stored.get("tag")),
            tier=_text(stored.get("tier")),
            level=_text(stored.get("level")),
            event_name=_text(stored.get("event_name")),
            delay=_text(stored.get("delay")),
            payload=stored.get("payload"),
            target=ActionTarget.of(target) if target else None,
        )

    def required(self, name: str) -> str:
        """A field ``REQUIRED`` for this action's type; validation put it there."""
        value = getattr(self, name)
        if not isinstance(value, str):
            raise ValueError(f"{self.type.value} action stored without {name}")
        return value
