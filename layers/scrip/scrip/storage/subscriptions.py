"""participant_state subscriptions (06 §1.8): the subscription, its list entry and its due entry.

* ``ORG#o#AUTOMATION#a#SUBSCRIPTION#<p>`` / ``#``: the subscription of participant ``p``, guarded
  by ``version``; a partition per participant, so a fire pass's thousands of saves spread.
* ``ORG#o#AUTOMATION#a#SUBSCRIPTIONS`` / ``<next_trigger_at or ~>#<p>``: the list entry, a copy of
  the subscription, sorted as the list route returns it (``next_trigger_at`` ascending, nulls
  last: ``~`` sorts after every timestamp). The status filter runs on the entries.
* ``ORG#o#PARTICIPANT#p#THRESHOLDWATCH`` / ``<a>``: the counter an active THRESHOLD
  subscription of ``p`` watches, read by each counter change of ``p`` (one small Query).
* ``DUE#SUBSCRIPTION#<hour>#<shard>`` / ``<due_at>#<org>#<a>#<p>``: the fire pass's due index,
  sharded by participant id (a birthday automation's 09:00 fires fall in one minute). An
  active subscription with a ``next_trigger_at`` has one entry; nothing else has one.

``save_writes`` moves the list and due entries in the transaction of the subscription's save, so
neither index disagrees with a committed subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.subscriptions import Subscription, SubscriptionStatus
from scrip.storage import due_index, items, keys, listing, table, transactions

SHARDS = keys.SUBSCRIPTIONS_DUE_SHARDS


class StaleSubscription(Exception):
    """Another writer changed the subscription between our read and our write."""


def _key(org_id: str, automation_id: str, participant_id: str) -> dict[str, str]:
    return {"PK": keys.subscription(org_id, automation_id, participant_id), "SK": keys.ENTITY_SK}


def _list_key(s: Subscription) -> dict[str, str]:
    return {
        "PK": keys.automation_subscriptions(s.organization_id, s.automation_id),
        "SK": keys.subscription_list_entry(items.timestamp(s.next_trigger_at), s.participant_id),
    }


def _attributes(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "organization_id": s.organization_id,
        "program_id": s.program_id,
        "automation_id": s.automation_id,
        "participant_id": s.participant_id,
        "status": s.status.value,
        "next_trigger_at": items.timestamp(s.next_trigger_at),
        "last_triggered_at": items.timestamp(s.last_triggered_at),
        "trigger_count": s.trigger_count,
        "retry_count": s.retry_count,
        "last_error": s.last_error,
        "subscribed_at": items.timestamp(s.subscribed_at),
        "created_at": items.timestamp(s.created_at),
        "updated_at": items.timestamp(s.updated_at),
        "version": s.version,
        "watched_counter": s.watched_counter,
    }


def from_item(item: dict[str, Any]) -> Subscription:
    subscribed_at, created_at, updated_at = (
        items.moment(item["subscribed_at"]),
        items.moment(item["created_at"]),
        items.moment(item["updated_at"]),
    )
    assert subscribed_at is not None and created_at is not None and updated_at is not None
    return Subscription(
        id=str(item["id"]),
        organization_id=str(item["organization_id"]),
        program_id=str(item["program_id"]),
        automation_id=str(item["automation_id"]),
        participant_id=str(item["participant_id"]),
        status=SubscriptionStatus(item["status"]),
        next_trigger_at=items.moment(item.get("next_trigger_at")),
        last_triggered_at=items.moment(item.get("last_triggered_at")),
        trigger_count=int(item["trigger_count"]),
        retry_count=int(item["retry_count"]),
        last_error=item.get("last_error"),
        subscribed_at=subscribed_at,
        created_at=created_at,
        updated_at=updated_at,
        version=int(item["version"]),
        watched_counter=item.get("watched_counter"),
    )


def get(org_id: str, automation_id: str, participant_id: str) -> Subscription | None:
    got = table.client().get_item(
        TableName=table.table_name(), Key=_key(org_id, automation_id, participant_id), ConsistentRead=True
    )
    item = got.get("Item")
    return from_item(item) if item is not None else None


def get_many(org_id: str, automation_id: str, participant_ids: list[str]) -> dict[str, Subscription]:
    """The subscriptions of these participants that exist, by participant id (one batch read)."""
    found = listing.read_items([_key(org_id, automation_id, p) for p in participant_ids])
    return {str(item["participant_id"]): from_item(item) for item in found}


# --- the due index -----------------------------------------------------------------------------


def due_entry_key(s: Subscription) -> dict[str, str] | None:
    due_at = s.due_at
    if due_at is None:
        return None
    return {
        "PK": keys.subscriptions_due(due_at.strftime("%Y-%m-%dT%H"), keys.shard_of(s.participant_id, SHARDS)),
        "SK": keys.subscription_due_entry(
            items.timestamp(due_at) or "", s.organization_id, s.automation_id, s.participant_id
        ),
    }


@dataclass(frozen=True)
class DueEntry:
    organization_id: str
    automation_id: str
    participant_id: str
    due_at: datetime
    key: dict[str, str]


def due_entries(hour: datetime, shard: int, until: datetime) -> list[DueEntry]:
    """One shard of one hour's due index: the entries due at or before ``until``, earliest first."""
    partition = keys.subscriptions_due(hour.strftime("%Y-%m-%dT%H"), shard)
    entries = []
    for item in listing.read_up_to(partition, keys.due_entries_up_to(items.timestamp(until) or "")):
        due_at = items.moment(item["due_at"])
        assert due_at is not None
        entries.append(
            DueEntry(
                organization_id=str(item["organization_id"]),
                automation_id=str(item["automation_id"]),
                participant_id=str(item["participant_id"]),
                due_at=due_at,
                key={"PK": str(item["PK"]), "SK": str(item["SK"])},
            )
        )
    return entries


