"""Dry runs of a rule (03 §3.7 simulate): what it would do to an event, persisting nothing.

The condition and amounts are evaluated by the same code as processing; state projections
use the participant state the caller supplies. Status, activity window and budgets are not
considered, and ``now`` is the server's time [inferred, 03 §3.7].
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from scrip.domain import amounts, cel, clock
from scrip.domain.events import ActionFailed, exact_numbers, plain_numbers
from scrip.domain.organizations import Caller
from scrip.domain.rule_engine import Snapshot, activation
from scrip.domain.rules import Rule, RuleActionType
from scrip.services import rule_actions
from scrip.storage import assets as asset_store
from scrip.storage import rules as rule_store

_VERBS = {
    RuleActionType.CREDIT: "Credit {amount} {symbol} to participant",
    RuleActionType.DEBIT: "Debit {amount} {symbol} from participant",
    RuleActionType.HOLD: "Hold {amount} {symbol} of participant",
    RuleActionType.RELEASE: "Release {amount} {symbol} to participant",
    RuleActionType.FORFEIT: "Forfeit {amount} {symbol} of participant",
}


def _targets_event_participant(action: dict[str, Any]) -> bool:
    return not action.get("target")


def _asset_result(
    kind: RuleActionType, action: dict[str, Any], variables: dict[str, Any], rule: Rule
) -> dict[str, Any]:
    asset = asset_store.require(rule.organization_id, str(action["asset_id"]))
    try:
        amount = rule_actions.resolve_amount(action, variables, asset)
    except ActionFailed as failure:
        return {"error": failure.message, "asset_symbol": asset.symbol}
    text = amounts.format_amount(amount, asset.scale) if amount is not None else "all"
    return {
        "amount": text,
        "asset_symbol": asset.symbol,
        "description": _VERBS[kind].format(amount=text, symbol=asset.symbol),
    }


def _result(action: dict[str, Any], variables: dict[str, Any], rule: Rule, snapshot: Snapshot) -> dict[str, Any]:
    kind = RuleActionType(str(action["type"]))
    if kind in _VERBS:
        return _asset_result(kind, action, variables, rule)
    own = _targets_event_participant(action)
    if kind is RuleActionType.COUNTER:
        key = str(action["key"])
        try:
            delta = cel.evaluate_amount(str(action["value"]), variables)
        except cel.AmountError as error:
            return {"error": str(error)}
        value = amounts.canonical_decimal(delta)
        result: dict[str, Any] = {"value": value, "description": f"Increment counter {key} by {value}"}
        if own:
            current = snapshot.counters.get(key, Decimal(0))
            result.update(
                current_value=amounts.canonical_decimal(current),
                projected_value=amounts.canonical_decimal(current + delta),
            )
        return result
    if kind in (RuleActionType.TAG, RuleActionType.UNTAG):
        tag = str(action["tag"]).strip().lower()
        verb = "Add" if kind is RuleActionType.TAG else "Remove"
        result = {"description": f"{verb} tag {tag}"}
        if own:
            present = tag in snapshot.tags
            result["current_tags"] = snapshot.tags
            result["would_add" if kind is RuleActionType.TAG else "would_remove"] = (
                not present if kind is RuleActionType.TAG else present
            )
        return result
    if kind is RuleActionType.SET_ATTRIBUTE:
        key = str(action["key"])
        try:
            value = rule_actions.resolve_attribute_value(str(action["value"]), variables)
        except ActionFailed as failure:
            return {"error": failure.message}
        result = {"description": f"Set attribute {key} to {value}"}
        if own:
            attribute = snapshot.attributes.get(key)
            result.update(current_value=attribute, would_change=attribute != value)
        return result
    if kind is RuleActionType.SCHEDULE_EVENT:
        return {"description": f"Schedule event {action['event_name']} in {action['delay']}"}
    if kind is RuleActionType.BROADCAST:
        return {"description": f"Broadcast event {action['event_name']} to the program's participants"}
    if kind is RuleActionType.SET_TIER:
        result = {"description": f"Set tier {action['tier']} to {action['level']}"}
        if own:
            # The tier's definition is not read: an archived tier or unknown level shows when the rule runs.
            held = snapshot.tiers.get(str(action["tier"]))
            result.update(
                current_level=held["level"] if held else None, would_change=not held or held["level"] != action["level"]
            )
        return result
    return {"description": f"{kind.value} is not supported by simulation"}


def simulate(
    caller: Caller, rule_id: str, event_data: dict[str, Any], participant_state: dict[str, Any] | None
) -> dict[str, Any]:
    rule = rule_store.require(caller.organization_id, rule_id)
    given = participant_state or {}
    snapshot = Snapshot(
        participant_id="",
        external_id=None,
        status="ACTIVE",
        tags=sorted({str(t).strip().lower() for t in given.get("tags") or []}),
        counters={str(k): Decimal(str(v)) for k, v in (given.get("counters") or {}).items()},
        attributes={str(k): str(v) for k, v in (given.get("attributes") or {}).items()},
        tiers={
            str(k): {"level": str(v["level"]), "rank": int(v["rank"])} for k, v in (given.get("tiers") or {}).items()
        },
    )
    variables = activation(plain_numbers(exact_numbers(event_data)), snapshot, clock.now())
    matched, error = cel.judge_condition(rule.condition, variables)
    evaluation: dict[str, Any] = {"matched": matched, "status": "evaluated" if error is None else "condition_failed"}
    if error is not None:
        evaluation["reason"] = error
    if matched:
        evaluation["results"] = [
            {"action": action, "result": _result(action, variables, rule, snapshot)} for action in rule.actions
        ]
    return {
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "condition": rule.condition,
            "order": rule.order,
            "stop_after_match": rule.stop_after_match,
        },
        "evaluation": evaluation,
    }
