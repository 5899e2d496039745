"""Tier schemas (02 §4): definitions, levels, qualification, lifecycle and participant tier state."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints
from pydantic.types import StrictInt

from scrip.api.schemas.common import ApiModel, Path, Query, RequestModel, Rfc3339
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.tiers import (
    KEY_PATTERN,
    MAX_BENEFITS_BYTES,
    MAX_CRITERIA,
    MAX_KEY_LENGTH,
    MAX_LEVELS,
    CounterRollover,
    DowngradeMode,
    Level,
    QualificationMode,
    QualificationOperator,
    QualificationPeriodType,
    RetentionMode,
    Tier,
    TierState,
    TierStatus,
    lifecycle_document,
    qualification_document,
)
from scrip.services.tiers import ParticipantTier

TierKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN, min_length=1, max_length=MAX_KEY_LENGTH)]
TierKeyPath = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, description="Tier key")]
ProgramIdQuery = Annotated[UUID, Query(description="The program whose tiers are meant (required)")]
DisplayName = Annotated[str, StringConstraints(max_length=255)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
IconUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
CounterKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
MAX_RANK = 1_000_000
Threshold = Annotated[int | float, Field(allow_inf_nan=False)]

_KEY_TEXT = f"`{KEY_PATTERN}`, 1-{MAX_KEY_LENGTH} characters."
_QUALIFICATION_TEXT = (
    "Auto-advancement criteria; `{}` (or absent) = never reached automatically. A missing counter "
    "counts as 0 [inferred]. On PATCH: omitted or null keeps it, `{}` removes it."
)
_BENEFITS_TEXT = f"Free-form JSON returned with participant tier state; at most {MAX_BENEFITS_BYTES} bytes as JSON."


class CriterionBody(RequestModel):
    counter: CounterKey
    operator: QualificationOperator
    threshold: Threshold = Field(description="JSON number; `counter <operator> threshold`.")


class QualificationBody(RequestModel):
    mode: QualificationMode | None = Field(default=None, description="ALL or ANY; required unless the object is `{}`.")
    criteria: list[CriterionBody] | None = Field(
        default=None, max_length=MAX_CRITERIA, description=f"1-{MAX_CRITERIA} criteria [inferred]."
    )


class LevelCreate(RequestModel):
    key: TierKey = Field(description=f"Unique within the tier; immutable. {_KEY_TEXT}")
    rank: StrictInt = Field(
        ge=1, le=MAX_RANK, description=f"Unique within the tier; 1-{MAX_RANK} (0 is base) [inferred]."
    )
    display_name: DisplayName | None = None
    qualification: QualificationBody | None = Field(default=None, description=_QUALIFICATION_TEXT)
    benefits: dict[str, Any] | None = Field(default=None, description=_BENEFITS_TEXT)
    color: Color | None = Field(default=None, description="Hex colour, e.g. `#C0C0C0`.")
    icon_url: IconUrl | None = Field(default=None, description="http(s) URL.")


class LevelUpsert(LevelCreate):
    """PATCH: an existing key is updated in place (fields sent change); a new key creates a level."""

    rank: StrictInt | None = Field(  # type: ignore[assignment]
        default=None,
        ge=1,
        le=MAX_RANK,
        description="Required for a new level; a rank another level holds is 409 conflict.",
    )


class RetentionBody(RequestModel):
    mode: RetentionMode | None = None
    duration: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="Go duration (`2160h`). Required for ACTIVITY_REFRESH (the inactivity window); "
        "ignored for PERIOD_BASED [inferred].",
    )


class QualificationPeriodBody(RequestModel):
    type: QualificationPeriodType | None = None
    start_month: StrictInt | None = Field(default=None, ge=1, le=12, description="FIXED_YEAR: required.")
    start_day: StrictInt | None = Field(
        default=None,
        ge=1,
        le=31,
        description="FIXED_YEAR: required, and a day every year has in start_month (29 February is refused) "
        "[inferred].",
    )


class StatusValidityBody(RequestModel):
    extend_months: StrictInt | None = Field(default=None, ge=0, le=120, description="0/omitted = none.")


class DowngradePolicyBody(RequestModel):
    mode: DowngradeMode | None = Field(default=None, description="Default DROP_TO_QUALIFYING.")
    grace_days: StrictInt | None = Field(default=None, ge=0, le=3650)
    min_level: TierKey | None = Field(default=None, description="A level key of this tier (else 400) [inferred].")


class CountersBody(RequestModel):
    rollover: CounterRollover | None = None
    qualifying: list[CounterKey] | None = Field(default=None, max_length=50)


class LifecycleBody(RequestModel):
    """`{}` = rules-only (nothing expires unless an explicit `expires_at` was given)."""

    retention: RetentionBody | None = None
    qualification_period: QualificationPeriodBody | None = None
    status_validity: StatusValidityBody | None = None
    downgrade_policy: DowngradePolicyBody | None = None
    counters: CountersBody | None = None


class TierCreate(RequestModel):
    key: TierKey = Field(description=f"Unique within the program (a duplicate is 409 conflict); immutable. {_KEY_TEXT}")
    display_name: DisplayName | None = None
    levels: list[LevelCreate] = Field(
        min_length=1,
        max_length=MAX_LEVELS,
        description=f"1-{MAX_LEVELS} levels [inferred limit]; duplicate keys or ranks are 400 validation_error.",
    )
    lifecycle: LifecycleBody | None = Field(default=None, description="Omit (or `{}`) for a rules-only tier.")


class TierUpdate(RequestModel):
    """02 §4.8.4: only what is sent changes."""

    display_name: DisplayName | None = None
    levels: list[LevelUpsert] | None = Field(
        default=None,
        max_length=MAX_LEVELS,
        description="Upsert by level key; levels not listed are untouched (no deletion). A rank that would "
        "be shared by two levels is 409 conflict; a key or rank listed twice is 400.",
    )
    lifecycle: LifecycleBody | None = Field(
        default=None,
        description="Omitted or null: unchanged. `{}`: cleared (rules-only). An object replaces the "
        "stored lifecycle whole [inferred].",
    )
    key: Any = Field(default=None, description="Immutable: a different value is 400 validation_error.")


class LevelResponse(ApiModel):
    id: str
    key: str
    rank: int
    display_name: str | None
    qualification: dict[str, Any]
    benefits: dict[str, Any] | None
    color: str | None
    icon_url: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, level: Level) -> LevelResponse:
        return cls(
            id=level.id,
            key=level.key,
            rank=level.rank,
            display_name=level.display_name,
            qualification=qualification_document(level.qualification),
            benefits=level.benefits,
            color=level.color,
            icon_url=level.icon_url,
            created_at=to_rfc3339(level.created_at),
            updated_at=to_rfc3339(level.updated_at),
        )


class TierResponse(ApiModel):
    id: str
    program_id: str
    key: str
    display_name: str | None
    levels: list[LevelResponse] = Field(description="By rank, ascending")
    lifecycle: dict[str, Any] = Field(description="`{}` for a rules-only tier")
    status: TierStatus
    archived_at: str | None = Field(default=None, description="Present only when archived")
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, tier: Tier) -> TierResponse:
        return cls(
            id=tier.id,
            program_id=tier.program_id,
            key=tier.key,
            display_name=tier.display_name,
            levels=[LevelResponse.of(level) for level in tier.levels],
            lifecycle=lifecycle_document(tier.lifecycle),
            status=tier.status,
            archived_at=to_rfc3339_or_none(tier.archived_at),
            created_at=to_rfc3339(tier.created_at),
            updated_at=to_rfc3339(tier.updated_at),
        )


class TierList(ApiModel):
    data: list[TierResponse] = Field(description="Every tier of the program, archived ones included, by key")


class ParticipantTierSet(RequestModel):
    level: Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)] = Field(
        description="A level key of the tier (else 400 validation_error, reason unknown_level)."
    )
    expires_at: Rfc3339 | None = Field(
        default=None,
        description="When the assignment is removed (back to base); null = no expiry. Must be in the future. "
        "Replaces any pending expiry of this assignment.",
    )


class ParticipantTierResponse(ApiModel):
    level: str
    rank: int
    benefits: dict[str, Any] | None = Field(description="The level's benefits as the tier defines them now")
    acquired_at: str
    expires_at: str | None = Field(description="When the level lapses (lifecycle or explicit); null = never")

    @classmethod
    def of(cls, found: ParticipantTier) -> ParticipantTierResponse:
        return cls(**_state_fields(found))


class ParticipantTierListItem(ParticipantTierResponse):
    key: str = Field(description="The tier key")

    @classmethod
    def of(cls, found: ParticipantTier) -> ParticipantTierListItem:
        return cls(key=found.state.tier_key, **_state_fields(found))


def _state_fields(found: ParticipantTier) -> dict[str, Any]:
    state: TierState = found.state
    return {
        # The tier as defined now: a PATCH may have moved the level's rank since it was assigned.
        "level": state.level,
        "rank": found.level.rank if found.level else state.rank,
        "benefits": found.level.benefits if found.level else None,
        "acquired_at": to_rfc3339(state.acquired_at),
        "expires_at": to_rfc3339_or_none(state.expires_at),
    }


class ParticipantTierList(ApiModel):
    data: list[ParticipantTierListItem] = Field(description="Only tiers where the participant holds a level, by key")
