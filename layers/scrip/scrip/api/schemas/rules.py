"""Rule schemas (03 §3)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StringConstraints

from scrip.api.schemas.common import ApiModel, DecimalString, RequestModel
from scrip.api.schemas.events import MAX_EVENT_DATA_DEPTH, _storable
from scrip.domain.amounts import canonical_decimal
from scrip.domain.cel import MAX_EXPRESSION_LENGTH
from scrip.domain.clock import to_rfc3339
from scrip.domain.rules import MAX_ACTIONS, MAX_ACTIONS_BYTES, MAX_BUDGETS, Rule, RuleActionType, RuleStatus

MAX_PAYLOAD_BYTES = 16_384
MAX_REFERENCE_LENGTH = 1024

# A CEL expression, or text that is literal when it is not CEL.
Expression = Annotated[str, StringConstraints(max_length=MAX_EXPRESSION_LENGTH)]
Reference = Annotated[str, StringConstraints(max_length=MAX_REFERENCE_LENGTH)]
Moment = Annotated[str, StringConstraints(max_length=64)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _bounded_payload(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The follow-up event's data: storable as event data, and small enough for the rule item."""
    if payload is not None:
        if len(json.dumps(payload, default=str)) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload is at most {MAX_PAYLOAD_BYTES} bytes of JSON")
        _storable(payload)
    return payload


class ConditionCheck(RequestModel):
    condition: Annotated[str, StringConstraints(min_length=1)]  # too long: 200 with valid false


class ConditionCheckResult(ApiModel):
    valid: bool
    message: str
    note: str | None = Field(default=None, description="Only on success")
    line: int | None = Field(default=None, description="Where a syntax error is, when known (1-based)")
    column: int | None = None


class Target(RequestModel):
    type: Literal["PARTICIPANT", "PROGRAM", "GROUP"]
    id: Key | None = None
    external_id: Reference | None = Field(default=None, description="Literal or CEL, e.g. event.referrer_id")
    participant_id: Reference | None = Field(default=None, description="Literal or CEL, e.g. event.recipient_id")


class Action(RequestModel):
    """One action (03 §5.1): `type` decides which other fields are required. Every CEL field is
    refused when it may cost too much to evaluate (see `POST /v1/rules/validate`)."""

    type: RuleActionType
    asset_id: UUID | None = None
    amount: Expression | None = Field(
        default=None, description='A literal ("100") or a CEL expression ("event.amount * 10")'
    )
    bucket: Literal["AVAILABLE", "HELD"] | None = None
    allow_negative: StrictBool | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    reference_id: Reference | None = None
    expires_at: Moment | None = Field(
        default=None,
        description='Go duration ("8760h", "365d") from the lot\'s creation, or RFC 3339. SET_TIER: an explicit '
        "expiry of the level, from the event's processing time, at which the level is removed; without it the "
        "tier's lifecycle decides",
    )
    matures_at: Moment | None = None
    key: Key | None = None
    value: Expression | None = None
    reset_after: Moment | None = None
    tag: Key | None = None
    tier: Key | None = Field(
        default=None,
        description="SET_TIER: a tier key of the rule's program, checked when the rule runs (an unknown tier "
        "fails the event; an archived one is skipped)",
    )
    level: Key | None = Field(
        default=None, description="SET_TIER: the level key to assign, exactly (up or down); unknown fails the event"
    )
    event_name: Key | None = None
    delay: Moment | None = None
    payload: Annotated[dict[str, Any] | None, AfterValidator(_bounded_payload)] = Field(
        default=None,
        description=f"Merged into the follow-up event's data: at most {MAX_PAYLOAD_BYTES} bytes of JSON, "
        f"{MAX_EVENT_DATA_DEPTH} levels deep, numbers DynamoDB can store",
    )
    target: Target | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Budget(RequestModel):
    asset_id: UUID
    limit: DecimalString
    schedule_type: Literal["CRON", "INTERVAL"] | None = None
    cron_expression: str | None = None
    interval: str | None = None

    def stored(self) -> dict[str, Any]:
        return {**self.model_dump(mode="python"), "asset_id": str(self.asset_id)}


Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Condition = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXPRESSION_LENGTH)]
Order = Annotated[StrictInt, Field(ge=1)]
ACTIONS_DESCRIPTION = (
    f"1 to {MAX_ACTIONS} actions, at most {MAX_ACTIONS_BYTES} bytes of JSON in all: one matching rule's work fits "
    "one transaction"
)
BUDGETS_DESCRIPTION = f"At most {MAX_BUDGETS}, one per asset"


