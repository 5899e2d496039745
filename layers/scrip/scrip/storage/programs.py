"""Programs: the program item, its list entries and its optional unique ``key``.

A program is written with two list entries (by creation time and by lower-cased name), each a
full copy, so a list page is one query with no follow-up reads. Every change rewrites the
three in one transaction, guarded by the program's ``version``.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import Conflict, NotFound
from scrip.domain.ledger import EntityType
from scrip.domain.programs import OnUnknownParticipant, Program, ProgramStatus, RedemptionTargetType
from scrip.storage import items, keys, listing, read_cache, transactions

_ENTITY = "PROGRAM"


def _key(org_id: str, program_id: str) -> dict[str, str]:
    return {"PK": keys.program(org_id, program_id), "SK": keys.ENTITY_SK}


def _attributes(program: Program) -> dict[str, Any]:
    return {
        "entity": _ENTITY,
        "organization_id": program.organization_id,
        "id": program.id,
        "name": program.name,
        "name_lower": program.name.lower(),
        "description": program.description,
        "key": program.key,
        "status": program.status.value,
        "on_unknown_participant": program.on_unknown_participant.value,
        "redemption_target_type": program.redemption_target_type.value,
        "redemption_target_entity_id": program.redemption_target_entity_id,
        "redemption_target_entity_type": (
            program.redemption_target_entity_type.value if program.redemption_target_entity_type else None
        ),
        "created_at": items.timestamp(program.created_at),
        "updated_at": items.timestamp(program.updated_at),
        "deleted_at": items.timestamp(program.deleted_at),
        "version": program.version,
    }


def _from_item(item: dict[str, Any]) -> Program:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Program(
        organization_id=item["organization_id"],
        id=item["id"],
        name=item["name"],
        description=item.get("description"),
        key=item.get("key"),
        status=ProgramStatus(item["status"]),
        on_unknown_participant=OnUnknownParticipant(item["on_unknown_participant"]),
        redemption_target_type=RedemptionTargetType(item["redemption_target_type"]),
        redemption_target_entity_id=item.get("redemption_target_entity_id"),
        redemption_target_entity_type=(
            EntityType(item["redemption_target_entity_type"]) if item.get("redemption_target_entity_type") else None
        ),
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=items.moment(item.get("deleted_at")),
        version=int(item["version"]),
    )


def _by_name_sort_key(program: Program) -> str:
    return keys.list_sort_key(program.name.lower(), program.id)


def _list_entries(program: Program) -> list[transactions.Write]:
    attributes = _attributes(program)
    created_at = items.timestamp(program.created_at)
    assert created_at is not None
    return [
        transactions.put(
            {
                "PK": keys.programs_by_created(program.organization_id),
                "SK": keys.chronological(created_at, program.id),
                **attributes,
            }
        ),
        transactions.put(
            {"PK": keys.programs_by_name(program.organization_id), "SK": _by_name_sort_key(program), **attributes}
        ),
    ]


def _duplicate_key(program: Program) -> Exception:
    return Conflict(f"a program with key {program.key!r} already exists", details={"field": "key"})


def create(program: Program) -> None:
    writes = [
        transactions.put({**_key(program.organization_id, program.id), **_attributes(program)}, proves_commit=True),
        *_list_entries(program),
    ]
    if program.key is not None:
        writes.append(
            transactions.put(
                {
                    "PK": keys.program_key(program.organization_id, program.key),
                    "SK": keys.ENTITY_SK,
                    "entity": "PROGRAM_KEY",
                    "program_id": program.id,
                },
                condition=Attr("PK").not_exists(),
                on_condition_failed=lambda: _duplicate_key(program),
            )
        )
    transactions.write(writes)


def get(org_id: str, program_id: str) -> Program | None:
    item = read_cache.get_item(_key(org_id, program_id))
    return _from_item(item) if item else None


def require(org_id: str, program_id: str) -> Program:
    program = get(org_id, program_id)
    if program is None:
        raise NotFound(f"program {program_id} not found")
    return program


class StaleProgram(Exception):
    """Another writer changed the program between our read and our write."""


def save(previous: Program, updated: Program) -> None:
    """Replace ``previous`` by ``updated`` (whose ``version`` is one higher) atomically."""
    writes = [
        transactions.put(
            {**_key(updated.organization_id, updated.id), **_attributes(updated)},
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleProgram,
        ),
        *_list_entries(updated),
    ]
    if _by_name_sort_key(previous) != _by_name_sort_key(updated):
        writes.append(
            transactions.delete(
                {"PK": keys.programs_by_name(previous.organization_id), "SK": _by_name_sort_key(previous)}
            )
        )
    transactions.write(writes)


def list_page(
    org_id: str,
    *,
    sort_by: str,
    descending: bool,
    limit: int,
    after: str | None,
    statuses: list[ProgramStatus] | None,
    search: str | None,
) -> tuple[list[Program], str | None]:
    """A page of programs and, when more follow, the sort key to resume after."""
    partition = keys.programs_by_name(org_id) if sort_by == "name" else keys.programs_by_created(org_id)
    item_filter: Any = None
    if statuses is not None:
        item_filter = Attr("status").is_in([s.value for s in statuses])
    if search:
        contains = Attr("name_lower").contains(search.lower())
        item_filter = contains if item_filter is None else item_filter & contains
    found, has_more = listing.read_page(
        partition, limit=limit, after=after, descending=descending, item_filter=item_filter
    )
    resume_after = found[-1]["SK"] if found and has_more else None
    return [_from_item(i) for i in found], resume_after
