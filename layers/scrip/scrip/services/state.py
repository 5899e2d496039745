"""State use cases (02 §2): tags, counters, attributes and their history, for every owner."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from scrip.domain import clock, ids
from scrip.domain.errors import NotFound, ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.state import (
    Counter,
    Operation,
    Owner,
    OwnerKind,
    StateChange,
    StateType,
    check_key,
    counter_text,
    normalize_tag,
    parse_duration,
)
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.storage import groups as group_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage import state as state_store
from scrip.storage import transactions

# Each changed key costs two items (the key and its history line) of a 100-item transaction.
MAX_CHANGES_PER_REQUEST = 45
_STATE_RETRY = StaleRetry(
    state_store.StaleState,
    pause_step_seconds=0.002,
    conflict_message="the state changed concurrently too often; retry the request",
)
# Counters are incremented by every event of a participant at once: many more attempts.
_INCREMENT_RETRY = replace(_STATE_RETRY, attempts=60)


@dataclass(frozen=True)
class ChangeSource:
    """Who changed the state: an API key, or a rule run for an event."""

    api_key_id: str | None = None
    event_id: str | None = None
    rule_id: str | None = None
    program_id: str | None = None
    event_timestamp: datetime | None = None


def source_of(caller: Caller) -> ChangeSource:
    return ChangeSource(api_key_id=caller.api_key_id)


def _change(
    state_type: StateType,
    key: str,
    operation: Operation,
    old: str | None,
    new: str | None,
    now: datetime,
    source: ChangeSource,
) -> StateChange:
    return StateChange(
        id=ids.new_id(),
        state_type=state_type,
        key=key,
        operation=operation,
        old_value=old,
        new_value=new,
        changed_at=now,
        changed_by_api_key_id=source.api_key_id,
        event_id=source.event_id,
        rule_id=source.rule_id,
        program_id=source.program_id,
        event_timestamp=source.event_timestamp,
    )


def require_state_owner(caller: Caller, owner: Owner, *, for_write: bool = False) -> None:
    """404 for an owner that is not in the caller's organization; an archived group is read-only."""
    org = caller.organization_id
    if owner.kind is OwnerKind.PARTICIPANT:
        participant_store.require(org, owner.id)
    elif owner.kind is OwnerKind.PROGRAM:
        program_store.require(org, owner.id)
    else:
        group = group_store.require(org, owner.id)
        if for_write:
            group.require_active()


def _check_change_count(count: int) -> None:
    if count > MAX_CHANGES_PER_REQUEST:
        raise ValidationFailed(
            f"at most {MAX_CHANGES_PER_REQUEST} keys can change in one request",
            reason="too_many_changes",
            expected=f"<= {MAX_CHANGES_PER_REQUEST}",
            received=count,
        )


def _page_cursor(scope: str, resume_after: str | None) -> str | None:
    return encode_cursor(resume_after, scope) if resume_after else None


