"""Running one rule action for an event (03 §5), inside the event's unit of work.

Each action resolves its CEL fields against the pre-event activation, finds its target, and
calls the same service an API request would (balances, state), with the event and rule as the
origin. The writes those services make are staged by ``unit_of_work.collecting()`` and commit
with every other action of the event. Any refusal becomes ``ActionFailed``: the whole event's
attempt fails and nothing of it is written (03 §2.5).

A stored action is read once into a typed ``RuleAction``, and ``RUNNERS`` maps each action type
to the function that runs it: a new action type is one function and one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, cel, clock
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.automations import Automation, idempotency_key, rule_action_automation
from scrip.domain.clock import parse_rfc3339
from scrip.domain.errors import ApiError, ValidationFailed
from scrip.domain.events import ActionFailed, Event, StateChangeRecord
from scrip.domain.ledger import ActionType as LedgerAction
from scrip.domain.ledger import Bucket, EntityType
from scrip.domain.lots import LotFilters
from scrip.domain.organizations import Caller
from scrip.domain.participants import Participant, ParticipantStatus
from scrip.domain.programs import Program
from scrip.domain.rules import ActionTarget, Rule, RuleAction, RuleActionType
from scrip.domain.state import Owner as StateOwner
from scrip.domain.state import OwnerKind, normalize_tag, parse_duration
from scrip.services import automation_runs, balances, state, tier_events
from scrip.services.posting import Origin
from scrip.services.state import ChangeSource
from scrip.storage import assets as asset_store
from scrip.storage import automations as automation_store
from scrip.storage import groups as group_store
from scrip.storage import participants as participant_store
from scrip.storage import state as state_store
from scrip.storage import transactions

FINANCIAL = {
    RuleActionType.CREDIT,
    RuleActionType.DEBIT,
    RuleActionType.HOLD,
    RuleActionType.RELEASE,
    RuleActionType.FORFEIT,
    RuleActionType.COUNTER,
}
# A program's event (an automation's fire without participant) has no "event participant" for an
# action without target to act on: the action, and so the event, fails with this message.
NO_PARTICIPANT = "the event has no participant: give the action a target"
_LEDGER_ACTIONS = {
    RuleActionType.HOLD: LedgerAction.HOLD,
    RuleActionType.RELEASE: LedgerAction.RELEASE,
    RuleActionType.FORFEIT: LedgerAction.FORFEIT,
    RuleActionType.VOID_HOLD: LedgerAction.VOID_HOLD,
}


@dataclass(frozen=True)
class ActionScope:
    """What an action of one rule sees while an event is processed."""

    organization_id: str
    program: Program
    event: Event
    rule: Rule
    participant: Participant | None  # None: a program's event (06 §1.9), see ``resolve_target``
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


def resolve_amount(action: Mapping[str, Any], activation: dict[str, Any], asset: Asset) -> Decimal | None:
    """A stored action's amount as an exact decimal of the asset's scale, or None when omitted."""
    return _amount(RuleAction.of(action), activation, asset)


def _amount(action: RuleAction, activation: dict[str, Any], asset: Asset) -> Decimal | None:
    kind = action.type.value
    text = action.amount
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

    def ledger_owner(self, action: str) -> balances.BalanceOwner:
        if self.kind is OwnerKind.PROGRAM:
            raise ActionFailed(action, "asset actions target a participant or a group, not the program")
        entity = EntityType.GROUP if self.kind is OwnerKind.GROUP else EntityType.PARTICIPANT
        return balances.BalanceOwner(entity, self.id)


def resolve_target(action: RuleAction, scope: ActionScope, *, asset_action: bool) -> Target:
    kind = action.type.value
    target: ActionTarget | None = action.target
    org = scope.organization_id
    if target is None:
        chosen = scope.recipient if asset_action and scope.recipient is not None else scope.participant
        if chosen is None:
            raise ActionFailed(kind, NO_PARTICIPANT)
        return Target(OwnerKind.PARTICIPANT, chosen.id, chosen)
    if target.type == "PROGRAM":
        return Target(OwnerKind.PROGRAM, scope.program.id)
    if target.type == "GROUP":
        group = group_store.get(org, str(target.id))
        if group is None:
            raise ActionFailed(kind, f"target group {target.id} not found")
        return Target(OwnerKind.GROUP, group.id)
    participant_id: str | None
    if target.id:
        participant_id = target.id
    elif target.participant_id:
        participant_id = resolve_text(target.participant_id, scope.activation, kind)
    else:
        external = resolve_text(str(target.external_id), scope.activation, kind)
        participant_id = participant_store.find_id_by_external_id(org, external)
        if participant_id is None:
            raise ActionFailed(kind, f"target participant {external!r} not found")
    found = participant_store.get(org, participant_id)
    if found is None:
        raise ActionFailed(kind, f"target participant {participant_id} not found")
    return Target(OwnerKind.PARTICIPANT, found.id, found)


def _require_allowed(kind: RuleActionType, target: Target) -> None:
    """Financial actions need an ACTIVE participant (03 §5.2)."""
    if kind in FINANCIAL and target.participant is not None:
        status = target.participant.status
        if status is not ParticipantStatus.ACTIVE:
            raise ActionFailed(kind.value, f"participant {target.id} is {status.value}")


# ------------------------------------------------------------------ running


def run(action: Mapping[str, Any], scope: ActionScope) -> ActionResult:
    """Run one stored action; ``ActionFailed`` when it cannot."""
    typed = RuleAction.of(action)
    runner = RUNNERS.get(typed.type)
    if runner is None:
        raise ActionFailed(typed.type.value, "this action type is not available")
    try:
        return runner(typed, scope)
    except ApiError as error:
        raise ActionFailed(typed.type.value, error.message) from None


def _description(action: RuleAction, scope: ActionScope) -> str:
    return action.description or f"{scope.rule.name} ({action.type.value})"


@dataclass(frozen=True)
class AssetAction:
    """What every asset action resolves before it moves value: asset, owner, amount, reference."""

    asset: Asset
    owner: balances.BalanceOwner
    amount: Decimal | None
    reference: str | None
    bucket: Bucket
    description: str

    def resolved(self, amount: Decimal, settle: dict[str, str] | None = None) -> dict[str, Any]:
        """The action's record in the event's rule evaluations (03 §1.4)."""
        asset = self.asset
        found: dict[str, Any] = {"asset_id": asset.id, "asset_symbol": asset.symbol, "target_id": self.owner.id}
        if settle is not None:
            found["settle"] = settle
        found["amount"] = amounts.format_amount(amount, asset.scale)
        if self.reference is not None:
            found["reference_id"] = self.reference
        return found


def _prepare_asset_action(action: RuleAction, scope: ActionScope) -> AssetAction:
    kind = action.type
    asset = asset_store.require(scope.organization_id, action.required("asset_id"))
    target = resolve_target(action, scope, asset_action=True)
    owner = target.ledger_owner(kind.value)
    _require_allowed(kind, target)
    amount = _amount(action, scope.activation, asset)
    if kind in (RuleActionType.CREDIT, RuleActionType.DEBIT) and amount is None:
        raise ActionFailed(kind.value, "amount is required")
    reference = resolve_text(action.reference_id, scope.activation, kind.value) if action.reference_id else None
    if reference is not None and asset.inventory_mode is not InventoryMode.LOT:
        raise ActionFailed(kind.value, "reference_id applies to LOT-mode assets only")
    bucket = Bucket(action.bucket or "AVAILABLE")
    return AssetAction(asset, owner, amount, reference, bucket, _description(action, scope))


def _credit(action: RuleAction, scope: ActionScope) -> ActionResult:
    prepared = _prepare_asset_action(action, scope)
    asset, amount, reference = prepared.asset, prepared.amount, prepared.reference
    assert amount is not None
    entries: list[str] = []
    settle: dict[str, str] | None = None
    if reference is not None and prepared.bucket is Bucket.AVAILABLE:
        held, voided = _settle(scope, prepared.owner, asset, reference)
        settle = {
            "held_amount": amounts.format_amount(held, asset.scale),
            "delta": amounts.format_amount(amount - held, asset.scale),
        }
        entries += voided
    credited, _ = balances.credit(
        scope.caller,
        prepared.owner,
        program_id=scope.program.id,
        asset_id=asset.id,
        amount=amount,
        description=prepared.description,
        bucket=prepared.bucket,
        expires_at=_moment(action.expires_at) if action.expires_at else None,
        matures_at=_moment(action.matures_at) if action.matures_at else None,
        reference_id=reference,
        origin=scope.origin,
    )
    entries.append(credited.journal_entry_id)
    return ActionResult({"type": action.type.value, "resolved": prepared.resolved(amount, settle)}, entries)


def _debit(action: RuleAction, scope: ActionScope) -> ActionResult:
    prepared = _prepare_asset_action(action, scope)
    assert prepared.amount is not None
    debited = balances.adjust(
        scope.caller,
        prepared.owner,
        program_id=scope.program.id,
        asset_id=prepared.asset.id,
        type="DEBIT",
        amount=prepared.amount,
        description=prepared.description,
        bucket=prepared.bucket,
        allow_negative=action.allow_negative,
        origin=scope.origin,
    )
    resolved = prepared.resolved(prepared.amount)
    return ActionResult({"type": action.type.value, "resolved": resolved}, [debited.journal_entry_id])


def _balance_operation(action: RuleAction, scope: ActionScope) -> ActionResult:
    """HOLD, RELEASE, FORFEIT and VOID_HOLD: the balance operations of the API (04 §5.2-5.6)."""
    prepared = _prepare_asset_action(action, scope)
    reference = prepared.reference
    operated = balances.balance_operation(
        scope.caller,
        prepared.owner,
        _LEDGER_ACTIONS[action.type],
        program_id=scope.program.id,
        asset_id=prepared.asset.id,
        description=prepared.description,
        amount=prepared.amount,
        bucket=prepared.bucket if action.type is RuleActionType.FORFEIT else None,
        filters=LotFilters(reference_id=reference) if reference is not None else None,
        origin=scope.origin,
    )
    resolved = prepared.resolved(operated.amount_processed)
    return ActionResult({"type": action.type.value, "resolved": resolved}, [operated.journal_entry_id])


def _settle(
    scope: ActionScope, owner: balances.BalanceOwner, asset: Asset, reference: str
) -> tuple[Decimal, list[str]]:
    """A credit into AVAILABLE with a reference settles the provisional HELD credit of that
    reference (04 §6.4): the provisional lots are voided and the settled amount credited.
    Returns the amount that was held and the void's journal entries (none when nothing was)."""
    try:
        voided = balances.balance_operation(
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
        return Decimal(0), []
    return voided.amount_processed, [voided.journal_entry_id]


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


def _tag(action: RuleAction, scope: ActionScope) -> ActionResult:
    """TAG and UNTAG (03 §5.4.6): a change only when the tag was absent, or present."""
    kind = action.type
    target = resolve_target(action, scope, asset_action=False)
    _require_allowed(kind, target)
    owner = target.state_owner
    tag = normalize_tag(action.required("tag"))
    present = tag in state_store.read(scope.organization_id, owner).tags
    result = ActionResult({"type": kind.value, "resolved": {"tag": tag, "target_id": target.id}})
    if kind is RuleActionType.TAG and not present:
        state.add_tag(scope.caller, owner, tag, scope.source)
        result.state_changes.append(_change(scope, target, "tag", tag, "add", None, tag))
    elif kind is RuleActionType.UNTAG and present:
        state.remove_tag(scope.caller, owner, tag, scope.source)
        result.state_changes.append(_change(scope, target, "tag", tag, "remove", tag, None))
    return result


def _counter(action: RuleAction, scope: ActionScope) -> ActionResult:
    kind = action.type
    target = resolve_target(action, scope, asset_action=False)
    _require_allowed(kind, target)
    owner = target.state_owner
    org = scope.organization_id
    key = action.required("key")
    try:
        delta = cel.evaluate_amount(action.required("value"), scope.activation)
    except cel.AmountError as error:
        raise ActionFailed(kind.value, str(error)) from None
    before = state_store.get_counter(org, owner, key)
    old = before.effective(clock.now()).value if before else Decimal(0)
    counter = state.increment_counter(org, owner, key, delta, source=scope.source, reset_after=action.reset_after)
    return ActionResult(
        {"type": kind.value, "resolved": {"key": key, "value": str(delta), "target_id": target.id}},
        state_changes=[_change(scope, target, "counter", key, "set", old, counter.value)],
    )


def _set_attribute(action: RuleAction, scope: ActionScope) -> ActionResult:
    kind = action.type
    target = resolve_target(action, scope, asset_action=False)
    _require_allowed(kind, target)
    owner = target.state_owner
    key = action.required("key")
    value = resolve_attribute_value(action.required("value"), scope.activation)
    current = state_store.read(scope.organization_id, owner).attributes.get(key)
    result = ActionResult({"type": kind.value, "resolved": {"key": key, "value": value, "target_id": target.id}})
    if current != value:
        state.set_attribute(scope.caller, owner, key, value, scope.source)
        result.state_changes.append(_change(scope, target, "attribute", key, "set", current, value))
    return result


def _follow_up_data(action: RuleAction) -> dict[str, Any]:
    payload = action.payload or {}
    return {**payload, "type": action.required("event_name")}


def _rule_action_automation(
    action: RuleAction, scope: ActionScope, *, trigger_at: datetime | None = None, participant_id: str | None = None
) -> Automation:
    return rule_action_automation(
        organization_id=scope.organization_id,
        program_id=scope.program.id,
        action_type=action.type.value,
        event_id=scope.event.id,
        rule_id=scope.rule.id,
        rule_name=scope.rule.name,
        index=scope.index,
        event_name=action.required("event_name"),
        payload=dict(action.payload) if action.payload else None,
        now=clock.now(),
        trigger_at=trigger_at,
        participant_id=participant_id,
    )


def _schedule(action: RuleAction, scope: ActionScope) -> ActionResult:
    """A SYSTEM event for later (03 §5.4.11): a ``one_time``, ``scope=program`` automation with
    ``source = rule_action`` (06 §1.10), staged in the event's transaction and fired by the
    automation scheduler at ``trigger_at``. Its id comes from the event, rule and action index,
    so a replanned event creates one; a failed event creates none.

    A program's event (no participant) without target schedules a program's event in turn.
    """
    participant_id: str | None = None
    if action.target is not None or scope.participant is not None:
        target = resolve_target(action, scope, asset_action=False)
        if target.kind is not OwnerKind.PARTICIPANT:
            raise ActionFailed("SCHEDULE_EVENT", "a scheduled event is for a participant")
        participant_id = target.id
    fire_at = clock.now() + parse_duration(action.required("delay"))
    automation = _rule_action_automation(action, scope, trigger_at=fire_at, participant_id=participant_id)
    transactions.write(automation_store.create_writes(automation, check_program=False))
    return ActionResult(
        {
            "type": "SCHEDULE_EVENT",
            "resolved": {
                "event_name": action.event_name,
                "fire_at": clock.to_rfc3339(fire_at),
                "automation_id": automation.id,
                "idempotency_key": idempotency_key(automation.id, fire_at),
            },
        }
    )


def _broadcast(action: RuleAction, scope: ActionScope) -> ActionResult:
    """One SYSTEM event per enrolled participant (03 §5.4.12): an ``immediate``,
    ``scope=participants`` automation with ``source = rule_action`` (06 §1.10), created with its
    run started in the event's transaction (it exists only if the event commits) and paged by
    the automation fan-out after commit.

    Events made by a broadcast do not broadcast again: that would loop over the program forever.
    """
    if scope.event.broadcast:
        return ActionResult({"type": "BROADCAST", "resolved": {"skipped": "event was made by a broadcast"}})
    automation = _rule_action_automation(action, scope)
    transactions.write(automation_runs.new_run_writes(automation))
    return ActionResult(
        {"type": "BROADCAST", "resolved": {"event_name": action.event_name, "automation_id": automation.id}}
    )


def _set_tier(action: RuleAction, scope: ActionScope) -> ActionResult:
    """SET_TIER (02 §4.10): exactly the given level, whatever the participant's status; skipped,
    not failed, on an archived tier (the resolved output says so); an unknown tier or level fails
    the action, and so the event."""
    kind = action.type.value
    target = resolve_target(action, scope, asset_action=False)
    if target.kind is OwnerKind.PROGRAM:
        raise ActionFailed(kind, "SET_TIER targets a participant or a group")
    try:
        outcome = tier_events.set_tier(
            scope.organization_id,
            scope.program.id,
            target.state_owner,
            action.required("tier"),
            action.required("level"),
            explicit_expiry=_moment(action.expires_at) if action.expires_at else None,
            source=scope.source,
        )
    except tier_events.UnknownTier as error:
        raise ActionFailed(kind, str(error)) from None
    resolved: dict[str, Any] = {"tier": outcome.tier_key, "level": outcome.level, "target_id": target.id}
    if outcome.skipped is not None:
        return ActionResult({"type": kind, "resolved": {**resolved, "skipped": outcome.skipped}})
    resolved["changed"] = outcome.change is not None
    if outcome.expires_at is not None:
        resolved["expires_at"] = clock.to_rfc3339(outcome.expires_at)
    result = ActionResult({"type": kind, "resolved": resolved})
    if outcome.change is not None:
        change = outcome.change
        result.state_changes.append(
            _change(scope, target, "tier", change.tier_key, "set", change.old_level, change.new_level)
        )
    return result


RUNNERS: dict[RuleActionType, Callable[[RuleAction, ActionScope], ActionResult]] = {
    RuleActionType.CREDIT: _credit,
    RuleActionType.DEBIT: _debit,
    RuleActionType.HOLD: _balance_operation,
    RuleActionType.RELEASE: _balance_operation,
    RuleActionType.FORFEIT: _balance_operation,
    RuleActionType.VOID_HOLD: _balance_operation,
    RuleActionType.TAG: _tag,
    RuleActionType.UNTAG: _tag,
    RuleActionType.COUNTER: _counter,
    RuleActionType.SET_ATTRIBUTE: _set_attribute,
    RuleActionType.SCHEDULE_EVENT: _schedule,
    RuleActionType.BROADCAST: _broadcast,
    RuleActionType.SET_TIER: _set_tier,
}
