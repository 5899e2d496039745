"""Tiers on the event path (02 §4.7.1, §4.7.3, §4.10, §6): the ``SET_TIER`` action, automatic
qualification after an event's rules, and the ``ACTIVITY_REFRESH`` timer.

Plain functions the event processor and the action runner call inside the event's unit of
work: every write they make is staged with the event's other effects and commits in its one
transaction, and what they read (the program's tiers, the participant's levels and counters)
comes from the attempt's read cache with the staged writes applied, so qualification sees the
counters as this event's ``COUNTER`` actions left them. Each level write is conditioned on the
version of the level read (``tier_store.put_state``): of two events of one participant planned
from the same level, one commits and the other's transaction is cancelled with
``StaleTierState``, which the processor re-plans from fresh reads, so nobody upgrades twice from
a stale level.

Choices where the spec says **[inferred]** or nothing:

* ``SET_TIER``'s ``expires_at`` (a duration from the processing time, or an RFC 3339 instant)
  is an explicit expiry; without it the level's expiry comes from the tier's lifecycle
  (``level_change_writes`` computes it), as for an automatic upgrade. Setting the level a
  participant already holds, without ``expires_at``, writes nothing (no history line, no
  webhook); with one, only the expiry moves.
* Automatic qualification is for the event's participant only (group tiers change through
  ``SET_TIER`` with a group target).
* ``ACTIVITY_REFRESH``: the new ``expires_at`` is ``last activity + duration`` rounded **up** to
  the next whole hour. A level never lapses before the spec's instant (at most an hour later,
  which the hourly due index cannot tell apart anyway), and a participant's events write the
  refresh at most once per hour and tier: the events of the same hour find the expiry already
  there and write nothing. An automatic upgrade into such a tier takes the same rounded
  expiry. An expiry is only moved later, never earlier; an explicit ``expires_at`` (API or
  ``SET_TIER``: a scheduled removal) and a level inside a grace window (the timer has already
  run out; activity is not re-qualification) are not refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from scrip.domain import clock
from scrip.domain import tier_lifecycle as lifecycle_rules
from scrip.domain import tier_qualification as qualification_rules
from scrip.domain.events import Event
from scrip.domain.state import Owner, OwnerKind
from scrip.domain.tiers import Level, Tier, TierStatus
from scrip.services.state import ChangeSource
from scrip.services.tiers import TierChangeSource, level_change_writes, owner_partition
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store
from scrip.storage import transactions

_HOUR = timedelta(hours=1)


class UnknownTier(Exception):
    """A ``SET_TIER`` names a tier or level the program does not have (the action fails)."""


@dataclass(frozen=True)
class LevelChange:
    """What one level write did, for the event's ``state_changes`` (None: base)."""

    owner: Owner
    tier_key: str
    old_level: str | None
    new_level: str | None


# ------------------------------------------------------------------ SET_TIER


@dataclass(frozen=True)
class SetTier:
    """A ``SET_TIER``'s outcome: ``skipped`` names why nothing was assigned (archived tier);
    ``change`` is None when the owner already held the level (nothing written)."""

    tier_key: str
    level: str
    skipped: str | None = None
    change: LevelChange | None = None
    expires_at: datetime | None = None


def set_tier(
    org_id: str,
    program_id: str,
    owner: Owner,
    tier_key: str,
    level_key: str,
    *,
    explicit_expiry: datetime | None,
    source: ChangeSource,
) -> SetTier:
    """Assign exactly ``level_key`` (up or down) of the program's tier to ``owner`` (02 §4.10).

    ``UnknownTier`` for a tier or level the program lacks; an archived tier is skipped. Allowed
    whatever the participant's status (the caller checks nothing of it)."""
    # The whole tier partition, as automatic qualification reads it after the rules: one Query
    # for the event, from the attempt's cache afterwards.
    tier = next((t for t in tier_store.program_tiers(org_id, program_id) if t.key == tier_key), None)
    if tier is None:
        raise UnknownTier(f"tier {tier_key!r} not found in the program")
    if tier.status is TierStatus.ARCHIVED:
        return SetTier(tier_key, level_key, skipped="tier is archived")
    level = tier.level(level_key)
    if level is None:
        raise UnknownTier(f"{level_key!r} is not a level of tier {tier_key!r}")
    now = clock.now()
    previous = tier_store.owner_state(owner_partition(org_id, owner), program_id, tier_key)
    before = previous.state if previous else None
    if explicit_expiry is None and before is not None and before.level == level.key:
        return SetTier(tier_key, level_key, expires_at=before.expires_at)
    writes = level_change_writes(
        org_id,
        owner,
        tier,
        previous,
        level,
        now=now,
        expires_at=explicit_expiry,
        source=TierChangeSource.RULE,
        change_source=source,
    )
    expires_at = explicit_expiry if explicit_expiry is not None else lifecycle_rules.expires_at(tier.lifecycle, now)
    if not writes:
        return SetTier(tier_key, level_key, expires_at=expires_at)
    transactions.write([_still_active(org_id, tier), *writes])
    changed = before is None or before.level != level.key
    change = LevelChange(owner, tier_key, before.level if before else None, level.key) if changed else None
    return SetTier(tier_key, level_key, change=change, expires_at=expires_at)


