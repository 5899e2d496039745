"""Groups (02 §3): shared wallets with members and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scrip.domain.errors import ApiError, ValidationFailed


class GroupStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class MemberRole(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    LEFT = "LEFT"


class GroupArchived(ApiError):
    """An archived group is read-only (02 §3.5 (6))."""

    status, code = 409, "group_archived"

    def __init__(self, group_id: str) -> None:
        super().__init__(f"group {group_id} is archived and cannot be changed")


class LastAdmin(ApiError):
    """The last admin can neither leave nor be demoted (02 §3.5 (2))."""

    status, code = 409, "last_admin"

    def __init__(self, group_id: str, participant_id: str) -> None:
        super().__init__(
            f"participant {participant_id} is the last ADMIN of group {group_id}; promote another member first",
            details={"group_id": group_id, "participant_id": participant_id},
        )


@dataclass(frozen=True)
class Group:
    organization_id: str
    id: str
    name: str
    status: GroupStatus
    admin_count: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int = 1

    def require_active(self) -> None:
        if self.status is GroupStatus.ARCHIVED:
            raise GroupArchived(self.id)


@dataclass(frozen=True)
class Member:
    participant_id: str
    role: MemberRole
    status: MemberStatus
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class NewMember:
    participant_id: str
    role: MemberRole


def check_new_members(members: list[NewMember], *, require_admin: bool) -> None:
    if not members:
        raise ValidationFailed("at least one member is required", field="members", reason="required")
    seen: set[str] = set()
    for member in members:
        if member.participant_id in seen:
            raise ValidationFailed(
                f"participant {member.participant_id} is listed twice",
                field="members",
                reason="duplicate",
                received=member.participant_id,
            )
        seen.add(member.participant_id)
    if require_admin and not any(m.role is MemberRole.ADMIN for m in members):
        raise ValidationFailed("a group needs at least one ADMIN member", field="members", reason="admin_required")