def _state_page(
    caller: Caller, owner: Owner, prefix: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an owner's tags, counters or attributes (by ``prefix``), in key order."""
    require_state_owner(caller, owner)
    scope = scope_signature(prefix, caller.organization_id, owner.kind, owner.id)
    after = decode_cursor(cursor, scope) if cursor else None
    found, resume = state_store.page(caller.organization_id, owner, prefix, limit=limit, after=after)
    return found, _page_cursor(scope, resume)


# -------------------------------------------------------------------- tags


def list_tags(caller: Caller, owner: Owner, *, limit: int, cursor: str | None) -> Page[str]:
    found, next_cursor = _state_page(caller, owner, state_store.TAG, limit=limit, cursor=cursor)
    return Page([i["tag"] for i in found], next_cursor)


class _AlreadyTagged(state_store.StaleState):
    """The tag is there already. Staged in an event's unit of work, the condition fails only at
    the commit, after this function returned: there it is a stale read, and the event re-plans."""


def add_tag(caller: Caller, owner: Owner, tag: str, source: ChangeSource | None = None) -> tuple[str, bool]:
    """Add one tag; (tag, True) when it was new, (tag, False) when it was already there."""
    tag = normalize_tag(tag)
    require_state_owner(caller, owner, for_write=True)
    org, now = caller.organization_id, clock.now()
    change = _change(StateType.TAG, tag, Operation.ADD, None, tag, now, source or source_of(caller))
    try:
        transactions.write(
            [
                state_store.owner_guard(org, owner),
                state_store.tag_add(org, owner, tag, _AlreadyTagged),
                state_store.history_put(org, owner, change),
            ]
        )
    except _AlreadyTagged:
        return tag, False
    return tag, True


def remove_tag(caller: Caller, owner: Owner, tag: str, source: ChangeSource | None = None) -> None:
    tag = normalize_tag(tag)
    require_state_owner(caller, owner, for_write=True)
    org = caller.organization_id

    def attempt() -> None:
        if tag not in state_store.read(org, owner).tags:
            return  # removing an absent tag is a successful no-op, and records nothing
        change = _change(StateType.TAG, tag, Operation.REMOVE, tag, None, clock.now(), source or source_of(caller))
        transactions.write(
            [
                state_store.owner_guard(org, owner),
                state_store.tag_remove(org, owner, tag),
                state_store.history_put(org, owner, change),
            ]
        )

    retry_on_stale(attempt, _STATE_RETRY)


def tag_replacement_writes(
    org: str, owner: Owner, current: list[str], wanted: list[str], now: datetime, source: ChangeSource
) -> list[transactions.Write]:
    """The writes that turn the ``current`` tag set into ``wanted``, with their history."""
    current_set, wanted_set = set(current), set(wanted)
    writes: list[transactions.Write] = []
    for tag in sorted(wanted_set - current_set):
        writes.append(state_store.tag_add(org, owner, tag, state_store.StaleState))
        writes.append(
            state_store.history_put(org, owner, _change(StateType.TAG, tag, Operation.ADD, None, tag, now, source))
        )
    for tag in sorted(current_set - wanted_set):
        writes.append(state_store.tag_remove(org, owner, tag))
        writes.append(
            state_store.history_put(org, owner, _change(StateType.TAG, tag, Operation.REMOVE, tag, None, now, source))
        )
    _check_change_count(len(writes) // 2)
    return writes


def replace_tags(caller: Caller, owner: Owner, tags: list[str]) -> list[str]:
    """Make the owner's tags exactly ``tags`` (bulk sync); returns the sorted new set."""
    wanted = sorted({normalize_tag(t) for t in tags})
    require_state_owner(caller, owner, for_write=True)
    org = caller.organization_id

    def attempt() -> None:
        writes = tag_replacement_writes(
            org, owner, state_store.read(org, owner).tags, wanted, clock.now(), source_of(caller)
        )
        if writes:
            transactions.write([state_store.owner_guard(org, owner), *writes])

    retry_on_stale(attempt, _STATE_RETRY)
    return wanted


# ---------------------------------------------------------------- counters


def list_counters(caller: Caller, owner: Owner, *, limit: int, cursor: str | None) -> Page[Counter]:
    found, next_cursor = _state_page(caller, owner, state_store.COUNTER, limit=limit, cursor=cursor)
    now = clock.now()
    return Page([state_store.counter_from_item(i).effective(now) for i in found], next_cursor)


def get_counter(caller: Caller, owner: Owner, key: str) -> Counter:
    require_state_owner(caller, owner)
    counter = state_store.get_counter(caller.organization_id, owner, key)
    if counter is None:
        raise NotFound(f"counter {key!r} not found")
    return counter.effective(clock.now())


_KEEP = object()


def set_counter(
    caller: Caller, owner: Owner, key: str, value: Decimal, reset_after: str | object | None = _KEEP
) -> Counter:
    """Absolute set (02 §2.3.4): restarts the reset window; ``reset_after`` "" removes it."""
    check_key(key)
    if isinstance(reset_after, str) and reset_after:
        parse_duration(reset_after)
    require_state_owner(caller, owner, for_write=True)
    org, source = caller.organization_id, source_of(caller)

    def attempt() -> Counter:
        now = clock.now()
        previous = state_store.get_counter(org, owner, key)
        keep = reset_after is _KEEP
        interval = (previous.reset_after if previous else None) if keep else (str(reset_after) or None)
        updated = Counter(key, value, interval, now if interval else None)
        old_text = counter_text(previous.effective(now).value) if previous else None
        change = _change(StateType.COUNTER, key, Operation.SET, old_text, counter_text(value), now, source)
        transactions.write(
            [
                state_store.owner_guard(org, owner),
                state_store.counter_put(org, owner, updated, previous),
                state_store.history_put(org, owner, change),
            ]
        )
        return updated

    return retry_on_stale(attempt, _STATE_RETRY)


def delete_counter(caller: Caller, owner: Owner, key: str) -> None:
    require_state_owner(caller, owner, for_write=True)
    org = caller.organization_id

    def attempt() -> None:
        previous = state_store.get_counter(org, owner, key)
        if previous is None:
            return
        now = clock.now()
        change = _change(
            StateType.COUNTER,
            key,
            Operation.DELETE,
            counter_text(previous.effective(now).value),
            None,
            now,
            source_of(caller),
        )
        transactions.write(
            [
                state_store.owner_guard(org, owner),
                state_store.counter_delete(org, owner, previous),
                state_store.history_put(org, owner, change),
            ]
        )

    retry_on_stale(attempt, _STATE_RETRY)


def increment_counter(
    organization_id: str,
    owner: Owner,
    key: str,
    delta: Decimal,
    *,
    source: ChangeSource,
    reset_after: str | None = None,
    now: datetime | None = None,
) -> Counter:
    """Add ``delta`` (the COUNTER action): never loses a concurrent increment.

    Each attempt writes ``old + delta`` on condition that the stored counter is still the
    one it read, so two concurrent increments cannot both build on the same old value; the
    loser re-reads and tries again. A window that has elapsed is reset to 0 first and the
    reset is recorded (``auto_reset``). COUNTER is a financial action: a SUSPENDED or CLOSED
    participant refuses it (409 participant_inactive).
    """
    check_key(key)
    if reset_after:
        parse_duration(reset_after)

    def attempt() -> Counter:
        moment = now or clock.now()
        previous = state_store.get_counter(organization_id, owner, key)
        writes = [state_store.owner_guard(organization_id, owner, financial=True)]
        # None keeps the counter's window, "" removes it (03 §5.4.8), a duration sets it.
        interval = (reset_after or None) if reset_after is not None else (previous.reset_after if previous else None)
        base, window_start = Decimal(0), moment if interval else None
        if previous is not None:
            if previous.window_elapsed(moment):
                writes.append(
                    state_store.history_put(
                        organization_id,
                        owner,
                        _change(
                            StateType.COUNTER,
                            key,
                            Operation.AUTO_RESET,
                            counter_text(previous.value),
                            "0",
                            moment,
                            source,
                        ),
                    )
                )
            else:
                base, window_start = previous.value, previous.last_reset_at if previous.reset_after else window_start
        updated = Counter(key, base + delta, interval, window_start if interval else None)
        writes.append(state_store.counter_put(organization_id, owner, updated, previous))
        old_text = counter_text(base) if previous is not None else None
        # History sorts by time: the increment is stamped just after a reset it follows.
        stamp = moment + timedelta(microseconds=1)
        change = _change(StateType.COUNTER, key, Operation.SET, old_text, counter_text(updated.value), stamp, source)
        writes.append(state_store.history_put(organization_id, owner, change))
        transactions.write(writes)
        return updated

    return retry_on_stale(attempt, _INCREMENT_RETRY)


# -------------------------------------------------------------- attributes


def list_attributes(caller: Caller, owner: Owner, *, limit: int, cursor: str | None) -> Page[tuple[str, str]]:
    found, next_cursor = _state_page(caller, owner, state_store.ATTRIBUTE, limit=limit, cursor=cursor)
    return Page([(i["key"], i["value"]) for i in found], next_cursor)


def attribute_merge_writes(
    org: str, owner: Owner, current: dict[str, str], attributes: dict[str, str], now: datetime, source: ChangeSource
) -> list[transactions.Write]:
    """The writes that set the listed attributes (changed ones only), with their history."""
    writes: list[transactions.Write] = []
    for key, value in attributes.items():
        check_key(key, "attributes")
        if current.get(key) == value:
            continue
        writes.append(state_store.attribute_put(org, owner, key, value, current.get(key)))
        change = _change(StateType.ATTRIBUTE, key, Operation.SET, current.get(key), value, now, source)
        writes.append(state_store.history_put(org, owner, change))
    _check_change_count(len(writes) // 2)
    return writes


def merge_attributes(
    caller: Caller, owner: Owner, attributes: dict[str, str], source: ChangeSource | None = None
) -> dict[str, str]:
    """Set the listed keys, keep the others; returns the full merged map."""
    for key in attributes:
        check_key(key, "attributes")
    require_state_owner(caller, owner, for_write=True)
    org = caller.organization_id

    def attempt() -> dict[str, str]:
        current = state_store.read(org, owner).attributes
        writes = attribute_merge_writes(org, owner, current, attributes, clock.now(), source or source_of(caller))
        if writes:
            transactions.write([state_store.owner_guard(org, owner), *writes])
        return {**current, **attributes}

    return retry_on_stale(attempt, _STATE_RETRY)


def set_attribute(
    caller: Caller, owner: Owner, key: str, value: str, source: ChangeSource | None = None
) -> tuple[str, str]:
    check_key(key)
    merge_attributes(caller, owner, {key: value}, source)
    return key, value


def delete_attribute(caller: Caller, owner: Owner, key: str) -> None:
    require_state_owner(caller, owner, for_write=True)
    org = caller.organization_id

    def attempt() -> None:
        current = state_store.read(org, owner).attributes
        if key not in current:
            return
        old = current[key]
        change = _change(StateType.ATTRIBUTE, key, Operation.DELETE, old, None, clock.now(), source_of(caller))
        transactions.write(
            [
                state_store.owner_guard(org, owner),
                state_store.attribute_delete(org, owner, key, old),
                state_store.history_put(org, owner, change),
            ]
        )

    retry_on_stale(attempt, _STATE_RETRY)


# ----------------------------------------------------------------- history


def state_history(
    caller: Caller,
    owner: Owner,
    *,
    limit: int,
    cursor: str | None,
    state_type: StateType | None = None,
    key: str | None = None,
    program_id: str | None = None,
    operation: Operation | None = None,
    changed_from: datetime | None = None,
    changed_to: datetime | None = None,
    event_from: datetime | None = None,
    event_to: datetime | None = None,
) -> Page[StateChange]:
    require_state_owner(caller, owner)
    scope = scope_signature(
        "state-history",
        caller.organization_id,
        owner.kind,
        owner.id,
        state_type,
        key,
        program_id,
        operation,
        changed_from,
        changed_to,
        event_from,
        event_to,
    )
    changes, resume = state_store.history_page(
        caller.organization_id,
        owner,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        state_type=state_type,
        key=key,
        program_id=program_id,
        operation=operation,
        changed_from=changed_from,
        changed_to=changed_to,
        event_from=event_from,
        event_to=event_to,
    )
    return Page(changes, _page_cursor(scope, resume))
