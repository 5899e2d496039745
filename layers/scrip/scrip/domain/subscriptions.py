"""participant_state subscriptions (06 §1.5.4, §1.8). Pure: no storage, no clock, no HTTP.

A subscription is one participant's enrolment in one ``participant_state`` automation: when it
fires next (``next_trigger_at``, ``None`` for THRESHOLD, which counter changes fire), how often
it fired and how its last attempts failed. Choices [inferred]:

* One record per (automation, participant). A participant who matches the filter again after
  their subscription ended gets a fresh one (new id, counts at 0) in its place, so "at most one
  ``active``" holds by construction.
* ``subscribed_at`` (not in the resource) is when the current subscription started: INTERVAL
  counts its periods from it.
* A failed fire is retried with the spec's backoff (1, 5, 30 min): the first failure retries
  1 minute later, the second 5 minutes later, and the third consecutive failure ends the
  subscription ``failed`` (§1.8 "after 3 consecutive failures"), so the 30-minute step is the
  wait a fourth attempt would have had and is never used. A success resets ``retry_count``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from scrip.domain.schedules import (
    IntervalConfig,
    ScheduleConfig,
    ThresholdConfig,
    next_subscription_trigger,
    parse_zone,
)

RETRY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_FAILURES = 3
_ERROR_CHARS = 500


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Subscription:
    id: str
    organization_id: str
    program_id: str
    automation_id: str
    participant_id: str
    status: SubscriptionStatus
    next_trigger_at: datetime | None
    last_triggered_at: datetime | None
    trigger_count: int
    retry_count: int
    last_error: str | None
    subscribed_at: datetime
    created_at: datetime
    updated_at: datetime
    version: int
    watched_counter: str | None = None  # THRESHOLD: the counter whose changes may fire it

    @property
    def watching(self) -> str | None:
        """The counter an active THRESHOLD subscription watches."""
        return self.watched_counter if self.status is SubscriptionStatus.ACTIVE else None

    @property
    def due_at(self) -> datetime | None:
        """When the fire pass must look at it: an active subscription's next trigger."""
        return self.next_trigger_at if self.status is SubscriptionStatus.ACTIVE else None


def _touched(subscription: Subscription, now: datetime, **changes: Any) -> Subscription:
    return replace(subscription, **changes, updated_at=now, version=subscription.version + 1)


def subscribed(
    *,
    subscription_id: str,
    organization_id: str,
    program_id: str,
    automation_id: str,
    participant_id: str,
    config: ScheduleConfig,
    timezone: str | None,
    attributes: dict[str, Any],
    now: datetime,
    previous: Subscription | None,
) -> Subscription:
    """A new active subscription (replacing an ended ``previous``) with its first trigger.

    A timed schedule with no occurrence ahead (an ATTRIBUTE_DATE whose attribute is missing, a
    ``once`` date already past) is still subscribed, ``next_trigger_at`` null: a later refresh
    that finds the attribute set computes it [inferred]."""
    first = next_subscription_trigger(
        config, parse_zone(timezone), now, subscribed_at=now, trigger_count=0, attributes=attributes
    )
    return Subscription(
        id=subscription_id,
        organization_id=organization_id,
        program_id=program_id,
        automation_id=automation_id,
        participant_id=participant_id,
        status=SubscriptionStatus.ACTIVE,
        next_trigger_at=first,
        last_triggered_at=None,
        trigger_count=0,
        retry_count=0,
        last_error=None,
        subscribed_at=now,
        created_at=now,
        updated_at=now,
        version=previous.version + 1 if previous is not None else 1,
        watched_counter=config.counter if isinstance(config, ThresholdConfig) else None,
    )


