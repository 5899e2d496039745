"""participant_state subscription schemas (06 §1.7.8, §1.7.9, §1.8)."""

from __future__ import annotations

from pydantic import Field

from scrip.api.schemas.common import ApiModel
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.subscriptions import Subscription, SubscriptionStatus


class SubscriptionResponse(ApiModel):
    """One participant's enrolment in a participant_state automation (§1.8). One record per
    (automation, participant) [inferred]: a participant who matches again after their subscription
    ended gets a fresh one (new id, counts at 0) in its place."""

    id: str
    automation_id: str
    participant_id: str
    status: SubscriptionStatus = Field(
        description="`active`; `completed` when the schedule has no further occurrence (THRESHOLD after its fire, "
        "ATTRIBUTE_DATE `once`, INTERVAL at `max_triggers`), the participant no longer matches the filter or the "
        "automation was archived [inferred]; `failed` after 3 consecutive failed fires."
    )
    next_trigger_at: str | None = Field(
        description="The next fire instant; null for THRESHOLD (counter changes fire it), for an ATTRIBUTE_DATE "
        "whose attribute is missing or not a date (a later refresh computes it) and once ended."
    )
    last_triggered_at: str | None
    trigger_count: int
    retry_count: int = Field(
        description="Consecutive failed fire attempts [inferred meaning]: retried 1 min after the first failure, "
        "5 min after the second; the third ends the subscription `failed`. A success resets it."
    )
    last_error: str | None
    created_at: str

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionResponse:
        return cls(
            id=s.id,
            automation_id=s.automation_id,
            participant_id=s.participant_id,
            status=s.status,
            next_trigger_at=to_rfc3339_or_none(s.next_trigger_at),
            last_triggered_at=to_rfc3339_or_none(s.last_triggered_at),
            trigger_count=s.trigger_count,
            retry_count=s.retry_count,
            last_error=s.last_error,
            created_at=to_rfc3339(s.created_at),
        )


class RefreshQueued(ApiModel):
    status: str = Field(description='Always `"queued"` [inferred content].')