def due_partition(hour: datetime, shard: int) -> str:
    return keys.subscriptions_due(hour.strftime("%Y-%m-%dT%H"), shard)


def has_due(partition: str, until: datetime) -> bool:
    """Whether one shard-hour holds an entry due by ``until`` (a one-item Query)."""
    response = table.client().query(
        TableName=table.table_name(),
        KeyConditionExpression="PK = :pk AND SK <= :last",
        ExpressionAttributeValues={":pk": partition, ":last": keys.due_entries_up_to(items.timestamp(until) or "")},
        ProjectionExpression="PK",
        Limit=1,
        ConsistentRead=True,
    )
    return bool(response.get("Items"))


def due_page(partition: str, until: datetime, *, after: str | None, limit: int) -> tuple[list[str], bool]:
    """The sort keys of up to ``limit`` entries of one shard-hour due by ``until``, after the sort
    key ``after``, earliest first; and whether more may follow."""
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": "PK = :pk AND SK <= :last",
        "ExpressionAttributeValues": {":pk": partition, ":last": keys.due_entries_up_to(items.timestamp(until) or "")},
        "ProjectionExpression": "SK",
        "Limit": limit,
        "ConsistentRead": True,  # a page retried after its fires must see their entries gone
    }
    if after is not None:
        params["ExclusiveStartKey"] = {"PK": partition, "SK": after}
    response = table.client().query(**params)
    return [str(item["SK"]) for item in response.get("Items", [])], "LastEvaluatedKey" in response


def entry_of(partition: str, sort_key: str) -> DueEntry:
    """A due entry from its key alone (``<due_at>#<org>#<a>#<p>``): a page needs no second read."""
    due_at, org_id, automation_id, participant_id = sort_key.split("#")
    moment = items.moment(due_at)
    assert moment is not None
    return DueEntry(org_id, automation_id, participant_id, moment, {"PK": partition, "SK": sort_key})


def delete_due_entry(key: dict[str, str]) -> transactions.Write:
    return transactions.delete(key)


def due_checkpoint() -> datetime | None:
    return due_index.checkpoint(keys.SUBSCRIPTIONS_DUE_CHECKPOINT)


def save_due_checkpoint(hour: datetime) -> None:
    due_index.save_checkpoint(keys.SUBSCRIPTIONS_DUE_CHECKPOINT, hour)


