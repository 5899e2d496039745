"""Running one rule action for an event (03 §5), inside the event's unit of work.

Each action resolves its CEL fields against the pre-event activation, finds its target, and
calls the same service an API request would (balances, state), with the event and rule as the
origin. The writes those services make are staged by ``unit_of_work.collecting()`` and commit
with every other action of the event. Any refusal becomes ``ActionFailed``: the whole event's
attempt fails and nothing of it is written (03 §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, cel, clock, ids
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.clock import parse_rfc3339
from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.events import ActionFailed, Event, StateChangeRecord
from scrip.domain.ledger import ActionType as LedgerAction
from scrip.domain.ledger import Bucket, EntityType
from scrip.domain.lots import LotFilters
from scrip.domain.organizations import Caller
from scrip.domain.participants import Participant, ParticipantStatus
from scrip.domain.programs import Program
from scrip.domain.rules import ActionType, Rule
from scrip.domain.state import Owner as StateOwner
from scrip.domain.state import OwnerKind, normalize_tag, parse_duration
from scrip.services import balances, state
from scrip.services.posting import Origin
from scrip.services.state import ChangeSource
from scrip.storage import assets as asset_store
from scrip.storage import broadcasts as broadcast_store
from scrip.storage import groups as group_store
from scrip.storage import participants as participant_store
from scrip.storage import scheduled_events
from scrip.storage import state as state_store

FINANCIAL = {
    ActionType.CREDIT,
    ActionType.DEBIT,
    ActionType.HOLD,
    ActionType.RELEASE,
    ActionType.FORFEIT,
    ActionType.COUNTER,
}
_LEDGER_ACTIONS = {
    ActionType.HOLD: LedgerAction.HOLD,
    ActionType.RELEASE: LedgerAction.RELEASE,
    ActionType.FORFEIT: LedgerAction.FORFEIT,
    ActionType.VOID_HOLD: LedgerAction.VOID_HOLD,
}


@dataclass(frozen=True)
class ActionScope:
    """What an action of one rule sees while an event is processed."""

    organization_id: str
    program: Program
    event: Event
    rule: Rule
    participant: Participant
    recipient: Participant | None
    activation: dict[str, Any]
    index: int

    @property
    def caller(self) -> Caller:
        return Caller(self.organization_id, "")

    @property
    def origin(self) -> Origin:
        return Origin(event_id=self.event.id, rule_id=self.rule.id, event_timestamp=self.event.event_timestamp)

    @property
    def source(self) -> ChangeSource:
        return ChangeSource(
            event_id=self.event.id,
            rule_id=self.rule.id,
            program_id=self.program.id,
            event_timestamp=self.event.event_timestamp,
        )


@dataclass
class ActionResult:
    resolved: dict[str, Any]
    journal_entry_ids: list[str] = field(default_factory=list)
    state_changes: list[StateChangeRecord] = field(default_factory=list)


# ------------------------------------------------------------- resolution


def resolve_amount(action: dict[str, Any], activation: dict[str, Any], asset: Asset) -> Decimal | None:
    """The action's amount as an exact decimal of the asset's scale, or None when omitted."""
    kind = str(action["type"])
    text = action.get("amount")
    if text in (None, ""):
        return None
    try:
        value = cel.evaluate_amount(str(text), activation)
    except cel.AmountError as error:
        raise ActionFailed(kind, str(error)) from None
    if value <= 0:
        raise ActionFailed(kind, f"amount must be positive, got {value}")
    if amounts.fractional_digits(value) > asset.scale:
        raise ActionFailed(kind, "amount exceeds asset scale")
    return value


def resolve_text(expression: str, activation: dict[str, Any], action_type: str = "action") -> str:
    """A CEL string field (reference_id, target ids); text that is not CEL is taken literally,
    but a field the event lacks is an action error (03 §4.5)."""
    try:
        value = cel.evaluate_value(expression, activation)
    except cel.MissingField as missing:
        raise ActionFailed(action_type, str(missing)) from None
    except (cel.CelError, cel.AmountError):
        return expression
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def resolve_attribute_value(expression: str, activation: dict[str, Any]) -> str:
    """SET_ATTRIBUTE's value: a CEL scalar when it evaluates to one, else the text itself (03 §5.4.9);
    a field the event lacks is an action error."""
    try:
        value = cel.evaluate_value(expression, activation)
    except cel.MissingField as missing:
        raise ActionFailed("SET_ATTRIBUTE", str(missing)) from None
    except (cel.CelError, cel.AmountError):
        return expression
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return expression


def _moment(value: str) -> datetime:
    try:
        return clock.now() + parse_duration(value)
    except ValidationFailed:
        return parse_rfc3339(value)


# ----------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    kind: OwnerKind
    id: str
    participant: Participant | None = None

    @property
    def state_owner(self) -> StateOwner:
        return StateOwner(self.kind, self.id)

    def ledger_owner(self, action: str) -> balances.Owner:
        if self.kind is OwnerKind.PROGRAM:
            raise ActionFailed(action, "asset actions target a participant or a group, not the program")
        entity = EntityType.GROUP if self.kind is OwnerKind.GROUP else EntityType.PARTICIPANT
        return balances.Owner(entity, self.id)


def resolve_target(action: dict[str, Any], scope: ActionScope, *, asset_action: bool) -> Target:
    kind = str(action["type"])
    target = action.get("target")
    org = scope.organization_id
    if not target:
        chosen = scope.recipient if asset_action and scope.recipient is not None else scope.participant
        return Target(OwnerKind.PARTICIPANT, chosen.id, chosen)
    if target["type"] == "PROGRAM":
        return Target(OwnerKind.PROGRAM, scope.program.id)
    if target["type"] == "GROUP":
        group = group_store.get(org, str(target["id"]))
        if group is None:
            raise ActionFailed(kind, f"target group {target['id']} not found")
        return Target(OwnerKind.GROUP, group.id)
    participant_id: str | None
    if target.get("id"):
        participant_id = str(target["id"])
    elif target.get("participant_id"):
        participant_id = resolve_text(str(target["participant_id"]), scope.activation, kind)
    else:
        external = resolve_text(str(target["external_id"]), scope.activation, kind)
        participant_id = participant_store.find_id_by_external_id(org, external)
        if participant_id is None:
            raise ActionFailed(kind, f"target participant {external!r} not found")
    found = participant_store.get(org, participant_id)
    if found is None:
        raise ActionFailed(kind, f"target participant {participant_id} not found")
    return Target(OwnerKind.PARTICIPANT, found.id, found)


def _require_allowed(kind: ActionType, target: Target) -> None:
    """Financial actions need an ACTIVE participant (03 §5.2)."""
    if kind in FINANCIAL and target.participant is not None:
        status = target.participant.status
        if status is not ParticipantStatus.ACTIVE:
            raise ActionFailed(kind.value, f"participant {target.id} is {status.value}")


# ------------------------------------------------------------------ running


def run(action: dict[str, Any], scope: ActionScope) -> ActionResult:
    """Run one action; ``ActionFailed`` when it cannot."""
    kind = ActionType(str(action["type"]))
    try:
        if kind in (ActionType.CREDIT, ActionType.DEBIT, *_LEDGER_ACTIONS):
            return _asset_action(kind, action, scope)
        if kind in (ActionType.TAG, ActionType.UNTAG, ActionType.COUNTER, ActionType.SET_ATTRIBUTE):
            return _state_action(kind, action, scope)
        if kind is ActionType.SCHEDULE_EVENT:
            return _schedule(action, scope)
        if kind is ActionType.BROADCAST:
            return _broadcast(action, scope)
    except ApiError as error:
        raise ActionFailed(kind.value, error.message) from None
    raise ActionFailed(kind.value, "this action type is not available")


def _description(action: dict[str, Any], scope: ActionScope) -> str:
    return str(action.get("description") or f"{scope.rule.name} ({action['type']})")


def _asset_action(kind: ActionType, action: dict[str, Any], scope: ActionScope) -> ActionResult:
    asset = asset_store.require(scope.organization_id, str(action["asset_id"]))
    target = resolve_target(action, scope, asset_action=True)
    owner = target.ledger_owner(kind.value)
    _require_allowed(kind, target)
    amount = resolve_amount(action, scope.activation, asset)
    if kind in (ActionType.CREDIT, ActionType.DEBIT) and amount is None:
        raise ActionFailed(kind.value, "amount is required")
    reference = (
        resolve_text(str(action["reference_id"]), scope.activation, kind.value) if action.get("reference_id") else None
    )
    if reference is not None and asset.inventory_mode is not InventoryMode.LOT:
        raise ActionFailed(kind.value, "reference_id applies to LOT-mode assets only")
    bucket = Bucket(str(action.get("bucket") or "AVAILABLE"))
    description = _description(action, scope)
    resolved: dict[str, Any] = {"asset_id": asset.id, "asset_symbol": asset.symbol, "target_id": owner.id}
    entries: list[str] = []
    if kind is ActionType.CREDIT:
        assert amount is not None
        if reference is not None and bucket is Bucket.AVAILABLE:
            resolved["settle"] = _settle(scope, owner, asset, reference, amount)
            entries += resolved["settle"].pop("journal_entry_ids")
        outcome, _ = balances.credit(
            scope.caller,
            owner,
            program_id=scope.program.id,
            asset_id=asset.id,
            amount=amount,
            description=description,
            bucket=bucket,
            expires_at=_moment(str(action["expires_at"])) if action.get("expires_at") else None,
            matures_at=_moment(str(action["matures_at"])) if action.get("matures_at") else None,
            reference_id=reference,
            origin=scope.origin,
        )
        entries.append(str(outcome.journal_entry_id))
        resolved["amount"] = amounts.format_amount(amount, asset.scale)
    elif kind is ActionType.DEBIT:
        assert amount is not None
        outcome = balances.adjust(
            scope.caller,
            owner,
            program_id=scope.program.id,
            asset_id=asset.id,
            type="DEBIT",
            amount=amount,
            description=description,
            bucket=bucket,
            allow_negative=bool(action.get("allow_negative")),
            origin=scope.origin,
        )
        entries.append(str(outcome.journal_entry_id))
        resolved["amount"] = amounts.format_amount(amount, asset.scale)
    else:
        body, _ = balances.balance_operation(
            scope.caller,
            owner,
            _LEDGER_ACTIONS[kind],
            program_id=scope.program.id,
            asset_id=asset.id,
            description=description,
            amount=amount,
            bucket=bucket if kind is ActionType.FORFEIT else None,
            filters=LotFilters(reference_id=reference) if reference is not None else None,
            origin=scope.origin,
        )
        entries.append(str(body["journal_entry_id"]))
        resolved["amount"] = body["amount_processed"]
    if reference is not None:
        resolved["reference_id"] = reference
    return ActionResult({"type": kind.value, "resolved": resolved}, entries)


def _settle(scope: ActionScope, owner: balances.Owner, asset: Asset, reference: str, amount: Decimal) -> dict[str, Any]:
    """A credit into AVAILABLE with a reference settles the provisional HELD credit of that
    reference (04 §6.4): the provisional lots are voided and the settled amount credited."""
    try:
        body, _ = balances.balance_operation(
            scope.caller,
            owner,
            LedgerAction.VOID_HOLD,
            program_id=scope.program.id,
            asset_id=asset.id,
            description=f"Settle {reference}",
            filters=LotFilters(reference_id=reference),
            origin=scope.origin,
        )
    except ApiError as error:
        if error.code != "no_matching_lots":
            raise
        held, entries = Decimal(0), []
    else:
        held, entries = Decimal(str(body["amount_processed"])), [str(body["journal_entry_id"])]
    return {
        "held_amount": amounts.format_amount(held, asset.scale),
        "delta": amounts.format_amount(amount - held, asset.scale),
        "journal_entry_ids": entries,
    }


def _change(
    scope: ActionScope, target: Target, state_type: str, key: str, operation: str, old: Any, new: Any
) -> StateChangeRecord:
    return StateChangeRecord(
        rule_id=scope.rule.id,
        entity_type=target.kind.value,
        entity_id=target.id,
        state_type=state_type,
        key=key,
        operation=operation,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
    )


def _state_action(kind: ActionType, action: dict[str, Any], scope: ActionScope) -> ActionResult:
    target = resolve_target(action, scope, asset_action=False)
    _require_allowed(kind, target)
    owner = target.state_owner
    org = scope.organization_id
    if kind in (ActionType.TAG, ActionType.UNTAG):
        tag = normalize_tag(str(action["tag"]))
        present = tag in state_store.read(org, owner).tags
        result = ActionResult({"type": kind.value, "resolved": {"tag": tag, "target_id": target.id}})
        if kind is ActionType.TAG and not present:
            state.add_tag(scope.caller, owner, tag, scope.source)
            result.state_changes.append(_change(scope, target, "tag", tag, "add", None, tag))
        elif kind is ActionType.UNTAG and present:
            state.remove_tag(scope.caller, owner, tag, scope.source)
            result.state_changes.append(_change(scope, target, "tag", tag, "remove", tag, None))
        return result
    key = str(action["key"])
    if kind is ActionType.COUNTER:
        try:
            delta = cel.evaluate_amount(str(action["value"]), scope.activation)
        except cel.AmountError as error:
            raise ActionFailed(kind.value, str(error)) from None
        before = state_store.get_counter(org, owner, key)
        old = before.effective(clock.now()).value if before else Decimal(0)
        counter = state.increment_counter(
            org, owner, key, delta, source=scope.source, reset_after=action.get("reset_after")
        )
        return ActionResult(
            {"type": kind.value, "resolved": {"key": key, "value": str(delta), "target_id": target.id}},
            state_changes=[_change(scope, target, "counter", key, "set", old, counter.value)],
        )
    value = resolve_attribute_value(str(action["value"]), scope.activation)
    current = state_store.read(org, owner).attributes.get(key)
    result = ActionResult({"type": kind.value, "resolved": {"key": key, "value": value, "target_id": target.id}})
    if current != value:
        state.set_attribute(scope.caller, owner, key, value, scope.source)
        result.state_changes.append(_change(scope, target, "attribute", key, "set", current, value))
    return result


def _follow_up_data(action: dict[str, Any]) -> dict[str, Any]:
    payload = action.get("payload") or {}
    return {**payload, "type": str(action["event_name"])}


def _schedule(action: dict[str, Any], scope: ActionScope) -> ActionResult:
    """A SYSTEM event for later (03 §5.4.11), keyed so that a retried source event schedules once."""
    target = resolve_target(action, scope, asset_action=False)
    if target.kind is not OwnerKind.PARTICIPANT:
        raise ActionFailed("SCHEDULE_EVENT", "a scheduled event is for a participant")
    fire_at = clock.now() + parse_duration(str(action["delay"]))
    key = f"sched:{scope.event.id}:{scope.rule.id}:{scope.index}"
    scheduled_events.schedule(
        scope.organization_id,
        program_id=scope.program.id,
        participant_id=target.id,
        idempotency_key=key,
        fire_at=fire_at,
        event_data=_follow_up_data(action),
        origin_event_id=scope.event.id,
    )
    return ActionResult(
        {
            "type": "SCHEDULE_EVENT",
            "resolved": {
                "event_name": action["event_name"],
                "fire_at": clock.to_rfc3339(fire_at),
                "idempotency_key": key,
            },
        }
    )


def _broadcast(action: dict[str, Any], scope: ActionScope) -> ActionResult:
    """One SYSTEM event per enrolled participant, fanned out after commit (03 §5.4.12).

    Events made by a broadcast do not broadcast again: that would loop over the program forever.
    """
    if scope.event.broadcast:
        return ActionResult({"type": "BROADCAST", "resolved": {"skipped": "event was made by a broadcast"}})
    broadcast_id = ids.new_id()
    broadcast_store.record(
        scope.organization_id,
        broadcast_id=broadcast_id,
        program_id=scope.program.id,
        source_event_id=scope.event.id,
        key_prefix=f"bcast:{scope.event.id}:{scope.rule.id}:{scope.index}",
        event_data=_follow_up_data(action),
    )
    return ActionResult({"type": "BROADCAST", "resolved": {"event_name": action["event_name"]}})