def rescheduled(
    subscription: Subscription, config: ScheduleConfig, timezone: str | None, attributes: dict[str, Any], now: datetime
) -> Subscription:
    """A still-matching active subscription with ``next_trigger_at`` recomputed from the
    participant's current attributes and the automation's current schedule (a refresh after a
    birthday was set, or after a PATCH of ``schedule_config``), and the THRESHOLD counter watched."""
    if subscription.retry_count > 0:
        return subscription  # a failed fire's retry is pending: it keeps its instant
    if subscription.next_trigger_at is not None and subscription.next_trigger_at <= now:
        # Due and not yet fired (its fire job has not reached it): recomputing from now would
        # skip that occurrence. The fire keeps its instant and schedules the next one.
        return subscription
    following = next_subscription_trigger(
        config,
        parse_zone(timezone),
        now,
        subscribed_at=subscription.subscribed_at,
        trigger_count=subscription.trigger_count,
        attributes=attributes,
    )
    watched = config.counter if isinstance(config, ThresholdConfig) else None
    if following == subscription.next_trigger_at and watched == subscription.watched_counter:
        return subscription
    if following is None and watched is None and isinstance(config, IntervalConfig):
        # max_triggers lowered to what was already fired: nothing is left to fire.
        return _touched(subscription, now, next_trigger_at=None, status=SubscriptionStatus.COMPLETED)
    return _touched(subscription, now, next_trigger_at=following, watched_counter=watched)


def ended(subscription: Subscription, now: datetime) -> Subscription:
    """The participant no longer matches, or the automation is gone: ``completed``."""
    return _touched(subscription, now, status=SubscriptionStatus.COMPLETED, next_trigger_at=None)


def fired(
    subscription: Subscription,
    config: ScheduleConfig,
    timezone: str | None,
    attributes: dict[str, Any],
    now: datetime,
) -> Subscription:
    """After a successful fire: counted, and the next occurrence strictly after now (missed
    occurrences collapse into the one fire, as a cron's), or ``completed`` when none is left."""
    count = subscription.trigger_count + 1
    following = next_subscription_trigger(
        config,
        parse_zone(timezone),
        now,
        subscribed_at=subscription.subscribed_at,
        trigger_count=count,
        attributes=attributes,
    )
    return _touched(
        subscription,
        now,
        trigger_count=count,
        last_triggered_at=now,
        retry_count=0,
        last_error=None,
        next_trigger_at=following,
        status=SubscriptionStatus.ACTIVE if following is not None else SubscriptionStatus.COMPLETED,
    )


def skipped(
    subscription: Subscription, config: ScheduleConfig, timezone: str | None, attributes: dict[str, Any], now: datetime
) -> Subscription:
    """The guard said no (or the automation is paused): no event, not counted, the schedule moves
    on. A THRESHOLD subscription keeps watching: a later crossing may pass the guard [inferred]."""
    following = next_subscription_trigger(
        config,
        parse_zone(timezone),
        now,
        subscribed_at=subscription.subscribed_at,
        trigger_count=subscription.trigger_count,
        attributes=attributes,
    )
    return _touched(
        subscription,
        now,
        next_trigger_at=following,
        status=(
            SubscriptionStatus.ACTIVE
            if following is not None or subscription.watched_counter is not None
            else SubscriptionStatus.COMPLETED
        ),
    )


def failed_attempt(subscription: Subscription, error: str, now: datetime) -> Subscription:
    """A fire whose event could not be generated: retried after 1 then 5 min, ``failed`` at the third."""
    failures = subscription.retry_count + 1
    if failures >= MAX_FAILURES:
        return _touched(
            subscription,
            now,
            retry_count=failures,
            last_error=error[:_ERROR_CHARS],
            status=SubscriptionStatus.FAILED,
            next_trigger_at=None,
        )
    return _touched(
        subscription,
        now,
        retry_count=failures,
        last_error=error[:_ERROR_CHARS],
        next_trigger_at=now + RETRY_BACKOFF[failures - 1],
    )


def threshold_fired(subscription: Subscription, now: datetime) -> Subscription:
    """A THRESHOLD subscription's one fire: counted and ``completed`` (§1.8)."""
    return _touched(
        subscription,
        now,
        trigger_count=subscription.trigger_count + 1,
        last_triggered_at=now,
        retry_count=0,
        last_error=None,
        status=SubscriptionStatus.COMPLETED,
        next_trigger_at=None,
    )
