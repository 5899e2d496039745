"""Tier definitions and owners' levels in them (02 §4).

A tier definition is one item in its program's ``…#TIERS`` partition, sort key = the tier key:
the create is a put conditioned on the key's absence (unique keys without a claim item), the
list is one Query, and a PATCH is a put conditioned on the ``version`` read. Levels and the
lifecycle are stored as JSON text (client ``benefits`` may hold any JSON number, which
DynamoDB's float-free types refuse).

An owner's level in one tier is the ``TIER#<program>#<tier key>`` item in the owner's own
partition (beside its tags and counters, so an event's one Query of the participant partition
reads it), guarded by ``version`` so that two writers that read the same level never both apply.
An ``expires_at`` also files an entry in the ``DUE#TIER_EXPIRY#<hour>#<shard>`` index (lots'
pattern) that the lifecycle job reads, unless the period-end fan-out evaluates the level
(``indexed`` False); replacing or removing the level moves or deletes it. The same index holds
each period-based tier's next boundary (``period_due_writes``), and the owner's partition a
marker of the last boundary its period end was evaluated at (``period_marker_put``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain import tier_lifecycle
from scrip.domain.errors import Conflict, NotFound
from scrip.domain.programs import ProgramStatus
from scrip.domain.state import Owner, OwnerKind
from scrip.domain.tiers import (
    Level,
    ProgramArchived,
    Tier,
    TierArchived,
    TierState,
    TierStatus,
    lifecycle_document,
    parse_lifecycle,
    parse_qualification,
    qualification_document,
)
from scrip.storage import due_index, items, keys, listing, read_cache, transactions

DUE_SHARDS = keys.LOTS_DUE_SHARDS
# The two kinds of entry of the tier due index: an owner's level whose ``expires_at`` falls due,
# and a tier's next period boundary (the lifecycle job starts its period-end fan-out then).
DUE_STATE, DUE_PERIOD = "STATE", "PERIOD"


class StaleTier(Exception):
    """The tier definition changed between our read and our write."""


class StaleTierState(Exception):
    """The owner's level in the tier changed between our read and our write."""


# ------------------------------------------------------------ definitions


def _key(org_id: str, program_id: str, tier_key: str) -> dict[str, str]:
    return {"PK": keys.program_tiers(org_id, program_id), "SK": tier_key}


def _level_document(level: Level) -> dict[str, Any]:
    return {
        "id": level.id,
        "key": level.key,
        "rank": level.rank,
        "display_name": level.display_name,
        "qualification": qualification_document(level.qualification),
        "benefits": level.benefits,
        "color": level.color,
        "icon_url": level.icon_url,
        "created_at": items.timestamp(level.created_at),
        "updated_at": items.timestamp(level.updated_at),
    }


def _level(document: dict[str, Any]) -> Level:
    created_at, updated_at = items.moment(document["created_at"]), items.moment(document["updated_at"])
    assert created_at is not None and updated_at is not None
    return Level(
        id=document["id"],
        key=document["key"],
        rank=int(document["rank"]),
        display_name=document.get("display_name"),
        qualification=parse_qualification(document.get("qualification"), field="qualification"),
        benefits=document.get("benefits"),
        color=document.get("color"),
        icon_url=document.get("icon_url"),
        created_at=created_at,
        updated_at=updated_at,
    )


def _attributes(org_id: str, tier: Tier, version: int) -> dict[str, Any]:
    return {
        "entity": "TIER",
        "organization_id": org_id,
        "program_id": tier.program_id,
        "id": tier.id,
        "key": tier.key,
        "display_name": tier.display_name,
        "levels": json.dumps([_level_document(level) for level in tier.levels], separators=(",", ":")),
        "lifecycle": json.dumps(lifecycle_document(tier.lifecycle), separators=(",", ":")),
        "status": tier.status.value,
        "archived_at": items.timestamp(tier.archived_at),
        "created_at": items.timestamp(tier.created_at),
        "updated_at": items.timestamp(tier.updated_at),
        "version": version,
    }


@dataclass(frozen=True)
class StoredTier:
    tier: Tier
    version: int


