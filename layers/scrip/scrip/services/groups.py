"""Group use cases (02 §3): groups, members and roles."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from scrip.domain import clock, ids
from scrip.domain.assets import Asset
from scrip.domain.errors import NotFound, ValidationFailed
from scrip.domain.groups import Group, GroupStatus, Member, MemberRole, MemberStatus, NewMember, check_new_members
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.services import ledger
from scrip.services.common import retry_on_stale
from scrip.storage import groups as group_store
from scrip.storage import participants as participant_store
from scrip.storage import transactions

# Each member is two items (the membership and its mirror in the participant's partition).
MAX_MEMBERS_PER_REQUEST = 45


@dataclass(frozen=True)
class MemberView:
    member: Member
    external_id: str


def _require_participants(org: str, members: list[NewMember]) -> None:
    if len(members) > MAX_MEMBERS_PER_REQUEST:
        raise ValidationFailed(
            f"at most {MAX_MEMBERS_PER_REQUEST} members per request",
            field="members",
            reason="too_many",
            received=len(members),
        )
    found = participant_store.get_many(org, [m.participant_id for m in members])
    missing = [m.participant_id for m in members if m.participant_id not in found]
    if missing:
        raise NotFound(f"participant {missing[0]} not found", details={"participant_ids": missing})


def create_group(caller: Caller, *, name: str, members: list[NewMember], on_behalf_of: str | None = None) -> Group:
    check_new_members(members, require_admin=True)
    org = caller.organization_id
    _require_participants(org, members)
    now = clock.now()
    group = Group(
        organization_id=org,
        id=ids.new_id(),
        name=name,
        status=GroupStatus.ACTIVE,
        admin_count=sum(m.role is MemberRole.ADMIN for m in members),
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    memberships = [Member(m.participant_id, m.role, MemberStatus.ACTIVE, now, None) for m in members]
    transactions.write(group_store.create_writes(group, memberships, on_behalf_of))
    return group


def get_group(caller: Caller, group_id: str) -> Group:
    return group_store.require(caller.organization_id, group_id)


def group_detail(caller: Caller, group_id: str) -> tuple[Group, list[tuple[Asset, Decimal]]]:
    """The group and its total per asset (02 §3.6.3)."""
    group = group_store.require(caller.organization_id, group_id)
    return group, ledger.group_totals(caller, group_id)


def update_group(caller: Caller, group_id: str, *, name: str | None) -> Group:
    def attempt() -> Group:
        current = group_store.require(caller.organization_id, group_id)
        current.require_active()
        if name is None or name == current.name:
            return current
        updated = replace(current, name=name, updated_at=clock.now(), version=current.version + 1)
        transactions.write(group_store.save_writes(current, updated))
        return updated

    return retry_on_stale(attempt, group_store.StaleGroup)


def archive_group(caller: Caller, group_id: str) -> Group:
    """Permanent; archiving an archived group answers it unchanged (decision 27)."""

    def attempt() -> Group:
        current = group_store.require(caller.organization_id, group_id)
        if current.status is GroupStatus.ARCHIVED:
            return current
        now = clock.now()
        updated = replace(
            current, status=GroupStatus.ARCHIVED, deleted_at=now, updated_at=now, version=current.version + 1
        )
        transactions.write(group_store.save_writes(current, updated))
        return updated

    return retry_on_stale(attempt, group_store.StaleGroup)


def list_groups(caller: Caller, *, limit: int, cursor: str | None, include_archived: bool) -> Page[Group]:
    scope = scope_signature("groups", caller.organization_id, include_archived)
    groups, resume = group_store.list_page(
        caller.organization_id,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        include_archived=include_archived,
    )
    return Page(groups, encode_cursor(resume, scope) if resume else None)


def list_members(
    caller: Caller, group_id: str, *, limit: int, cursor: str | None, include_former: bool
) -> Page[MemberView]:
    org = caller.organization_id
    group_store.require(org, group_id)
    scope = scope_signature("members", org, group_id, include_former)
    members, resume = group_store.members_page(
        org,
        group_id,
        limit=limit,
        after=decode_cursor(cursor, scope) if cursor else None,
        include_former=include_former,
    )
    participants = participant_store.get_many(org, [m.participant_id for m in members])
    views = [
        MemberView(m, participants[m.participant_id].external_id) for m in members if m.participant_id in participants
    ]
    return Page(views, encode_cursor(resume, scope) if resume else None)


def add_members(caller: Caller, group_id: str, members: list[NewMember], on_behalf_of: str | None = None) -> None:
    """Add (or re-add former) members atomically: one already active refuses them all."""
    check_new_members(members, require_admin=False)
    org = caller.organization_id
    group = group_store.require(org, group_id)
    group.require_active()
    _require_participants(org, members)
    now = clock.now()
    admins = sum(m.role is MemberRole.ADMIN for m in members)
    writes = [group_store.admin_count_change(group, admins) if admins else group_store.active_check(group)]
    for m in members:
        writes += group_store.member_writes(
            org, group_id, Member(m.participant_id, m.role, MemberStatus.ACTIVE, now, None), new_only=True
        )
    transactions.write(writes)


def _require_active_member(org: str, group_id: str, participant_id: str) -> Member:
    member = group_store.get_member(org, group_id, participant_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise NotFound(f"participant {participant_id} is not an active member of group {group_id}")
    return member


def change_role(
    caller: Caller, group_id: str, participant_id: str, role: MemberRole, on_behalf_of: str | None = None
) -> Member:
    org = caller.organization_id
    group = group_store.require(org, group_id)
    group.require_active()
    member = _require_active_member(org, group_id, participant_id)
    if member.role is role:
        return member
    updated = replace(member, role=role)
    delta = 1 if role is MemberRole.ADMIN else -1
    transactions.write(
        [
            group_store.admin_count_change(group, delta, leaving_participant=participant_id),
            *group_store.member_writes(org, group_id, updated, new_only=False),
        ]
    )
    return updated


def remove_member(caller: Caller, group_id: str, participant_id: str) -> None:
    """The member becomes LEFT (kept for audit); the last admin cannot leave."""
    org = caller.organization_id
    group = group_store.require(org, group_id)
    group.require_active()
    member = _require_active_member(org, group_id, participant_id)
    left = replace(member, status=MemberStatus.LEFT, left_at=clock.now())
    guard = (
        group_store.admin_count_change(group, -1, leaving_participant=participant_id)
        if member.role is MemberRole.ADMIN
        else group_store.active_check(group)
    )
    transactions.write([guard, *group_store.member_writes(org, group_id, left, new_only=False)])
