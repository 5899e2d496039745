"""Rewards (05 §1): the reward item, its inventory, its name claim and its program's lists.

Partition ``ORG#o#REWARD#<r>`` holds the reward's definition (``#``, guarded by ``version``) and
its inventory (``INVENTORY``: ``redeemed_count`` and a copy of ``max_total``). They are separate
items so that a PATCH (a versioned put of the definition) never overwrites a count that
redemptions move, and a redemption never conflicts with a PATCH that leaves the cap alone.

Inventory, the contract for redemptions and reversals (``take`` / ``give_back``, each one
``Update`` to put in the operation's own transaction):

* A capped reward (``max_total`` set) counts on its ``INVENTORY`` item: ``take`` adds the
  quantity on condition that the cap is still the one read and ``redeemed_count <= max_total -
  quantity``, so concurrent redemptions never oversell; the loser gets ``InventoryRace`` and
  re-reads (out of stock, or the cap changed).
* An uncapped reward counts on one of ``REWARD_COUNT_SHARDS`` shard items chosen at random
  (``ADD``, conditioned only on the shard not being *sealed*), so a popular reward without a cap
  never serialises its redemptions on one item.
* ``redeemed_count`` = the ``INVENTORY`` count + the shards' counts. A PATCH that caps an
  uncapped reward folds the shards into ``INVENTORY`` and seals them in one transaction,
  conditioned on each shard still holding what was read; a PATCH that clears the cap deletes
  the (sealed, empty) shards. A redemption that planned against the other mode fails its
  condition and re-plans, so no unit is ever counted outside the cap.
* ``give_back`` subtracts from ``INVENTORY`` unconditionally: the sum stays right in either
  mode, and reversals are rare enough not to need shards.
* ``take_for_participant`` / ``give_back_for_participant`` do the same for
  ``max_per_participant`` on an item of the participant's own (``…#PARTICIPANT#<x>#REWARDCOUNTS``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import Conflict, NotFound
from scrip.domain.rewards import RedemptionType, Reward, RewardStatus, RewardView, stored_status
from scrip.storage import items, keys, listing, read_cache, transactions

_ENTITY = "REWARD"
BY_CREATED, BY_NAME = "BY_CREATED", "BY_NAME"


class StaleReward(Exception):
    """Another writer changed the reward (or its uncapped counts) between our read and our write."""


class InventoryRace(Exception):
    """A take lost: the reward is out of stock, or its cap changed since it was read; re-read."""


class ParticipantCapRace(Exception):
    """A participant's take would pass ``max_per_participant`` as read; re-read the count."""


def _key(org_id: str, reward_id: str) -> dict[str, str]:
    return {"PK": keys.reward(org_id, reward_id), "SK": keys.ENTITY_SK}


def _inventory_key(org_id: str, reward_id: str) -> dict[str, str]:
    return {"PK": keys.reward(org_id, reward_id), "SK": keys.REWARD_INVENTORY_SK}


def _shard_keys(org_id: str, reward_id: str) -> list[dict[str, str]]:
    return [
        {"PK": keys.reward_count(org_id, reward_id, shard), "SK": keys.ENTITY_SK}
        for shard in range(keys.REWARD_COUNT_SHARDS)
    ]


def _name_claim_key(reward: Reward) -> dict[str, str]:
    return {"PK": keys.reward_name(reward.organization_id, reward.program_id, reward.name), "SK": keys.ENTITY_SK}


def _attributes(reward: Reward) -> dict[str, Any]:
    return {
        "entity": _ENTITY,
        "organization_id": reward.organization_id,
        "program_id": reward.program_id,
        "id": reward.id,
        "name": reward.name,
        "name_lower": reward.name.lower(),
        "description": reward.description,
        "category": reward.category,
        "redemption_type": reward.redemption_type.value,
        "asset_id": reward.asset_id,
        "asset_scale": reward.asset_scale,
        "unit_cost": reward.unit_cost,
        "max_total": reward.max_total,
        "max_per_participant": reward.max_per_participant,
        "status": reward.status.value,
        "available_from": items.timestamp(reward.available_from),
        "available_until": items.timestamp(reward.available_until),
        # JSON text: DynamoDB refuses floats, and client metadata may hold any JSON number.
        "metadata": json.dumps(reward.metadata, separators=(",", ":")),
        "created_at": items.timestamp(reward.created_at),
        "updated_at": items.timestamp(reward.updated_at),
        "version": reward.version,
    }


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _from_item(item: dict[str, Any]) -> Reward:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Reward(
        organization_id=item["organization_id"],
        program_id=item["program_id"],
        id=item["id"],
        name=item["name"],
        description=item.get("description"),
        category=item.get("category"),
        redemption_type=RedemptionType(item["redemption_type"]),
        asset_id=item["asset_id"],
        asset_scale=int(item["asset_scale"]),
        unit_cost=Decimal(item["unit_cost"]),
        max_total=_optional_int(item.get("max_total")),
        max_per_participant=_optional_int(item.get("max_per_participant")),
        status=RewardStatus(item["status"]),
        available_from=items.moment(item.get("available_from")),
        available_until=items.moment(item.get("available_until")),
        metadata=json.loads(item.get("metadata") or "{}"),
        created_at=created_at,
        updated_at=updated_at,
        version=int(item["version"]),
    )


