"""The tier lifecycle jobs (02 §4.7.3): lapses from the due index, and the period-end fan-out.

**The due index** (``storage/tiers.py``: ``DUE#TIER_EXPIRY#<hour>#<shard>``) holds two kinds of
entry, read every minute by the schedule (``run_due``) from a checkpoint, hour by hour and
shard by shard, exactly as the lot job reads its own (no scan):

* ``STATE``: an owner's level whose ``expires_at`` fell due. An explicit expiry removes the
  level (back to base, no downgrade policy); a lifecycle expiry (``ACTIVITY_REFRESH`` timer, a
  period-based ``expires_at`` off a boundary because of ``extend_months``, the end of a grace
  window) takes the downgrade decision of ``tier_lifecycle.lapse`` with the owner's counters of
  that moment. The write is conditioned on the level's ``version`` and re-reads it first: an
  entry whose level moved, was removed or was already applied by an overlapping run is only
  dropped, so each lapse applies once. A level kept (still qualifies, ``HOLD``, ``min_level``) or
  postponed (grace) gets its new ``expires_at`` and so a new entry.
* ``PERIOD``: a tier's next period boundary (filed when the tier is created or its lifecycle
  changed). At the boundary the job starts the ``TIER_PERIOD_END`` fan-out over the program's
  participants, under an id derived from the tier and the boundary (an overlapping run finds it
  started), and files the following boundary's entry in the same transaction. A boundary filed
  before a PATCH changed the period still runs, to lapse the levels given that expiry (they
  have no entry of their own), without rollover.

**The period end** (``period_end_page``, the fan-out's work per page): for each participant, in
one transaction, (1) the lapse of a lifecycle level whose ``expires_at`` is at or before the
boundary, decided with the counters as of the period end, THEN (2) the rollover of the
qualifying counters from the post-evaluation level, and (3) a marker ``evaluated_boundary``
that makes a replayed page (crash, timeout, redelivered record) apply nothing twice. A
participant's level whose ``expires_at`` is a boundary of its period-based tier is therefore
the fan-out's and files no ``STATE`` entry (``services.tiers.period_end_evaluates``): lapse and
rollover happen once and in that order, and the job never has 100,000 entries of one hour to
drop. One filed before its tier's lifecycle changed is only dropped. Groups are not in the
fan-out: their levels lapse through the due index like any other [inferred: 02 §4.7.3 names
participants for the period end].

Choices [inferred]: the period-end decision uses the counters read when the fan-out reaches
the participant (shortly after the boundary; an event counted in between counts for the ending
period); an archived tier is never re-evaluated (02 §4.7.4: its levels are preserved), its due
entries are dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from scrip.domain import clock, due_hours, ids, tier_lifecycle
from scrip.domain.fanouts import FanOut, FanOutKind, new_job
from scrip.domain.state import Counter, Operation, Owner, OwnerKind, StateChange, StateType, counter_text
from scrip.domain.tiers import Tier, TierStatus
from scrip.services.common import StaleRetry, retry_on_stale
from scrip.services.state import ChangeSource
from scrip.services.tiers import TierChangeSource, level_change_writes, owner_partition, period_end_evaluates
from scrip.storage import fanouts as fanout_store
from scrip.storage import items, transactions
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store

LOOKBACK = timedelta(days=2)  # as the lot job: how far back a run looks for entries it has not cleared
SETTLE = timedelta(minutes=15)  # as the lot job: longer than any writer runs between its clock read and commit
_STALE = StaleRetry((tier_store.StaleTierState, state_store.StaleState))
# Fan-out ids are derived, not drawn: the same tier and boundary always name the same job.
_FANOUT_NAMESPACE = uuid.UUID("5f0c2b7e-8d1a-4c55-9a43-2b1e7d9c6a10")


@dataclass
class TierJobReport:
    changed: int = 0  # levels moved (downgraded, removed)
    kept: int = 0  # levels kept or postponed by grace, with a new expires_at
    dropped: int = 0  # entries with nothing (left) to do
    periods_started: int = 0  # period-end fan-outs started


def period_fanout_id(tier: Tier, boundary: datetime) -> str:
    return str(uuid.uuid5(_FANOUT_NAMESPACE, f"{tier.id}:{items.timestamp(boundary)}"))


def _values(counters: Mapping[str, Counter], now: datetime) -> dict[str, Decimal]:
    return {key: counter.effective(now).value for key, counter in counters.items()}


def _lifecycle_source(tier: Tier) -> ChangeSource:
    return ChangeSource(program_id=tier.program_id)


# ------------------------------------------------------------------ STATE entries


def _lapse_writes(
    org: str,
    owner: Owner,
    tier: Tier,
    stored: tier_store.StoredTierState,
    decision: tier_lifecycle.Lapse,
    now: datetime,
) -> list[transactions.Write]:
    """What a lapse decided, as the lifecycle's level change (due index job or period end alike)."""
    return level_change_writes(
        org,
        owner,
        tier,
        stored,
        decision.level,
        now=now,
        expires_at=decision.expires_at,
        source=TierChangeSource.LIFECYCLE,
        change_source=_lifecycle_source(tier),
        grace_until=decision.grace_until,
    )


