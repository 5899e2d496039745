"""Group and member schemas (02 §3)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from scrip.api.schemas.common import ApiModel, RequestModel
from scrip.domain.clock import to_rfc3339
from scrip.domain.groups import Group, GroupStatus, MemberRole, MemberStatus, NewMember
from scrip.services.groups import MemberView

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class MemberInput(RequestModel):
    participant_id: UUID
    role: MemberRole = MemberRole.MEMBER

    def new_member(self) -> NewMember:
        return NewMember(str(self.participant_id), self.role)


class GroupCreate(RequestModel):
    name: Name
    members: list[MemberInput] = Field(min_length=1, description="At least one member, at least one ADMIN")
    on_behalf_of_participant_id: UUID | None = Field(default=None, description="Audit: the participant who asked")


class GroupUpdate(RequestModel):
    name: Name = None  # type: ignore[assignment]  # absent ≠ null: null is rejected


class MembersAdd(RequestModel):
    """Either one member (`participant_id`, `role`) or a batch (`members`), not both."""

    participant_id: UUID | None = None
    role: MemberRole = MemberRole.MEMBER
    members: list[MemberInput] | None = Field(default=None, min_length=1)
    on_behalf_of_participant_id: UUID | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> MembersAdd:
        if (self.participant_id is None) == (self.members is None):
            raise ValueError("send either participant_id or members")
        return self

    def new_members(self) -> list[NewMember]:
        if self.members is not None:
            return [m.new_member() for m in self.members]
        assert self.participant_id is not None
        return [NewMember(str(self.participant_id), self.role)]


class RoleChange(RequestModel):
    role: MemberRole
    on_behalf_of_participant_id: UUID | None = None


class RoleChangeResponse(ApiModel):
    message: str
    participant_id: str
    role: MemberRole


class GroupResponse(ApiModel):
    id: str
    name: str
    status: GroupStatus
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    balances: dict[str, str] | None = Field(default=None, description="Total per asset; only on GET /v1/groups/{id}")

    @classmethod
    def of(cls, group: Group, *, balances: dict[str, str] | None = None) -> GroupResponse:
        return cls(
            id=group.id,
            name=group.name,
            status=group.status,
            created_at=to_rfc3339(group.created_at),
            updated_at=to_rfc3339(group.updated_at),
            deleted_at=to_rfc3339(group.deleted_at) if group.deleted_at else None,
            balances=balances,
        )


class MemberResponse(ApiModel):
    participant_id: str
    external_id: str
    role: MemberRole
    status: MemberStatus
    joined_at: str
    left_at: str | None = None

    @classmethod
    def of(cls, view: MemberView) -> MemberResponse:
        member = view.member
        return cls(
            participant_id=member.participant_id,
            external_id=view.external_id,
            role=member.role,
            status=member.status,
            joined_at=to_rfc3339(member.joined_at),
            left_at=to_rfc3339(member.left_at) if member.left_at else None,
        )