def _by_name_sort_key(reward: Reward) -> str:
    return keys.list_sort_key(reward.name.lower(), reward.id)


def _list_entries(reward: Reward) -> list[transactions.Write]:
    """Full copies of the definition (never of the counts, which redemptions move)."""
    attributes = _attributes(reward)
    created_at = items.timestamp(reward.created_at)
    assert created_at is not None
    org_id, program_id = reward.organization_id, reward.program_id
    return [
        transactions.put(
            {
                "PK": keys.program_rewards(org_id, program_id, BY_CREATED),
                "SK": keys.chronological(created_at, reward.id),
                **attributes,
            }
        ),
        transactions.put(
            {"PK": keys.program_rewards(org_id, program_id, BY_NAME), "SK": _by_name_sort_key(reward), **attributes}
        ),
    ]


def _claim_name(reward: Reward) -> transactions.Write:
    return transactions.put(
        {**_name_claim_key(reward), "entity": "REWARD_NAME", "reward_id": reward.id},
        condition=Attr("PK").not_exists(),
        on_condition_failed=lambda: Conflict(
            f"a reward named {reward.name!r} already exists in this program", details={"field": "name"}
        ),
    )


def create(reward: Reward) -> None:
    """The reward, its empty inventory, its name claim and its list entries, all or nothing."""
    org_id = reward.organization_id
    inventory: dict[str, Any] = {
        **_inventory_key(org_id, reward.id),
        "entity": "REWARD_INVENTORY",
        "redeemed_count": 0,
        "max_total": reward.max_total,
    }
    transactions.write(
        [
            transactions.condition_check(
                {"PK": keys.program(org_id, reward.program_id), "SK": keys.ENTITY_SK},
                Attr("PK").exists(),
                lambda: NotFound(f"program {reward.program_id} not found"),
            ),
            transactions.put({**_key(org_id, reward.id), **_attributes(reward)}, proves_commit=True),
            transactions.put(inventory),
            _claim_name(reward),
            *_list_entries(reward),
        ]
    )


@dataclass(frozen=True)
class _Counts:
    """An inventory as read: the ``INVENTORY`` count and each existing shard's item."""

    base: int
    shards: dict[str, dict[str, Any]]

    @property
    def redeemed_count(self) -> int:
        return self.base + sum(int(s.get("redeemed_count", 0)) for s in self.shards.values())


def _read_counts(rewards: Sequence[Reward]) -> dict[str, _Counts]:
    """Every reward's counts in one ``BatchGetItem`` round (shards only for uncapped rewards)."""
    wanted: list[dict[str, str]] = []
    for reward in rewards:
        wanted.append(_inventory_key(reward.organization_id, reward.id))
        if reward.max_total is None:
            wanted.extend(_shard_keys(reward.organization_id, reward.id))
    found = {(str(i["PK"]), str(i["SK"])): i for i in read_cache.get_items(wanted)}
    counts: dict[str, _Counts] = {}
    for reward in rewards:
        key = _inventory_key(reward.organization_id, reward.id)
        inventory = found.get((key["PK"], key["SK"]), {})
        shards: dict[str, dict[str, Any]] = {}
        if reward.max_total is None:
            for shard_key in _shard_keys(reward.organization_id, reward.id):
                item = found.get((shard_key["PK"], shard_key["SK"]))
                if item is not None:
                    shards[shard_key["PK"]] = item
        counts[reward.id] = _Counts(int(inventory.get("redeemed_count", 0)), shards)
    return counts


def get(org_id: str, reward_id: str) -> RewardView | None:
    item = read_cache.get_item(_key(org_id, reward_id))
    if item is None:
        return None
    reward = _from_item(item)
    return RewardView(reward, _read_counts([reward])[reward.id].redeemed_count)


def require(org_id: str, program_id: str, reward_id: str) -> RewardView:
    """The reward of that program: one of another program is as unknown as a missing one."""
    view = get(org_id, reward_id)
    if view is None or view.reward.program_id != program_id:
        raise NotFound(f"reward {reward_id} not found")
    return view


