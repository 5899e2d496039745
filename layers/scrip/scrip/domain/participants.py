"""Participants (02 §1): identity, profile, lifecycle status and program enrollment."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain.errors import ApiError

PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "display_name")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ParticipantStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


class EnrollmentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    LOCKED = "LOCKED"
    CLOSED = "CLOSED"


class ParticipantInactive(ApiError):
    """Decision 10: an operation blocked by the participant's status."""

    status, code = 409, "participant_inactive"

    def __init__(self, participant_id: str, status: str) -> None:
        super().__init__(
            f"participant {participant_id} is {status}; the operation requires an ACTIVE participant",
            details={"participant_id": participant_id, "status": status},
        )


@dataclass(frozen=True)
class Participant:
    organization_id: str
    id: str
    external_id: str
    status: ParticipantStatus
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    display_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def require_active(self) -> None:
        if self.status is not ParticipantStatus.ACTIVE:
            raise ParticipantInactive(self.id, self.status.value)

    def profile(self) -> dict[str, str | None]:
        return {field: getattr(self, field) for field in PROFILE_FIELDS}

    def search_text(self) -> str:
        """What ``search`` matches, case-insensitively (02 §1.6.2)."""
        parts = [self.external_id, *(v for v in self.profile().values() if v)]
        return "\n".join(parts).lower()


@dataclass(frozen=True)
class Enrollment:
    program_id: str
    status: EnrollmentStatus
    enrolled_at: datetime


def new_participant(
    *,
    organization_id: str,
    participant_id: str,
    external_id: str,
    status: ParticipantStatus,
    profile: dict[str, Any],
    now: datetime,
) -> Participant:
    return Participant(
        organization_id=organization_id,
        id=participant_id,
        external_id=external_id,
        status=status,
        email=profile.get("email") or None,
        phone=profile.get("phone") or None,
        first_name=profile.get("first_name") or None,
        last_name=profile.get("last_name") or None,
        display_name=profile.get("display_name") or None,
        created_at=now,
        updated_at=now,
    )


def apply_profile(participant: Participant, changes: dict[str, Any], now: datetime) -> Participant:
    """Overwrite profile fields and ``external_id``; an empty string clears a profile field."""
    profile: dict[str, Any] = {field: changes[field] or None for field in PROFILE_FIELDS if field in changes}
    updated = replace(participant, **profile)
    if changes.get("external_id"):
        updated = replace(updated, external_id=changes["external_id"])
    if "status" in changes and changes["status"] is not None:
        updated = replace(updated, status=ParticipantStatus(changes["status"]))
    if updated == participant:
        return participant
    return replace(updated, updated_at=now, version=participant.version + 1)
