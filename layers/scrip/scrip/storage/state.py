"""Tags, counters and attributes, stored as items in their owner's partition.

``TAG#<tag>``, ``COUNTER#<key>`` and ``ATTR#<key>`` sit beside the owner's own item, so the
whole state of a participant (or group, or program) is one query, and each key can change
without rewriting the others. State history lines live in ``<owner partition>#STATEHISTORY``,
sorted by time, and are written in the same transaction as the change they record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.domain.errors import NotFound
from scrip.domain.groups import GroupArchived, GroupStatus
from scrip.domain.participants import ParticipantInactive, ParticipantStatus
from scrip.domain.state import Counter, Operation, Owner, OwnerKind, StateChange, StateType
from scrip.storage import items, keys, listing, read_cache, table, transactions

TAG, COUNTER, ATTRIBUTE = keys.TAG_PREFIX, keys.COUNTER_PREFIX, keys.ATTRIBUTE_PREFIX


def partition(org_id: str, owner: Owner) -> str:
    if owner.kind is OwnerKind.PARTICIPANT:
        return keys.participant(org_id, owner.id)
    if owner.kind is OwnerKind.GROUP:
        return keys.group(org_id, owner.id)
    return keys.program(org_id, owner.id)


class StaleState(Exception):
    """The state key changed between our read and our write."""


def owner_guard(org_id: str, owner: Owner, *, financial: bool = False) -> transactions.Write:
    """The owner exists (and a group is not archived) when the change commits.

    ``financial`` changes (the COUNTER action, 02 §1.3) also need an ACTIVE participant, and
    the check is part of the write, so a concurrent suspension cannot slip between the two.
    """
    key = {"PK": partition(org_id, owner), "SK": keys.ENTITY_SK}
    missing: Callable[[], Exception] = lambda: NotFound(f"{owner.kind.value.lower()} {owner.id} not found")  # noqa: E731
    if owner.kind is OwnerKind.PARTICIPANT and financial:

        def inactive() -> Exception:
            got = table.client().get_item(TableName=table.table_name(), Key=key, ConsistentRead=True).get("Item")
            return ParticipantInactive(owner.id, got["status"]) if got else missing()

        return transactions.condition_check(key, Attr("status").eq(ParticipantStatus.ACTIVE.value), inactive)
    if owner.kind is OwnerKind.GROUP:
        return transactions.condition_check(
            key, Attr("status").eq(GroupStatus.ACTIVE.value), lambda: GroupArchived(owner.id)
        )
    return transactions.condition_check(key, Attr("PK").exists(), missing)


@dataclass(frozen=True)
class OwnerState:
    tags: list[str]
    counters: dict[str, Counter]
    attributes: dict[str, str]


def _counter(item: dict[str, Any]) -> Counter:
    return Counter(
        key=item["key"],
        value=Decimal(item["value"]),
        reset_after=item.get("reset_after"),
        last_reset_at=items.moment(item.get("last_reset_at")),
    )


def read(org_id: str, owner: Owner) -> OwnerState:
    """Every tag, counter and attribute of the owner, read consistently."""
    tags: list[str] = []
    counters: dict[str, Counter] = {}
    attributes: dict[str, str] = {}
    for item in read_cache.partition_items(partition(org_id, owner)):
        sort_key = str(item["SK"])
        if sort_key.startswith(TAG):
            tags.append(item["tag"])
        elif sort_key.startswith(COUNTER):
            counters[item["key"]] = _counter(item)
        elif sort_key.startswith(ATTRIBUTE):
            attributes[item["key"]] = item["value"]
    return OwnerState(tags, counters, attributes)


def get_counter(org_id: str, owner: Owner, key: str) -> Counter | None:
    item = read_cache.get_item({"PK": partition(org_id, owner), "SK": COUNTER + key})
    return _counter(item) if item else None


def page(
    org_id: str, owner: Owner, prefix: str, *, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of one kind of state item, in key order."""
    condition = Key("PK").eq(partition(org_id, owner))
    condition &= Key("SK").between(after + "\x00", prefix + "\U0010ffff") if after else Key("SK").begins_with(prefix)
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": condition,
        "ConsistentRead": True,
        "Limit": limit + 1,
    }
    while len(found) <= limit:
        response = table.client().query(**params)
        found.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    more = len(found) > limit
    found = found[:limit]
    return found, (str(found[-1]["SK"]) if found and more else None)


def counter_from_item(item: dict[str, Any]) -> Counter:
    return _counter(item)


# ---------------------------------------------------------------- writes


def tag_add(org_id: str, owner: Owner, tag: str, on_exists: Callable[[], Exception]) -> transactions.Write:
    return transactions.put(
        {"PK": partition(org_id, owner), "SK": TAG + tag, "entity": "TAG", "tag": tag},
        condition=Attr("PK").not_exists(),
        on_condition_failed=on_exists,
    )


def tag_remove(org_id: str, owner: Owner, tag: str) -> transactions.Write:
    """Remove a tag read as present (else ``StaleState``): two racing removals record one change."""
    return transactions.delete(
        {"PK": partition(org_id, owner), "SK": TAG + tag},
        condition=Attr("PK").exists(),
        on_condition_failed=StaleState,
    )