def _apply_state(entry: dict[str, Any], now: datetime, report: TierJobReport) -> None:
    org = str(entry["organization_id"])
    partition = str(entry["owner_partition"])
    owner = tier_store.owner_of_partition(partition)
    program_id, tier_key = str(entry["program_id"]), str(entry["tier_key"])
    due_at = items.moment(entry["expires_at"])

    def attempt() -> str:
        stored = tier_store.owner_state(partition, program_id, tier_key)
        found = tier_store.get(org, program_id, tier_key)
        if (
            stored is None
            or stored.state.expires_at != due_at
            or found is None
            or found.tier.status is TierStatus.ARCHIVED
            or period_end_evaluates(found.tier, owner, stored.state)
        ):
            transactions.write([tier_store.delete_due(entry)])
            return "dropped"
        tier, state = found.tier, stored.state
        current = tier.level(state.level)
        if state.explicit or current is None:  # explicit expiry, or a level the tier no longer has
            decision = tier_lifecycle.Lapse(None, None, changed=True)
        else:
            assert due_at is not None
            counters = _values(state_store.read(org, owner).counters, now)
            decision = tier_lifecycle.lapse(tier, current, counters, due_at, grace_until=state.grace_until)
        writes = _lapse_writes(org, owner, tier, stored, decision, now)
        # A non-empty change moves or deletes the level's due entry, which is this one.
        transactions.write(writes or [tier_store.delete_due(entry)])
        return "changed" if decision.changed else "kept"

    outcome = retry_on_stale(attempt, _STALE)
    setattr(report, outcome, getattr(report, outcome) + 1)


# ------------------------------------------------------------------ PERIOD entries


def _start_period(entry: dict[str, Any], now: datetime, report: TierJobReport) -> None:
    org, program_id, tier_key = str(entry["organization_id"]), str(entry["program_id"]), str(entry["tier_key"])
    boundary = items.moment(entry["expires_at"])
    assert boundary is not None
    found = tier_store.get(org, program_id, tier_key)
    tier = found.tier if found is not None else None
    if tier is None or tier.status is not TierStatus.ACTIVE:
        # Archived (02 §4.7.4: no period-end re-evaluation). A boundary filed before a PATCH
        # changed the period still runs: levels given that expiry lapse then (without rollover).
        transactions.write([tier_store.delete_due(entry)])
        report.dropped += 1
        return
    payload = {"tier_key": tier.key, "boundary": items.timestamp(boundary)}
    job = new_job(org, period_fanout_id(tier, boundary), FanOutKind.TIER_PERIOD_END, program_id, payload, now)
    follow_on = [tier_store.delete_due(entry), *tier_store.period_due_writes(org, tier, boundary)]
    if fanout_store.get(org, job.id) is None:
        try:
            transactions.write([*fanout_store.start_writes(job), *follow_on])
            report.periods_started += 1
            return
        except transactions.TransactionCancelled:
            if fanout_store.get(org, job.id) is None:
                raise
    transactions.write(follow_on)  # an overlapping run started it: only clear and re-file
    report.dropped += 1