def _from_item(item: dict[str, Any]) -> StoredTier:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    tier = Tier(
        id=item["id"],
        program_id=item["program_id"],
        key=item["key"],
        display_name=item.get("display_name"),
        levels=tuple(_level(d) for d in json.loads(item["levels"])),
        lifecycle=parse_lifecycle(json.loads(item.get("lifecycle") or "{}")),
        status=TierStatus(item["status"]),
        archived_at=items.moment(item.get("archived_at")),
        created_at=created_at,
        updated_at=updated_at,
    )
    return StoredTier(tier, int(item["version"]))


def program_not_archived(org_id: str, program_id: str) -> transactions.Write:
    """The program exists and is not archived when the write commits (02 §4.7.5)."""
    return transactions.condition_check(
        {"PK": keys.program(org_id, program_id), "SK": keys.ENTITY_SK},
        Attr("status").ne(ProgramStatus.ARCHIVED.value),
        lambda: ProgramArchived(program_id),
    )


def period_due_writes(org_id: str, tier: Tier, after: datetime) -> list[transactions.Write]:
    """The entry that makes the tier's first period boundary after ``after`` findable by the
    lifecycle job without a scan ([] when the lifecycle has no boundaries). Put unconditionally:
    the same boundary filed twice is one item; an entry a later PATCH made stale is dropped by
    the job, which checks the boundary against the tier it reads."""
    boundary = tier_lifecycle.next_boundary(tier.lifecycle, after)
    if boundary is None or tier.status is not TierStatus.ACTIVE:
        return []
    partition, sort_key = keys.program_tiers(org_id, tier.program_id), tier.key
    due_at = items.timestamp(boundary) or ""
    return [
        transactions.put(
            {
                "PK": keys.tiers_due(boundary.strftime("%Y-%m-%dT%H"), keys.shard_of(partition + sort_key, DUE_SHARDS)),
                "SK": keys.due_entry(due_at, partition, sort_key),
                "entity": "TIER_DUE",
                "due_kind": DUE_PERIOD,
                "organization_id": org_id,
                "program_id": tier.program_id,
                "tier_key": tier.key,
                "expires_at": due_at,
            }
        )
    ]


def create(org_id: str, tier: Tier) -> None:
    """Put the tier unless its key is taken in the program (409 ``conflict``)."""
    transactions.write(
        [
            *period_due_writes(org_id, tier, tier.created_at),
            program_not_archived(org_id, tier.program_id),
            transactions.put(
                {**_key(org_id, tier.program_id, tier.key), **_attributes(org_id, tier, 1)},
                condition=Attr("PK").not_exists(),
                on_condition_failed=lambda: Conflict(
                    f"a tier with key {tier.key!r} already exists in this program",
                    details={"field": "key", "reason": "duplicate"},
                ),
            ),
        ]
    )


def get(org_id: str, program_id: str, tier_key: str) -> StoredTier | None:
    item = read_cache.get_item(_key(org_id, program_id, tier_key))
    return _from_item(item) if item else None


def require(org_id: str, program_id: str, tier_key: str) -> StoredTier:
    found = get(org_id, program_id, tier_key)
    if found is None:
        raise NotFound(f"tier {tier_key!r} not found in program {program_id}")
    return found


def program_tiers(org_id: str, program_id: str) -> list[Tier]:
    """Every tier of the program, archived ones included, in key order (one Query)."""
    return [_from_item(i).tier for i in read_cache.partition_items(keys.program_tiers(org_id, program_id))]


def save(org_id: str, previous: StoredTier, updated: Tier) -> None:
    """Replace the definition if it is still the version read (else ``StaleTier``)."""
    refile = updated.lifecycle != previous.tier.lifecycle
    transactions.write(
        [
            *(period_due_writes(org_id, updated, updated.updated_at) if refile else []),
            program_not_archived(org_id, updated.program_id),
            transactions.put(
                {**_key(org_id, updated.program_id, updated.key), **_attributes(org_id, updated, previous.version + 1)},
                condition=Attr("version").eq(previous.version),
                on_condition_failed=StaleTier,
            ),
        ]
    )


def active_check(org_id: str, tier: Tier) -> transactions.Write:
    """The tier is still ACTIVE when a level in it is assigned (an archive racing a PUT)."""
    return transactions.condition_check(
        _key(org_id, tier.program_id, tier.key),
        Attr("status").eq(TierStatus.ACTIVE.value),
        lambda: TierArchived(tier.key),
    )


# ------------------------------------------------------------ owners' levels