def _unchanged_counter(previous: Counter | None) -> Any:
    if previous is None:
        return Attr("PK").not_exists()
    condition = Attr("value").eq(previous.value)
    last_reset = items.timestamp(previous.last_reset_at)
    return condition & (Attr("last_reset_at").eq(last_reset) if last_reset else Attr("last_reset_at").not_exists())


def counter_put(org_id: str, owner: Owner, counter: Counter, previous: Counter | None) -> transactions.Write:
    """Write ``counter`` if the stored one is still ``previous`` (else ``StaleState``)."""
    return transactions.put(
        {
            "PK": partition(org_id, owner),
            "SK": COUNTER + counter.key,
            "entity": "COUNTER",
            "key": counter.key,
            "value": counter.value,
            "reset_after": counter.reset_after,
            "last_reset_at": items.timestamp(counter.last_reset_at),
        },
        condition=_unchanged_counter(previous),
        on_condition_failed=StaleState,
    )


def counter_delete(org_id: str, owner: Owner, previous: Counter) -> transactions.Write:
    """Delete the counter if the stored one is still ``previous`` (else ``StaleState``)."""
    return transactions.delete(
        {"PK": partition(org_id, owner), "SK": COUNTER + previous.key},
        condition=_unchanged_counter(previous),
        on_condition_failed=StaleState,
    )


def _unchanged_attribute(previous: str | None) -> Any:
    return Attr("PK").not_exists() if previous is None else Attr("value").eq(previous)


def attribute_put(org_id: str, owner: Owner, key: str, value: str, previous: str | None) -> transactions.Write:
    """Write the attribute if it still holds ``previous`` (None: absent), else ``StaleState``.

    The history line written beside it records ``previous`` as its old value, so the
    condition is what keeps the history a chain when two writers race.
    """
    return transactions.put(
        {"PK": partition(org_id, owner), "SK": ATTRIBUTE + key, "entity": "ATTRIBUTE", "key": key, "value": value},
        condition=_unchanged_attribute(previous),
        on_condition_failed=StaleState,
    )


def attribute_delete(org_id: str, owner: Owner, key: str, previous: str) -> transactions.Write:
    """Delete the attribute if it still holds ``previous`` (else ``StaleState``)."""
    return transactions.delete(
        {"PK": partition(org_id, owner), "SK": ATTRIBUTE + key},
        condition=_unchanged_attribute(previous),
        on_condition_failed=StaleState,
    )


# --------------------------------------------------------------- history


def history_put(
    org_id: str, owner: Owner, change: StateChange, extra: dict[str, Any] | None = None
) -> transactions.Write:
    """``extra``: attributes a consumer of the line's stream record needs (a tier change's
    ranks and source, read by the webhook dispatcher); the history API does not show them."""
    changed_at = items.timestamp(change.changed_at)
    return transactions.put(
        {
            "PK": keys.state_history(partition(org_id, owner)),
            "SK": keys.list_sort_key(changed_at, change.id),
            "entity": "STATE_CHANGE",
            "id": change.id,
            "state_type": change.state_type.value,
            "key": change.key,
            "operation": change.operation.value,
            "old_value": change.old_value,
            "new_value": change.new_value,
            "changed_at": changed_at,
            "changed_by_api_key_id": change.changed_by_api_key_id,
            "event_id": change.event_id,
            "rule_id": change.rule_id,
            "program_id": change.program_id,
            # Entries without an event fall back to their own time for event_from/event_to.
            "event_timestamp": items.timestamp(change.event_timestamp or change.changed_at),
            **(extra or {}),
        },
        # A change's fresh id proves that a re-sent transaction already committed (storage.transactions).
        proves_commit=True,
    )


def _change(item: dict[str, Any]) -> StateChange:
    changed_at = items.moment(item["changed_at"])
    assert changed_at is not None
    return StateChange(
        id=item["id"],
        state_type=StateType(item["state_type"]),
        key=item["key"],
        operation=Operation(item["operation"]),
        old_value=item.get("old_value"),
        new_value=item.get("new_value"),
        changed_at=changed_at,
        changed_by_api_key_id=item.get("changed_by_api_key_id"),
        event_id=item.get("event_id"),
        rule_id=item.get("rule_id"),
        program_id=item.get("program_id"),
        event_timestamp=items.moment(item.get("event_timestamp")),
    )


def history_page(
    org_id: str,
    owner: Owner,
    *,
    limit: int,
    after: str | None,
    state_type: StateType | None,
    key: str | None,
    program_id: str | None,
    operation: Operation | None,
    changed_from: datetime | None,
    changed_to: datetime | None,
    event_from: datetime | None,
    event_to: datetime | None,
) -> tuple[list[StateChange], str | None]:
    """Newest first, every criterion a filter on the owner's history partition."""
    conditions = []
    for attribute, value in (
        ("state_type", state_type),
        ("key", key),
        ("program_id", program_id),
        ("operation", operation),
    ):
        if value is not None:
            conditions.append(Attr(attribute).eq(str(value)))
    conditions += listing.within("changed_at", changed_from, changed_to)
    conditions += listing.within("event_timestamp", event_from, event_to)
    item_filter = listing.all_of(conditions)
    found, more = listing.read_page(
        keys.state_history(partition(org_id, owner)), limit=limit, after=after, descending=True, item_filter=item_filter
    )
    return [_change(i) for i in found], (str(found[-1]["SK"]) if found and more else None)
