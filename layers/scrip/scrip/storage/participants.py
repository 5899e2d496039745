"""Participants: the participant item, its external-id claim, its list entries, enrollments.

The participant's partition (``ORG#o#PARTICIPANT#<id>``) also holds its state items
(``storage/state.py``), its enrollments (``ENROLLMENT#<program>``) and its group
memberships (``GROUP#<group>``), so one query loads everything a rule evaluation needs.

Lists are sharded (``keys.PARTICIPANT_LIST_SHARDS`` partitions per sort order): creating
participants spreads over several partitions instead of one per organization. Each list entry
is a copy of the participant summary plus its ``program_ids`` and a lower-cased search text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import Conflict, NotFound
from scrip.domain.participants import PROFILE_FIELDS, Enrollment, EnrollmentStatus, Participant, ParticipantStatus
from scrip.storage import items, keys, listing, read_cache, table, transactions

ORDERS = ("BY_CREATED", "BY_EXTERNAL_ID", "BY_STATUS")


def _key(org_id: str, participant_id: str) -> dict[str, str]:
    return {"PK": keys.participant(org_id, participant_id), "SK": keys.ENTITY_SK}


def _attributes(participant: Participant) -> dict[str, Any]:
    return {
        "entity": "PARTICIPANT",
        "organization_id": participant.organization_id,
        "id": participant.id,
        "external_id": participant.external_id,
        "status": participant.status.value,
        **{field: getattr(participant, field) for field in PROFILE_FIELDS},
        "created_at": items.timestamp(participant.created_at),
        "updated_at": items.timestamp(participant.updated_at),
        "version": participant.version,
    }


def _from_item(item: dict[str, Any]) -> Participant:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Participant(
        organization_id=item["organization_id"],
        id=item["id"],
        external_id=item["external_id"],
        status=ParticipantStatus(item["status"]),
        **{field: item.get(field) for field in PROFILE_FIELDS},
        created_at=created_at,
        updated_at=updated_at,
        version=int(item["version"]),
    )


def _sort_key(participant: Participant, order: str) -> str:
    created_at = items.timestamp(participant.created_at)
    if order == "BY_CREATED":
        return keys.list_sort_key(created_at, participant.id)
    if order == "BY_EXTERNAL_ID":
        return keys.list_sort_key(participant.external_id, participant.id)
    return keys.list_sort_key(participant.status.value, created_at, participant.id)


def _list_entries(participant: Participant, program_ids: Sequence[str]) -> list[transactions.Write]:
    shard = keys.shard_of(participant.id, keys.PARTICIPANT_LIST_SHARDS)
    body = {
        **_attributes(participant),
        "search_text": participant.search_text(),
        "program_ids": sorted(program_ids) or None,
    }
    return [
        transactions.put(
            {
                "PK": keys.participants_list(participant.organization_id, order, shard),
                "SK": _sort_key(participant, order),
                **body,
            }
        )
        for order in ORDERS
    ]


def _stale_list_entries(previous: Participant, updated: Participant) -> list[transactions.Write]:
    shard = keys.shard_of(previous.id, keys.PARTICIPANT_LIST_SHARDS)
    return [
        transactions.delete(
            {"PK": keys.participants_list(previous.organization_id, order, shard), "SK": _sort_key(previous, order)}
        )
        for order in ORDERS
        if _sort_key(previous, order) != _sort_key(updated, order)
    ]


def _claim(participant: Participant) -> transactions.Write:
    return transactions.put(
        {
            "PK": keys.external_id(participant.organization_id, participant.external_id),
            "SK": keys.ENTITY_SK,
            "entity": "EXTERNAL_ID",
            "participant_id": participant.id,
        },
        condition=Attr("PK").not_exists(),
        on_condition_failed=lambda: ExternalIdTaken(participant.external_id),
    )


class ExternalIdTaken(Conflict):
    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"a participant with external_id {external_id!r} already exists", details={"field": "external_id"}
        )


class StaleParticipant(Exception):
    """Another writer changed the participant between our read and our write."""


def enrollment_writes(participant: Participant, program_id: str, enrollment: Enrollment) -> list[transactions.Write]:
    enrolled_at = items.timestamp(enrollment.enrolled_at)
    return [
        transactions.put(
            {
                "PK": keys.participant(participant.organization_id, participant.id),
                "SK": keys.enrollment(program_id),
                "entity": "ENROLLMENT",
                "program_id": program_id,
                "status": enrollment.status.value,
                "enrolled_at": enrolled_at,
            }
        ),
        transactions.put(
            {
                "PK": keys.program_enrolled(participant.organization_id, program_id),
                "SK": participant.id,
                "entity": "ENROLLED",
                "participant_id": participant.id,
                "status": enrollment.status.value,
            }
        ),
    ]


def create_writes(participant: Participant, program_ids: Sequence[str]) -> list[transactions.Write]:
    """The participant, its external-id claim and its list entries (enrollments apart)."""
    return [
        transactions.put(
            {**_key(participant.organization_id, participant.id), **_attributes(participant)}, proves_commit=True
        ),
        _claim(participant),
        *_list_entries(participant, program_ids),
    ]


def update_writes(previous: Participant, updated: Participant, program_ids: Sequence[str]) -> list[transactions.Write]:
    """Replace the participant (version-guarded), its list entries and, on rename, its claim."""
    writes = [
        transactions.put(
            {**_key(updated.organization_id, updated.id), **_attributes(updated)},
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleParticipant,
        ),
        *_list_entries(updated, program_ids),
        *_stale_list_entries(previous, updated),
    ]
    if previous.external_id != updated.external_id:
        writes.append(
            transactions.delete(
                {"PK": keys.external_id(previous.organization_id, previous.external_id), "SK": keys.ENTITY_SK}
            )
        )
        writes.append(_claim(updated))
    return writes


def exists_check(org_id: str, participant_id: str) -> transactions.Write:
    return transactions.condition_check(
        _key(org_id, participant_id), Attr("PK").exists(), lambda: NotFound(f"participant {participant_id} not found")
    )


def find_id_by_external_id(org_id: str, external_id_value: str) -> str | None:
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": keys.external_id(org_id, external_id_value), "SK": keys.ENTITY_SK},
        ConsistentRead=True,
    )
    item = got.get("Item")
    return str(item["participant_id"]) if item else None


def get(org_id: str, participant_id: str) -> Participant | None:
    # In an event's attempt, the whole partition: its enrollments, state and balances come next.
    item = read_cache.get_item(_key(org_id, participant_id), whole_partition=True)
    return _from_item(item) if item else None


def require(org_id: str, participant_id: str) -> Participant:
    participant = get(org_id, participant_id)
    if participant is None:
        raise NotFound(f"participant {participant_id} not found")
    return participant


def get_many(org_id: str, participant_ids: Sequence[str]) -> dict[str, Participant]:
    found = [_from_item(i) for i in listing.read_items([_key(org_id, p) for p in participant_ids])]
    return {participant.id: participant for participant in found}


def enrollments(org_id: str, participant_id: str) -> dict[str, Enrollment]:
    result: dict[str, Enrollment] = {}
    for item in read_cache.partition_items(keys.participant(org_id, participant_id), prefix=keys.ENROLLMENT_PREFIX):
        enrolled_at = items.moment(item["enrolled_at"])
        assert enrolled_at is not None
        result[item["program_id"]] = Enrollment(item["program_id"], EnrollmentStatus(item["status"]), enrolled_at)
    return result


def list_page(
    org_id: str,
    *,
    order: str,
    descending: bool,
    limit: int,
    after: str | None,
    status: ParticipantStatus | None = None,
    program_id: str | None = None,
    search: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> tuple[list[Participant], str | None]:
    """A page in ``order`` and, when more follow, the sort key to resume after."""
    conditions = []
    if status is not None:
        conditions.append(Attr("status").eq(status.value))
    if program_id is not None:
        conditions.append(Attr("program_ids").contains(program_id))
    if search:
        conditions.append(Attr("search_text").contains(search.lower()))
    conditions += listing.within("created_at", created_from, created_to)
    item_filter = listing.all_of(conditions)
    partitions = [keys.participants_list(org_id, order, shard) for shard in range(keys.PARTICIPANT_LIST_SHARDS)]
    found, has_more = listing.read_merged_page(
        partitions, limit=limit, after=after, descending=descending, item_filter=item_filter
    )
    return [_from_item(i) for i in found], (str(found[-1]["SK"]) if found and has_more else None)


def enrolled_page(org_id: str, program_id: str, *, limit: int, after: str | None) -> tuple[list[str], bool]:
    """Up to ``limit`` ids of the program's enrolled participants after the id ``after``, in id
    order, and whether more follow: a query of the program's ENROLLED partition, never the
    organization's whole list."""
    found, more = listing.read_page(
        keys.program_enrolled(org_id, program_id), limit=limit, after=after, descending=False
    )
    return [str(item["SK"]) for item in found], more


def write(writes: Sequence[transactions.Write]) -> None:
    transactions.write(writes)