# --- saves -------------------------------------------------------------------------------------


def save_writes(before: Subscription | None, after: Subscription) -> list[transactions.Write]:
    """Put ``after`` on condition that the stored one is still ``before`` (absent when None),
    with its list and due entries moved: for one transaction (``StaleSubscription`` otherwise)."""
    condition = Attr("PK").not_exists() if before is None else Attr("version").eq(before.version)
    attributes = _attributes(after)
    writes = [
        transactions.put(
            {**_key(after.organization_id, after.automation_id, after.participant_id), "entity": "SUBSCRIPTION"}
            | attributes,
            condition=condition,
            on_condition_failed=StaleSubscription,
        )
    ]
    if before is not None and _list_key(before) != _list_key(after):
        writes.append(transactions.delete(_list_key(before)))
    writes.append(transactions.put({**_list_key(after), "entity": "SUBSCRIPTION_LIST"} | attributes))
    old_due = due_entry_key(before) if before is not None else None
    new_due = due_entry_key(after)
    if old_due is not None and old_due != new_due:
        writes.append(transactions.delete(old_due))
    if new_due is not None and new_due != old_due:
        writes.append(
            transactions.put(
                {
                    **new_due,
                    "entity": "SUBSCRIPTION_DUE",
                    "organization_id": after.organization_id,
                    "automation_id": after.automation_id,
                    "participant_id": after.participant_id,
                    "due_at": items.timestamp(after.due_at),
                }
            )
        )
    writes.extend(_watch_writes(before, after))
    return writes


def _watch_key(s: Subscription) -> dict[str, str]:
    return {"PK": keys.threshold_watches(s.organization_id, s.participant_id), "SK": s.automation_id}


def _watch_writes(before: Subscription | None, after: Subscription) -> list[transactions.Write]:
    old = before.watching if before is not None else None
    new = after.watching
    if old == new:
        return []
    if new is None:
        return [transactions.delete(_watch_key(after))]
    return [
        transactions.put(
            {**_watch_key(after), "entity": "THRESHOLD_WATCH", "automation_id": after.automation_id, "counter": new}
        )
    ]


@dataclass(frozen=True)
class CounterChange:
    organization_id: str
    participant_id: str
    counter: str
    old_value: str | None
    new_value: str | None
    changed_at: datetime


def counter_change(image: dict[str, Any]) -> CounterChange | None:
    """A participant's counter history line (its stream image, ``storage/state.py``); None for a
    group's or a program's line, which no subscription watches."""
    owner = keys.participant_of_state_history(str(image.get("PK", "")))
    changed_at = items.moment(image.get("changed_at"))
    if owner is None or changed_at is None or image.get("state_type") != "counter":
        return None
    old, new = image.get("old_value"), image.get("new_value")
    return CounterChange(
        organization_id=owner[0],
        participant_id=owner[1],
        counter=str(image["key"]),
        old_value=str(old) if old is not None else None,
        new_value=str(new) if new is not None else None,
        changed_at=changed_at,
    )


def watches(org_id: str, participant_id: str, counter: str) -> list[str]:
    """The automations whose active THRESHOLD subscription of this participant watches ``counter``."""
    found = listing.read_all(keys.threshold_watches(org_id, participant_id), item_filter=Attr("counter").eq(counter))
    return [str(item["automation_id"]) for item in found]


def save(before: Subscription | None, after: Subscription) -> None:
    transactions.write(save_writes(before, after))


def list_page(
    org_id: str, automation_id: str, *, limit: int, after: str | None, status: SubscriptionStatus | None
) -> tuple[list[Subscription], str | None]:
    """A page of the automation's subscriptions by ``next_trigger_at`` (nulls last), and the
    sort key to resume after (one Query of the automation's list partition)."""
    found, has_more = listing.read_page(
        keys.automation_subscriptions(org_id, automation_id),
        limit=limit,
        after=after,
        descending=False,
        item_filter=Attr("status").eq(status.value) if status is not None else None,
    )
    resume_after = str(found[-1]["SK"]) if has_more and found else None
    return [from_item(item) for item in found], resume_after
