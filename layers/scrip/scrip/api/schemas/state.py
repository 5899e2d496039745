"""Tag, counter, attribute and state-history schemas (02 §2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from scrip.api.schemas.common import ApiModel, RequestModel, SignedDecimalString
from scrip.domain.clock import to_rfc3339
from scrip.domain.state import Counter, Operation, StateChange, StateType, counter_text

Tag = Annotated[str, StringConstraints(min_length=1, max_length=255)]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TagItem(ApiModel):
    tag: str


class TagsReplace(RequestModel):
    tags: list[Tag] = Field(description="The complete new tag set (lower-cased); [] clears all")


class TagsResponse(ApiModel):
    tags: list[str]


class CounterSet(RequestModel):
    value: SignedDecimalString = Field(description="Absolute value (not an increment)")
    reset_after: str | None = Field(
        default=None,
        description="Go duration (`24h`, `720h`, `1h30m`; `d` = 24h accepted as an extension). "
        'Omit to keep the current setting, `""` to remove auto-reset.',
    )


class CounterResponse(ApiModel):
    key: str
    value: str
    reset_after: str | None = None
    last_reset_at: str | None = None

    @classmethod
    def of(cls, counter: Counter, *, with_reset: bool = True) -> CounterResponse:
        reset = with_reset and counter.reset_after is not None
        return cls(
            key=counter.key,
            value=counter_text(counter.value),
            reset_after=counter.reset_after if reset else None,
            last_reset_at=to_rfc3339(counter.last_reset_at) if reset and counter.last_reset_at else None,
        )


class AttributeItem(ApiModel):
    key: str
    value: str


class AttributesMerge(RequestModel):
    attributes: dict[str, AttributeValue]


class AttributesResponse(ApiModel):
    attributes: dict[str, str]


class AttributeSet(RequestModel):
    value: AttributeValue


class StateChangeResponse(ApiModel):
    id: str
    state_type: StateType
    key: str
    operation: Operation
    old_value: str | None
    new_value: str | None
    event_id: str | None = None
    rule_id: str | None = None
    changed_by_api_key_id: str | None = None
    program_id: str | None = None
    changed_at: str

    @classmethod
    def of(cls, change: StateChange) -> StateChangeResponse:
        return cls(
            id=change.id,
            state_type=change.state_type,
            key=change.key,
            operation=change.operation,
            old_value=change.old_value,
            new_value=change.new_value,
            event_id=change.event_id,
            rule_id=change.rule_id,
            changed_by_api_key_id=change.changed_by_api_key_id,
            program_id=change.program_id,
            changed_at=to_rfc3339(change.changed_at),
        )
