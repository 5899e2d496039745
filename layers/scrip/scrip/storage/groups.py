"""Groups and their members.

The group's partition holds the group item (with ``admin_count``, which makes "at least one
admin" a condition of the write that would break it) and one ``MEMBER#<participant>`` item
per member, current or former. Each membership is mirrored as ``GROUP#<group>`` in the
participant's partition, so that a participant's groups load with the participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.domain.errors import Conflict, NotFound
from scrip.domain.groups import Group, GroupArchived, GroupStatus, LastAdmin, Member, MemberRole, MemberStatus
from scrip.storage import items, keys, listing, table, transactions

MEMBER = keys.GROUP_MEMBER_PREFIX


def _key(org_id: str, group_id: str) -> dict[str, str]:
    return {"PK": keys.group(org_id, group_id), "SK": keys.ENTITY_SK}


def _attributes(group: Group) -> dict[str, Any]:
    return {
        "entity": "GROUP",
        "organization_id": group.organization_id,
        "id": group.id,
        "name": group.name,
        "status": group.status.value,
        "admin_count": group.admin_count,
        "created_at": items.timestamp(group.created_at),
        "updated_at": items.timestamp(group.updated_at),
        "deleted_at": items.timestamp(group.deleted_at),
        "version": group.version,
    }


def _from_item(item: dict[str, Any]) -> Group:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Group(
        organization_id=item["organization_id"],
        id=item["id"],
        name=item["name"],
        status=GroupStatus(item["status"]),
        admin_count=int(item["admin_count"]),
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=items.moment(item.get("deleted_at")),
        version=int(item["version"]),
    )


def _member_from_item(item: dict[str, Any]) -> Member:
    joined_at = items.moment(item["joined_at"])
    assert joined_at is not None
    return Member(
        participant_id=item["participant_id"],
        role=MemberRole(item["role"]),
        status=MemberStatus(item["status"]),
        joined_at=joined_at,
        left_at=items.moment(item.get("left_at")),
    )


def _list_entry(group: Group) -> transactions.Write:
    created_at = items.timestamp(group.created_at)
    assert created_at is not None
    return transactions.put(
        {
            "PK": keys.groups_by_created(group.organization_id),
            "SK": keys.chronological(created_at, group.id),
            **_attributes(group),
        }
    )


class StaleGroup(Exception):
    """Another writer changed the group between our read and our write."""


class AlreadyMember(Conflict):
    def __init__(self, participant_id: str) -> None:
        super().__init__(
            f"participant {participant_id} is already an active member",
            details={"participant_id": participant_id},
        )


def member_writes(
    org_id: str, group_id: str, member: Member, *, new_only: bool, on_behalf_of: str | None = None
) -> list[transactions.Write]:
    """The membership and its mirror; ``on_behalf_of`` records who asked, for audit."""
    body = {
        "entity": "MEMBER",
        "group_id": group_id,
        "participant_id": member.participant_id,
        "role": member.role.value,
        "status": member.status.value,
        "joined_at": items.timestamp(member.joined_at),
        "left_at": items.timestamp(member.left_at),
        "on_behalf_of_participant_id": on_behalf_of,
    }
    condition = (Attr("PK").not_exists() | Attr("status").eq(MemberStatus.LEFT.value)) if new_only else None
    return [
        transactions.put(
            {"PK": keys.group(org_id, group_id), "SK": keys.group_member(member.participant_id), **body},
            condition=condition,
            on_condition_failed=(lambda: AlreadyMember(member.participant_id)) if new_only else None,
        ),
        transactions.put(
            {"PK": keys.participant(org_id, member.participant_id), "SK": keys.membership(group_id), **body}
        ),
    ]


def create_writes(group: Group, members: Sequence[Member], on_behalf_of: str | None = None) -> list[transactions.Write]:
    writes = [
        transactions.put({**_key(group.organization_id, group.id), **_attributes(group)}, proves_commit=True),
        _list_entry(group),
    ]
    for member in members:
        writes.extend(member_writes(group.organization_id, group.id, member, new_only=True, on_behalf_of=on_behalf_of))
    return writes


def save_writes(previous: Group, updated: Group) -> list[transactions.Write]:
    return [
        transactions.put(
            {**_key(updated.organization_id, updated.id), **_attributes(updated)},
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleGroup,
        ),
        _list_entry(updated),
    ]


def admin_count_change(group: Group, delta: int, *, leaving_participant: str | None = None) -> transactions.Write:
    """Move ``admin_count`` by ``delta`` on an active group; never to zero."""
    condition = Attr("status").eq(GroupStatus.ACTIVE.value)
    if delta < 0:
        condition &= Attr("admin_count").gt(-delta)

    def refused() -> Exception:
        current = get(group.organization_id, group.id)
        if current is not None and current.status is GroupStatus.ARCHIVED:
            return GroupArchived(group.id)
        return LastAdmin(group.id, leaving_participant or "")

    return transactions.Write(
        "Update",
        {
            "Key": _key(group.organization_id, group.id),
            # The version moves too, so that a concurrent rename (a version-guarded put of the
            # whole item) cannot write back a stale admin_count.
            "UpdateExpression": "ADD admin_count :delta, version :one",
            "ExpressionAttributeValues": {":delta": delta, ":one": 1},
            "ConditionExpression": condition,
        },
        on_condition_failed=refused,
    )


def active_check(group: Group) -> transactions.Write:
    return transactions.condition_check(
        _key(group.organization_id, group.id),
        Attr("status").eq(GroupStatus.ACTIVE.value),
        lambda: GroupArchived(group.id),
    )


def get(org_id: str, group_id: str) -> Group | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, group_id), ConsistentRead=True)
    item = got.get("Item")
    return _from_item(item) if item else None


def require(org_id: str, group_id: str) -> Group:
    group = get(org_id, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    return group


def get_member(org_id: str, group_id: str, participant_id: str) -> Member | None:
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": keys.group(org_id, group_id), "SK": keys.group_member(participant_id)},
        ConsistentRead=True,
    )
    item = got.get("Item")
    return _member_from_item(item) if item else None


def members_page(
    org_id: str, group_id: str, *, limit: int, after: str | None, include_former: bool
) -> tuple[list[Member], str | None]:
    condition = Key("PK").eq(keys.group(org_id, group_id))
    condition &= Key("SK").between(after + "\x00", MEMBER + "\U0010ffff") if after else Key("SK").begins_with(MEMBER)
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": condition,
        "ConsistentRead": True,
        "Limit": limit + 1,
    }
    if not include_former:
        params["FilterExpression"] = Attr("status").eq(MemberStatus.ACTIVE.value)
    found: list[dict[str, Any]] = []
    while len(found) <= limit:
        response = table.client().query(**params)
        found.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        params["Limit"] = min(1000, params["Limit"] * 2)
    more = len(found) > limit
    found = found[:limit]
    return [_member_from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)


def list_page(org_id: str, *, limit: int, after: str | None, include_archived: bool) -> tuple[list[Group], str | None]:
    item_filter = None if include_archived else Attr("status").eq(GroupStatus.ACTIVE.value)
    found, more = listing.read_page(
        keys.groups_by_created(org_id), limit=limit, after=after, descending=True, item_filter=item_filter
    )
    return [_from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)