@dataclass(frozen=True)
class StoredTierState:
    state: TierState
    version: int
    # Whether its ``expires_at`` has a due index entry (a participant's expiry on a period
    # boundary has none: the period-end fan-out evaluates it). Items from before the flag: True.
    indexed: bool = True


def _state_key(owner_partition: str, program_id: str, tier_key: str) -> dict[str, str]:
    return {"PK": owner_partition, "SK": keys.owner_tier(program_id, tier_key)}


def _state(item: dict[str, Any]) -> StoredTierState:
    acquired_at = items.moment(item["acquired_at"])
    assert acquired_at is not None
    state = TierState(
        program_id=item["program_id"],
        tier_key=item["tier_key"],
        level=item["level"],
        rank=int(item["rank"]),
        acquired_at=acquired_at,
        expires_at=items.moment(item.get("expires_at")),
        explicit=bool(item.get("explicit_expiry", False)),
        grace_until=items.moment(item.get("grace_until")),
    )
    return StoredTierState(state, int(item["version"]), bool(item.get("due_indexed", True)))


def states_from_items(partition_items: list[dict[str, Any]], program_id: str) -> dict[str, StoredTierState]:
    """The owner's levels in the program's tiers, by tier key, from its partition's items (as
    the event processor has already read them)."""
    prefix = keys.owner_tier(program_id, "")
    return {
        str(i["tier_key"]): _state(i)
        for i in partition_items
        if str(i["SK"]).startswith(prefix) and i.get("entity") == "OWNER_TIER"
    }


def owner_states(owner_partition: str, program_id: str) -> dict[str, StoredTierState]:
    """The owner's levels in the program's tiers (a Query of the ``TIER#<program>#`` sort keys)."""
    found = read_cache.partition_items(owner_partition, prefix=keys.owner_tier(program_id, ""))
    return states_from_items(found, program_id)


def all_owner_states(owner_partition: str) -> list[TierState]:
    """The owner's levels in every program's tiers (served from the attempt's read of the whole
    partition inside an event's attempt)."""
    found = read_cache.partition_items(owner_partition, prefix=keys.TIER_PREFIX)
    return [_state(i).state for i in found if i.get("entity") == "OWNER_TIER"]


def owner_state(owner_partition: str, program_id: str, tier_key: str) -> StoredTierState | None:
    item = read_cache.get_item(_state_key(owner_partition, program_id, tier_key))
    return _state(item) if item else None


def _unchanged(previous: StoredTierState | None) -> Any:
    return Attr("PK").not_exists() if previous is None else Attr("version").eq(previous.version)


def _due_key(org_id: str, owner_partition: str, state: TierState) -> dict[str, str]:
    assert state.expires_at is not None
    sort_key = keys.owner_tier(state.program_id, state.tier_key)
    expires_at = items.timestamp(state.expires_at) or ""
    shard = keys.shard_of(owner_partition + sort_key, DUE_SHARDS)
    return {
        "PK": keys.tiers_due(state.expires_at.strftime("%Y-%m-%dT%H"), shard),
        "SK": keys.due_entry(expires_at, owner_partition, sort_key),
    }


def _due_writes(
    org_id: str, owner_partition: str, previous: TierState | None, new: TierState | None
) -> list[transactions.Write]:
    """Cancel the previous assignment's due entry and file the new one's (when they differ)."""
    old_key = _due_key(org_id, owner_partition, previous) if previous and previous.expires_at else None
    new_key = _due_key(org_id, owner_partition, new) if new and new.expires_at else None
    writes: list[transactions.Write] = []
    if old_key is not None and old_key != new_key:
        writes.append(transactions.delete(old_key))
    if new is not None and new_key is not None:
        writes.append(
            transactions.put(
                {
                    **new_key,
                    "entity": "TIER_DUE",
                    "organization_id": org_id,
                    "owner_partition": owner_partition,
                    "program_id": new.program_id,
                    "tier_key": new.tier_key,
                    "level": new.level,
                    "expires_at": items.timestamp(new.expires_at),
                    "due_kind": DUE_STATE,
                }
            )
        )
    return writes