def _cap_writes(previous: Reward, updated: Reward) -> tuple[list[transactions.Write], int]:
    """The inventory writes of a change of ``max_total`` and the count they fold into ``INVENTORY``."""
    org_id, reward_id = updated.organization_id, updated.id
    inventory = _inventory_key(org_id, reward_id)
    if previous.max_total is None and updated.max_total is not None:
        counts = _read_counts([previous])[reward_id]
        folded = counts.redeemed_count - counts.base
        writes = [
            transactions.Write(
                "Update",
                {
                    "Key": inventory,
                    "UpdateExpression": "SET #max = :max ADD #count :folded",
                    "ConditionExpression": "attribute_not_exists(#max)",
                    "ExpressionAttributeNames": {"#max": "max_total", "#count": "redeemed_count"},
                    "ExpressionAttributeValues": {":max": updated.max_total, ":folded": folded},
                },
                StaleReward,
            )
        ]
        for shard_key in _shard_keys(org_id, reward_id):
            read = counts.shards.get(shard_key["PK"])
            # Sealed and emptied only if no redemption counted on it since the read.
            unchanged: Any = (
                Attr("PK").not_exists() if read is None else Attr("redeemed_count").eq(read["redeemed_count"])
            )
            writes.append(
                transactions.put(
                    {**shard_key, "entity": "REWARD_COUNT", "redeemed_count": 0, "sealed": True},
                    condition=unchanged,
                    on_condition_failed=StaleReward,
                )
            )
        return writes, folded
    if previous.max_total is not None and updated.max_total is None:
        writes = [
            transactions.Write(
                "Update",
                {
                    "Key": inventory,
                    "UpdateExpression": "REMOVE #max",
                    "ExpressionAttributeNames": {"#max": "max_total"},
                },
            ),
            *(transactions.delete(k) for k in _shard_keys(org_id, reward_id)),
        ]
        return writes, 0
    if previous.max_total != updated.max_total:
        return [
            transactions.Write(
                "Update",
                {
                    "Key": inventory,
                    "UpdateExpression": "SET #max = :max",
                    "ConditionExpression": "#max = :previous",
                    "ExpressionAttributeNames": {"#max": "max_total"},
                    "ExpressionAttributeValues": {":max": updated.max_total, ":previous": previous.max_total},
                },
                StaleReward,
            )
        ], 0
    return [], 0


def save(previous: RewardView, updated: Reward) -> RewardView:
    """Replace the definition (``updated.version`` is one higher) and move the inventory's cap,
    atomically; the reward as saved, with its count."""
    before = previous.reward
    org_id = updated.organization_id
    cap_writes, _ = _cap_writes(before, updated)
    writes = [
        transactions.put(
            {**_key(org_id, updated.id), **_attributes(updated)},
            condition=Attr("version").eq(before.version),
            on_condition_failed=StaleReward,
        ),
        *_list_entries(updated),
        *cap_writes,
    ]
    if _by_name_sort_key(before) != _by_name_sort_key(updated):
        writes.append(
            transactions.delete(
                {"PK": keys.program_rewards(org_id, before.program_id, BY_NAME), "SK": _by_name_sort_key(before)}
            )
        )
    if before.name.lower() != updated.name.lower():
        writes.append(transactions.delete(_name_claim_key(before)))
        writes.append(_claim_name(updated))
    transactions.write(writes)
    return RewardView(updated, _read_counts([updated])[updated.id].redeemed_count)


def take(reward: Reward, quantity: int) -> transactions.Write:
    """Count ``quantity`` units redeemed, within the cap (see the module docstring); for a
    redemption's transaction. ``InventoryRace`` when it lost: re-read, then out of stock or retry."""
    org_id = reward.organization_id
    if reward.max_total is not None:
        return transactions.Write(
            "Update",
            {
                "Key": _inventory_key(org_id, reward.id),
                "UpdateExpression": "ADD #count :quantity",
                "ConditionExpression": "#max = :max AND #count <= :ceiling",
                "ExpressionAttributeNames": {"#max": "max_total", "#count": "redeemed_count"},
                "ExpressionAttributeValues": {
                    ":quantity": quantity,
                    ":max": reward.max_total,
                    ":ceiling": reward.max_total - quantity,
                },
            },
            InventoryRace,
        )
    shard = random.randrange(keys.REWARD_COUNT_SHARDS)  # noqa: S311 - load spreading, not a secret
    return transactions.Write(
        "Update",
        {
            "Key": {"PK": keys.reward_count(org_id, reward.id, shard), "SK": keys.ENTITY_SK},
            "UpdateExpression": "SET #entity = :entity ADD #count :quantity",
            "ConditionExpression": "attribute_not_exists(#sealed)",
            "ExpressionAttributeNames": {"#entity": "entity", "#count": "redeemed_count", "#sealed": "sealed"},
            "ExpressionAttributeValues": {":entity": "REWARD_COUNT", ":quantity": quantity},
        },
        InventoryRace,
    )