# ------------------------------------------------------------------ after the rules


def _counters(org_id: str, owner: Owner, now: datetime) -> dict[str, Decimal]:
    """The owner's counters with this event's staged increments and lazy resets applied."""
    stored = state_store.read(org_id, owner)
    return {key: counter.effective(now).value for key, counter in stored.counters.items()}


def refreshed_expiry(tier: Tier, last_activity: datetime) -> datetime | None:
    """``ACTIVITY_REFRESH``'s expiry after an activity, rounded up to the hour (module docstring);
    None for the other retention modes."""
    exact = lifecycle_rules.refreshed_on_activity(tier.lifecycle, last_activity)
    if exact is None:
        return None
    hour = exact.replace(minute=0, second=0, microsecond=0)
    return hour if hour == exact else hour + _HOUR


def lifecycle_expiry(tier: Tier, since: datetime) -> datetime | None:
    """The expiry of a level acquired at ``since`` without an explicit one."""
    refreshed = refreshed_expiry(tier, since)
    return refreshed if refreshed is not None else lifecycle_rules.expires_at(tier.lifecycle, since)


def after_rules(
    org_id: str,
    program_id: str,
    event: Event,
    participant_id: str,
    set_by_rules: Iterable[str],
) -> list[LevelChange]:
    """Steps 3 and 5 of 02 §6 for the event's participant, staged in the event's unit of work:
    upgrade every ACTIVE tier whose qualification the counters now meet (upgrade only), and
    move the ``ACTIVITY_REFRESH`` expiry of the levels it holds. Tiers a ``SET_TIER`` of this
    event touched (``set_by_rules``, tier keys) are left as the rule set them.

    A program without tiers costs the one Query of its (empty) tier partition."""
    tiers = [t for t in tier_store.program_tiers(org_id, program_id) if t.status is TierStatus.ACTIVE]
    skipped = set(set_by_rules)
    tiers = [t for t in tiers if t.key not in skipped]
    if not tiers:
        return []
    owner = Owner(OwnerKind.PARTICIPANT, participant_id)
    partition = owner_partition(org_id, owner)
    levels = tier_store.owner_states(partition, program_id)
    now = clock.now()
    counters: Mapping[str, Decimal] | None = None
    source = ChangeSource(event_id=event.id, program_id=program_id, event_timestamp=event.event_timestamp)
    changes: list[LevelChange] = []
    for tier in tiers:
        previous = levels.get(tier.key)
        if any(level.qualification is not None for level in tier.levels):
            counters = counters if counters is not None else _counters(org_id, owner, now)
            target = qualification_rules.upgrade(tier, previous.state.rank if previous else 0, counters)
            if target is not None:
                _write(org_id, owner, tier, previous, target, now, lifecycle_expiry(tier, now), source, upgrade=True)
                changes.append(LevelChange(owner, tier.key, previous.state.level if previous else None, target.key))
                continue
        if previous is None:
            continue
        refreshed = refreshed_expiry(tier, now)
        current = previous.state.expires_at
        if previous.state.explicit or previous.state.grace_until is not None:
            continue
        if refreshed is None or current is None or refreshed <= current:
            continue
        level = tier.level(previous.state.level)
        if level is not None:  # a level the tier no longer defines is left to the lifecycle job
            _write(org_id, owner, tier, previous, level, now, refreshed, source, upgrade=False)
    return changes


def _write(
    org_id: str,
    owner: Owner,
    tier: Tier,
    previous: tier_store.StoredTierState | None,
    level: Level,
    now: datetime,
    expires_at: datetime | None,
    source: ChangeSource,
    *,
    upgrade: bool,
) -> None:
    """Stage one level write; an upgrade also checks the tier is still ACTIVE at commit (an
    archive racing the event), a refresh does not need to (it assigns nothing new)."""
    writes = level_change_writes(
        org_id,
        owner,
        tier,
        previous,
        level,
        now=now,
        expires_at=expires_at,
        source=TierChangeSource.QUALIFICATION,
        change_source=source,
    )
    if writes:
        transactions.write([_still_active(org_id, tier), *writes] if upgrade else writes)


def _still_active(org_id: str, tier: Tier) -> transactions.Write:
    """The tier is still ACTIVE at commit: an archive committed since our read would otherwise
    leave a level assigned in an archived tier. Failing, it is a stale read (``StaleTier``), and
    the processor plans the event again, which then skips the archived tier."""
    return replace(tier_store.active_check(org_id, tier), on_condition_failed=tier_store.StaleTier)