class RuleCreate(RequestModel):
    program_id: UUID
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    condition: Condition
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS, description=ACTIONS_DESCRIPTION)
    order: Order | None = Field(
        default=None, description="Omitted: the program's highest order + 10. Taken: 409 order_conflict"
    )
    stop_after_match: StrictBool = False
    active_from: datetime | None = None
    active_to: datetime | None = None
    budgets: list[Budget] = Field(default_factory=list, max_length=MAX_BUDGETS, description=BUDGETS_DESCRIPTION)
    status: Literal["ACTIVE", "SUSPENDED"] = "ACTIVE"


class RuleUpdate(RequestModel):
    """Only the fields sent change; `actions` and `budgets` replace the whole array. No DELETE: archive with status."""

    name: Name = None  # type: ignore[assignment]
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    condition: Condition = None  # type: ignore[assignment]
    actions: list[Action] = Field(  # type: ignore[assignment]
        default=None,  # type: ignore[arg-type]
        min_length=1,
        max_length=MAX_ACTIONS,
        description=ACTIONS_DESCRIPTION,
    )
    order: Order = None  # type: ignore[assignment]
    stop_after_match: StrictBool = None  # type: ignore[assignment]
    active_from: datetime | None = None
    active_to: datetime | None = None
    budgets: list[Budget] = Field(  # type: ignore[assignment]
        default=None,  # type: ignore[arg-type]
        max_length=MAX_BUDGETS,
        description=BUDGETS_DESCRIPTION,
    )
    status: RuleStatus = None  # type: ignore[assignment]


class BudgetResponse(ApiModel):
    asset_id: str
    limit: str
    schedule_type: str | None
    cron_expression: str | None = None
    interval: str | None = None
    consumed: str
    next_reset_at: str | None


class RuleResponse(ApiModel):
    id: str
    program_id: str
    name: str
    description: str | None
    condition: str
    actions: list[dict[str, Any]]
    order: int
    stop_after_match: bool
    active_from: str | None
    active_to: str | None
    budgets: list[BudgetResponse]
    status: RuleStatus
    created_at: str
    updated_at: str
    deleted_at: str | None

    @classmethod
    def of(cls, rule: Rule) -> RuleResponse:
        return cls(
            id=rule.id,
            program_id=rule.program_id,
            name=rule.name,
            description=rule.description,
            condition=rule.condition,
            actions=rule.actions,
            order=rule.order,
            stop_after_match=rule.stop_after_match,
            active_from=to_rfc3339(rule.active_from) if rule.active_from else None,
            active_to=to_rfc3339(rule.active_to) if rule.active_to else None,
            budgets=[
                BudgetResponse(
                    asset_id=b["asset_id"],
                    limit=canonical_decimal(Decimal(b["limit"])),
                    schedule_type=b.get("schedule_type"),
                    cron_expression=b.get("cron_expression"),
                    interval=b.get("interval"),
                    consumed=canonical_decimal(Decimal(b["consumed"])),
                    next_reset_at=b.get("next_reset_at"),
                )
                for b in rule.budgets
            ],
            status=rule.status,
            created_at=to_rfc3339(rule.created_at),
            updated_at=to_rfc3339(rule.updated_at),
            deleted_at=to_rfc3339(rule.deleted_at) if rule.deleted_at else None,
        )


class RuleHistoryEntry(ApiModel):
    id: str
    rule_id: str
    program_id: str
    change_type: str
    changed_at: str
    changed_by_api_key_id: str | None = None
    changed_by_user_id: str | None = None
    changes: dict[str, Any]
    snapshot: dict[str, Any]
