"""Subscription transitions (domain/subscriptions.py): fires, skips, retries with backoff, ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scrip.domain import subscriptions as rules
from scrip.domain.schedules import ScheduleConfig, parse_schedule_config
from scrip.domain.subscriptions import Subscription, SubscriptionStatus

NOW = datetime(2027, 2, 28, 14, 0, tzinfo=UTC)
YEARLY = parse_schedule_config("ATTRIBUTE_DATE", {"attribute": "birthday", "time_of_day": "09:00"})
ONCE = parse_schedule_config("ATTRIBUTE_DATE", {"attribute": "birthday", "recurrence": "once"})
THRESHOLD = parse_schedule_config("THRESHOLD", {"counter": "visits", "operator": ">=", "threshold": 3})
INTERVAL = parse_schedule_config("INTERVAL", {"every": 1, "unit": "days", "max_triggers": 1})


def _subscribe(config: ScheduleConfig, attributes: dict[str, str], now: datetime = NOW) -> Subscription:
    return rules.subscribed(
        subscription_id="s1",
        organization_id="o",
        program_id="p",
        automation_id="a",
        participant_id="x",
        config=config,
        timezone="America/New_York",
        attributes=attributes,
        now=now,
        previous=None,
    )


def test_a_leap_birthday_falls_on_28_february_and_fires_yearly() -> None:
    subscription = _subscribe(YEARLY, {"birthday": "1992-02-29"}, NOW - timedelta(days=10))
    assert subscription.next_trigger_at == datetime(2027, 2, 28, 14, 0, tzinfo=UTC)  # 09:00 in New York
    fired = rules.fired(subscription, YEARLY, "America/New_York", {"birthday": "1992-02-29"}, NOW)
    assert fired.status is SubscriptionStatus.ACTIVE and fired.trigger_count == 1 and fired.version == 2
    assert fired.next_trigger_at == datetime(2028, 2, 29, 14, 0, tzinfo=UTC)


def test_once_and_max_triggers_complete_after_their_fire() -> None:
    once = _subscribe(ONCE, {"birthday": "2027-03-01"})
    assert once.next_trigger_at is not None
    assert rules.fired(once, ONCE, "UTC", {"birthday": "2027-03-01"}, NOW).status is SubscriptionStatus.COMPLETED
    interval = _subscribe(INTERVAL, {})
    done = rules.fired(interval, INTERVAL, "UTC", {}, NOW + timedelta(days=1))
    assert done.status is SubscriptionStatus.COMPLETED and done.next_trigger_at is None and done.due_at is None


def test_a_missing_attribute_subscribes_without_a_time() -> None:
    subscription = _subscribe(YEARLY, {})
    assert subscription.status is SubscriptionStatus.ACTIVE and subscription.next_trigger_at is None
    again = rules.rescheduled(subscription, YEARLY, "America/New_York", {"birthday": "1990-07-14"}, NOW)
    assert again.next_trigger_at == datetime(2027, 7, 14, 13, 0, tzinfo=UTC) and again.version == 2
    assert rules.rescheduled(again, YEARLY, "America/New_York", {"birthday": "1990-07-14"}, NOW) is again


def test_failures_back_off_then_fail_and_a_success_resets() -> None:
    subscription = _subscribe(YEARLY, {"birthday": "1992-02-29"}, NOW - timedelta(days=10))
    first = rules.failed_attempt(subscription, "boom", NOW)
    assert first.retry_count == 1 and first.next_trigger_at == NOW + timedelta(minutes=1)
    assert first.status is SubscriptionStatus.ACTIVE and first.last_error == "boom"
    second = rules.failed_attempt(first, "boom" * 200, NOW + timedelta(minutes=1))
    assert second.retry_count == 2 and second.next_trigger_at == NOW + timedelta(minutes=6)
    assert second.last_error is not None and len(second.last_error) == 500
    third = rules.failed_attempt(second, "boom", NOW + timedelta(minutes=6))
    assert third.status is SubscriptionStatus.FAILED and third.next_trigger_at is None and third.due_at is None
    recovered = rules.fired(second, YEARLY, "America/New_York", {"birthday": "1992-02-29"}, NOW)
    assert recovered.retry_count == 0 and recovered.last_error is None


def test_a_threshold_watches_until_its_fire_and_keeps_watching_after_a_skip() -> None:
    subscription = _subscribe(THRESHOLD, {})
    assert subscription.next_trigger_at is None and subscription.watching == "visits"
    skipped = rules.skipped(subscription, THRESHOLD, "UTC", {}, NOW)
    assert skipped.status is SubscriptionStatus.ACTIVE and skipped.watching == "visits"
    fired = rules.threshold_fired(skipped, NOW)
    assert fired.status is SubscriptionStatus.COMPLETED and fired.trigger_count == 1 and fired.watching is None
    assert rules.ended(subscription, NOW).watching is None


def test_a_reschedule_follows_the_schedule_but_keeps_a_pending_retry() -> None:
    subscription = _subscribe(THRESHOLD, {})
    other = parse_schedule_config("THRESHOLD", {"counter": "orders", "operator": ">", "threshold": 1})
    assert rules.rescheduled(subscription, other, "UTC", {}, NOW).watching == "orders"
    interval = rules.fired(_subscribe(INTERVAL, {}), INTERVAL, "UTC", {}, NOW)  # max_triggers 1: completed
    assert interval.status is SubscriptionStatus.COMPLETED
    every_day = parse_schedule_config("INTERVAL", {"every": 1, "unit": "days", "max_triggers": 2})
    once_fired = rules.fired(_subscribe(every_day, {}), every_day, "UTC", {}, NOW + timedelta(days=1))
    lowered = rules.rescheduled(once_fired, INTERVAL, "UTC", {}, NOW + timedelta(hours=25))
    assert lowered.status is SubscriptionStatus.COMPLETED and lowered.next_trigger_at is None
    retrying = rules.failed_attempt(_subscribe(YEARLY, {"birthday": "1990-07-14"}), "boom", NOW)
    assert rules.rescheduled(retrying, YEARLY, "UTC", {"birthday": "1990-08-01"}, NOW) is retrying


def test_a_refresh_leaves_a_due_occurrence_to_its_fire() -> None:
    """A refresh that runs after an instant and before its fire (the fire jobs page behind the
    scheduler's tick) must not recompute the schedule from now: that would skip the occurrence."""
    subscription = _subscribe(YEARLY, {"birthday": "1992-02-29"}, NOW - timedelta(days=10))
    assert subscription.next_trigger_at == NOW
    late = NOW + timedelta(seconds=30)
    assert rules.rescheduled(subscription, YEARLY, "America/New_York", {"birthday": "1992-02-29"}, late) is subscription
    moved = rules.rescheduled(
        subscription, YEARLY, "America/New_York", {"birthday": "1990-07-14"}, NOW - timedelta(hours=1)
    )
    assert moved.next_trigger_at == datetime(2027, 7, 14, 13, 0, tzinfo=UTC)  # not yet due: recomputed