# ------------------------------------------------------------------ the schedule


def run_due(now: datetime | None = None) -> TierJobReport:
    moment = now or clock.now()
    # The wall clock, not the application clock (see lot_jobs.run_due).
    settled = min(moment, datetime.now(UTC)) - SETTLE
    report = TierJobReport()
    checkpoint = tier_store.due_checkpoint()
    hours = due_hours.hours_to_read(checkpoint, moment, LOOKBACK)
    for hour in hours:
        for entry in tier_store.due_entries(hour, moment):
            if entry.get("due_kind") == tier_store.DUE_PERIOD:
                _start_period(entry, moment, report)
            else:
                _apply_state(entry, moment, report)
    # Reached only when every entry read was processed (a failure raises): each bucket read is empty.
    advanced = due_hours.advanced_checkpoint(checkpoint, hours, settled)
    if advanced is not None:
        tier_store.save_due_checkpoint(advanced)
    return report


# ------------------------------------------------------------------ the period-end fan-out


def _evaluate(org: str, tier: Tier, participant_id: str, boundary: datetime, now: datetime) -> int:
    """One participant at one boundary: lapse, then rollover, then the marker; 1 if it changed."""
    owner = Owner(OwnerKind.PARTICIPANT, participant_id)
    partition = owner_partition(org, owner)

    def attempt() -> int:
        stored, done = tier_store.period_view(partition, tier.program_id, tier.key)
        if done is not None and done >= boundary:
            return 0
        counters = state_store.read(org, owner).counters
        values = _values(counters, now)
        level = tier.level(stored.state.level) if stored is not None else None
        writes: list[transactions.Write] = []
        state = stored.state if stored is not None else None
        if (
            stored is not None
            and state is not None
            and level is not None
            and not state.explicit
            and state.grace_until is None
            and state.expires_at is not None
            and state.expires_at <= boundary
        ):
            decision = tier_lifecycle.lapse(tier, level, values, boundary)
            writes += _lapse_writes(org, owner, tier, stored, decision, now)
            level = decision.level
        # Counters roll over at the current lifecycle's own boundaries only: a boundary filed
        # before a PATCH changed the period only lapses the levels that were given it.
        is_boundary = tier_lifecycle.period_start(tier.lifecycle, boundary) == boundary
        rolled = tier_lifecycle.rollover(tier.lifecycle, level, values) if is_boundary else {}
        for key, value in rolled.items():
            previous = counters.get(key)
            if previous is None:
                continue
            writes.append(state_store.counter_put(org, owner, replace(previous, value=value), previous))
            change = StateChange(
                id=ids.new_id(),
                state_type=StateType.COUNTER,
                key=key,
                operation=Operation.SET,
                old_value=counter_text(values[key]),
                new_value=counter_text(value),
                changed_at=now,
                changed_by_api_key_id=None,
                event_id=None,
                rule_id=None,
                program_id=tier.program_id,
                event_timestamp=None,
            )
            writes.append(state_store.history_put(org, owner, change))
        if not writes:
            return 0  # nothing to apply: nothing to remember either (a replay decides the same)
        writes.append(tier_store.period_marker_put(partition, tier.program_id, tier.key, boundary))
        try:
            transactions.write(writes)
        except tier_store.AlreadyEvaluated:
            return 0
        return 1

    return retry_on_stale(attempt, _STALE)


def period_end_page(job: FanOut, participant_ids: list[str]) -> int:
    """The ``TIER_PERIOD_END`` fan-out's work for one page: participants changed."""
    tier_key = str(job.payload["tier_key"])
    boundary = items.moment(str(job.payload["boundary"]))
    assert boundary is not None
    found = tier_store.get(job.organization_id, job.program_id, tier_key)
    if found is None or found.tier.status is not TierStatus.ACTIVE:
        return 0  # archived meanwhile: no period-end re-evaluation (02 §4.7.4)
    now = clock.now()
    return sum(_evaluate(job.organization_id, found.tier, p, boundary, now) for p in participant_ids)