def put_state(
    org_id: str, owner_partition: str, state: TierState, previous: StoredTierState | None, *, indexed: bool = True
) -> list[transactions.Write]:
    """Set the owner's level if it is still ``previous`` (else ``StaleTierState``), with its due
    entry unless ``indexed`` is False (see ``StoredTierState.indexed``)."""
    version = previous.version + 1 if previous else 1
    return [
        transactions.put(
            {
                **_state_key(owner_partition, state.program_id, state.tier_key),
                "entity": "OWNER_TIER",
                "program_id": state.program_id,
                "tier_key": state.tier_key,
                "level": state.level,
                "rank": state.rank,
                "acquired_at": items.timestamp(state.acquired_at),
                "expires_at": items.timestamp(state.expires_at),
                "explicit_expiry": state.explicit,
                "grace_until": items.timestamp(state.grace_until),
                "due_indexed": indexed,
                "version": version,
            },
            condition=_unchanged(previous),
            on_condition_failed=StaleTierState,
        ),
        *_due_writes(
            org_id,
            owner_partition,
            previous.state if previous and previous.indexed else None,
            state if indexed else None,
        ),
    ]


def delete_state(org_id: str, owner_partition: str, previous: StoredTierState) -> list[transactions.Write]:
    """Back to base: remove the level if it is still ``previous`` (else ``StaleTierState``)."""
    state = previous.state
    return [
        transactions.delete(
            _state_key(owner_partition, state.program_id, state.tier_key),
            condition=_unchanged(previous),
            on_condition_failed=StaleTierState,
        ),
        *_due_writes(org_id, owner_partition, state if previous.indexed else None, None),
    ]


def due_entries(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Explicit expiries of one hour bucket (every shard) due at or before ``until`` (for the job)."""
    limit = items.timestamp(until) or ""
    return [
        entry
        for shard in range(DUE_SHARDS)
        for entry in listing.read_up_to(
            keys.tiers_due(hour.strftime("%Y-%m-%dT%H"), shard), keys.due_entries_up_to(limit)
        )
        if keys.due_time(str(entry["SK"])) <= limit
    ]


def delete_due(entry: dict[str, Any]) -> transactions.Write:
    return transactions.delete({"PK": entry["PK"], "SK": entry["SK"]})


def due_checkpoint() -> datetime | None:
    """The first hour of the tier due index not yet known to be empty (None before the first run)."""
    return due_index.checkpoint(_CHECKPOINT)


def save_due_checkpoint(hour: datetime) -> None:
    due_index.save_checkpoint(_CHECKPOINT, hour)


_CHECKPOINT = keys.lots_due_checkpoint("TIER_EXPIRY")


class AlreadyEvaluated(Exception):
    """The owner's period-end evaluation for this boundary has already committed."""


def _period_marker_key(owner_partition: str, program_id: str, tier_key: str) -> dict[str, str]:
    return {"PK": owner_partition, "SK": keys.owner_tier_period_end(program_id, tier_key)}


def period_view(owner_partition: str, program_id: str, tier_key: str) -> tuple[StoredTierState | None, datetime | None]:
    """The owner's level in the tier and the last boundary whose period-end evaluation committed
    for it (one Query of the owner's ``TIER#<program>#<tier>`` sort keys)."""
    found = read_cache.partition_items(owner_partition, prefix=keys.owner_tier(program_id, tier_key))
    marker_key = keys.owner_tier_period_end(program_id, tier_key)
    marker = next((i for i in found if i["SK"] == marker_key), None)
    return (
        states_from_items(found, program_id).get(tier_key),
        items.moment(marker.get("evaluated_boundary")) if marker else None,
    )


def period_marker_put(owner_partition: str, program_id: str, tier_key: str, boundary: datetime) -> transactions.Write:
    """Record the owner evaluated at ``boundary``, unless it already was (``AlreadyEvaluated``):
    in the transaction of the evaluation's changes, so a page replayed applies nothing twice."""
    stamp = items.timestamp(boundary)
    return transactions.put(
        {
            **_period_marker_key(owner_partition, program_id, tier_key),
            "entity": "OWNER_TIER_PERIOD_END",
            "evaluated_boundary": stamp,
        },
        condition=Attr("PK").not_exists() | Attr("evaluated_boundary").lt(stamp),
        on_condition_failed=AlreadyEvaluated,
    )


def owner_of_partition(owner_partition: str) -> Owner:
    """The participant or group whose partition a due entry names (``keys.participant``/``keys.group``)."""
    kind, owner_id = keys.owner_of_partition(owner_partition)
    return Owner(OwnerKind.PARTICIPANT if kind == "PARTICIPANT" else OwnerKind.GROUP, owner_id)