def give_back(reward: Reward, quantity: int) -> transactions.Write:
    """Count ``quantity`` units un-redeemed (a reversal): never refused, right in either mode."""
    return transactions.Write(
        "Update",
        {
            "Key": _inventory_key(reward.organization_id, reward.id),
            "UpdateExpression": "ADD #count :quantity",
            "ExpressionAttributeNames": {"#count": "redeemed_count"},
            "ExpressionAttributeValues": {":quantity": -quantity},
        },
    )


def _participant_key(reward: Reward, participant_id: str) -> dict[str, str]:
    return {"PK": keys.participant_reward_counts(reward.organization_id, participant_id), "SK": reward.id}


def participant_count(reward: Reward, participant_id: str) -> int:
    """Units of ``reward`` the participant holds redeemed, net of reversals (consistent read)."""
    item = read_cache.get_item(_participant_key(reward, participant_id))
    return int(item["redeemed_count"]) if item else 0


def take_for_participant(reward: Reward, participant_id: str, quantity: int) -> transactions.Write:
    """Count ``quantity`` units against the participant's ``max_per_participant``, in the
    redemption's transaction: ``ADD`` on the participant's own item (no shared partition),
    conditioned on staying within the cap as read, so two concurrent redemptions by one participant
    never both pass it (``ParticipantCapRace``: re-read). Uncapped rewards count too, so that a cap
    set later applies to what was already redeemed. A cap changed while a redemption is in flight
    applies from the next one."""
    cap = reward.max_per_participant
    params: dict[str, Any] = {
        "Key": _participant_key(reward, participant_id),
        "UpdateExpression": "SET #entity = :entity ADD #count :quantity",
        "ExpressionAttributeNames": {"#entity": "entity", "#count": "redeemed_count"},
        "ExpressionAttributeValues": {":entity": "REWARD_PARTICIPANT_COUNT", ":quantity": quantity},
    }
    if cap is not None:
        if quantity > cap:
            raise ParticipantCapRace()  # more than the cap allows anyone: no write can pass
        params["ConditionExpression"] = "attribute_not_exists(#count) OR #count <= :ceiling"
        params["ExpressionAttributeValues"][":ceiling"] = cap - quantity
    return transactions.Write("Update", params, ParticipantCapRace)


def give_back_for_participant(reward: Reward, participant_id: str, quantity: int) -> transactions.Write:
    """Un-count ``quantity`` units of the participant's (a reversal): never refused."""
    return transactions.Write(
        "Update",
        {
            "Key": _participant_key(reward, participant_id),
            "UpdateExpression": "ADD #count :quantity",
            "ExpressionAttributeNames": {"#count": "redeemed_count"},
            "ExpressionAttributeValues": {":quantity": -quantity},
        },
    )


def list_page(
    org_id: str,
    program_id: str,
    *,
    sort_by: str,
    descending: bool,
    limit: int,
    after: str | None,
    statuses: set[RewardStatus] | None,
    search: str | None,
) -> tuple[list[RewardView], str | None]:
    """A page of a program's rewards and, when more follow, the sort key to resume after.

    Stored status and name run as filter expressions; ``ACTIVE`` and ``OUT_OF_STOCK`` depend on
    the counts, so those are told apart after reading them, reading on until the page is full.
    """
    partition = keys.program_rewards(org_id, program_id, BY_NAME if sort_by == "name" else BY_CREATED)
    conditions: list[Any] = []
    if statuses is not None:
        conditions.append(Attr("status").is_in(sorted({stored_status(s).value for s in statuses})))
    if search:
        conditions.append(Attr("name_lower").contains(search.lower()))
    item_filter = listing.all_of(conditions)
    kept: list[tuple[str, RewardView]] = []
    position = after
    while True:
        found, has_more = listing.read_page(
            partition, limit=limit + 1 - len(kept), after=position, descending=descending, item_filter=item_filter
        )
        rewards = [_from_item(i) for i in found]
        counts = _read_counts(rewards)
        for item, reward in zip(found, rewards, strict=True):
            view = RewardView(reward, counts[reward.id].redeemed_count)
            if statuses is None or view.status in statuses:
                kept.append((str(item["SK"]), view))
        if len(kept) > limit or not has_more or not found:
            break
        position = str(found[-1]["SK"])
    page = kept[:limit]
    return [view for _, view in page], (page[-1][0] if len(kept) > limit else None)


def priced_in(org_id: str, program_id: str, asset_id: str) -> list[str]:
    """Ids of the program's rewards not archived that are priced in ``asset_id``, oldest first:
    one Query of the program's list (filtered), for unlinking the asset (01 §6.9.7)."""
    found = listing.query_all(
        keys.program_rewards(org_id, program_id, BY_CREATED),
        item_filter=Attr("asset_id").eq(asset_id) & Attr("status").ne(RewardStatus.ARCHIVED.value),
    )
    return [str(item["id"]) for item in found]
