"""Tier use cases (02 §4): definitions, and participants' levels in them.

The level-change helpers (``level_change_writes``) return writes instead of committing them, so
that a rule's ``SET_TIER``, automatic qualification and the lifecycle job can put a change in
their own transaction; the API's PUT and DELETE commit them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain import clock, ids, tier_lifecycle
from scrip.domain import tiers as tier_rules
from scrip.domain.errors import NotFound, ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.programs import Program, ProgramStatus
from scrip.domain.state import Operation, Owner, OwnerKind, StateChange, StateType
from scrip.domain.tiers import Level, ProgramArchived, Tier, TierArchived, TierState, TierStatus
from scrip.services.common import retry_on_stale
from scrip.services.state import ChangeSource, source_of
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store
from scrip.storage import transactions


class TierChangeSource(StrEnum):
    """What moved a level (02 §5's ``source``)."""

    RULE = "rule"
    QUALIFICATION = "qualification"
    LIFECYCLE = "lifecycle"
    API = "api"


# ------------------------------------------------------------ definitions


def _writable_program(org_id: str, program_id: str) -> Program:
    program = program_store.require(org_id, program_id)
    if program.status is ProgramStatus.ARCHIVED:
        raise ProgramArchived(program_id)
    return program


def create_tier(caller: Caller, program_id: str, body: dict[str, Any]) -> Tier:
    org = caller.organization_id
    _writable_program(org, program_id)
    tier = tier_rules.new_tier(
        tier_id=ids.new_id(), program_id=program_id, body=body, now=clock.now(), new_id=ids.new_id
    )
    tier_store.create(org, tier)
    return tier


def list_tiers(caller: Caller, program_id: str) -> list[Tier]:
    program_store.require(caller.organization_id, program_id)
    return tier_store.program_tiers(caller.organization_id, program_id)


def get_tier(caller: Caller, program_id: str, tier_key: str) -> Tier:
    program_store.require(caller.organization_id, program_id)
    return tier_store.require(caller.organization_id, program_id, tier_key).tier


def update_tier(caller: Caller, program_id: str, tier_key: str, changes: dict[str, Any]) -> Tier:
    org = caller.organization_id

    def attempt() -> Tier:
        _writable_program(org, program_id)
        current = tier_store.require(org, program_id, tier_key)
        updated = tier_rules.apply_update(current.tier, changes, clock.now(), ids.new_id)
        if updated is not current.tier:
            tier_store.save(org, current, updated)
        return updated

    return retry_on_stale(attempt, tier_store.StaleTier)


def archive_tier(caller: Caller, program_id: str, tier_key: str) -> Tier:
    org = caller.organization_id

    def attempt() -> Tier:
        _writable_program(org, program_id)
        current = tier_store.require(org, program_id, tier_key)
        archived = tier_rules.archive(current.tier, clock.now())
        tier_store.save(org, current, archived)
        return archived

    return retry_on_stale(attempt, tier_store.StaleTier)


# ------------------------------------------------------------ levels


def owner_partition(org_id: str, owner: Owner) -> str:
    return state_store.partition(org_id, owner)


def period_end_evaluates(tier: Tier, owner: Owner, state: TierState) -> bool:
    """A participant's lifecycle expiry on a period boundary of its tier: the period-end fan-out
    (``services/tier_jobs.py``) evaluates it with the counters' rollover, so it files no due
    entry (100,000 entries due in one hour would be the lifecycle job's to drop one by one).
    Groups are not in the fan-out: theirs are filed."""
    lifecycle = tier.lifecycle
    return (
        owner.kind is OwnerKind.PARTICIPANT
        and not state.explicit
        and state.grace_until is None
        and state.expires_at is not None
        and tier_lifecycle.is_period_based(lifecycle)
        and tier_lifecycle.period_start(lifecycle, state.expires_at) == state.expires_at
    )


def level_change_writes(
    org_id: str,
    owner: Owner,
    tier: Tier,
    previous: tier_store.StoredTierState | None,
    level: Level | None,
    *,
    now: datetime,
    expires_at: datetime | None,
    source: TierChangeSource,
    change_source: ChangeSource,
    grace_until: datetime | None = None,
) -> list[transactions.Write]:
    """The writes that put ``owner`` at ``level`` of ``tier`` (None: back to base, rank 0),
    conditioned on its level still being ``previous``; [] when nothing changes.

    A change of level writes a state history ``tier`` line, from whose stream record the
    ``participant.tier_changed`` notification is derived. The same level with another
    ``expires_at`` only moves the expiry (its due entry), without a line [inferred].

    ``expires_at`` from the API or a rule (``source`` API or RULE) is an explicit expiry: the
    level is removed then, without the downgrade policy. From QUALIFICATION or LIFECYCLE it is
    the lifecycle's next re-evaluation. None under a lifecycle (any source) means the
    lifecycle's own expiry from ``now``, so that every level acquired under a lifecycle has a
    due entry the lifecycle job finds. ``grace_until``: the lifecycle job postponing a downgrade.
    """
    partition = owner_partition(org_id, owner)
    before = previous.state if previous else None
    if level is None:
        if previous is None:
            return []
        writes = tier_store.delete_state(org_id, partition, previous)
    else:
        explicit = expires_at is not None and source in (TierChangeSource.API, TierChangeSource.RULE)
        if expires_at is None:
            expires_at = tier_lifecycle.expires_at(tier.lifecycle, now)
        same_level = before is not None and before.level == level.key
        if (
            same_level
            and before is not None
            and before.expires_at == expires_at
            and before.rank == level.rank
            and before.explicit == explicit
            and before.grace_until == grace_until
        ):
            return []
        state = TierState(
            program_id=tier.program_id,
            tier_key=tier.key,
            level=level.key,
            rank=level.rank,
            acquired_at=before.acquired_at if same_level and before is not None else now,
            expires_at=expires_at,
            explicit=explicit,
            grace_until=grace_until,
        )
        writes = tier_store.put_state(
            org_id, partition, state, previous, indexed=not period_end_evaluates(tier, owner, state)
        )
        if same_level:
            return writes
    change = StateChange(
        id=ids.new_id(),
        state_type=StateType.TIER,
        key=tier.key,
        operation=Operation.SET if level is not None else Operation.DELETE,
        old_value=before.level if before else None,
        new_value=level.key if level else None,
        changed_at=now,
        changed_by_api_key_id=change_source.api_key_id,
        event_id=change_source.event_id,
        rule_id=change_source.rule_id,
        program_id=tier.program_id,
        event_timestamp=change_source.event_timestamp,
    )
    extra = {
        "organization_id": org_id,
        "owner_type": owner.kind.value,
        "owner_id": owner.id,
        "previous_rank": before.rank if before else 0,
        "new_rank": level.rank if level else 0,
        "source": source.value,
        "created_at": clock.to_rfc3339(change.changed_at),
    }
    return [*writes, state_store.history_put(org_id, owner, change, extra)]


@dataclass(frozen=True)
class ParticipantTier:
    """A participant's level in one tier, with the level as the tier defines it now (benefits)."""

    state: TierState
    level: Level | None


def _enrolled_participant(caller: Caller, participant_id: str, program_id: str) -> None:
    org = caller.organization_id
    participant_store.require(org, participant_id)
    program_store.require(org, program_id)
    if program_id not in participant_store.enrollments(org, participant_id):
        raise NotFound(f"participant {participant_id} is not enrolled in program {program_id}")


def _partition(caller: Caller, participant_id: str) -> str:
    return owner_partition(caller.organization_id, Owner(OwnerKind.PARTICIPANT, participant_id))


def _with_levels(caller: Caller, program_id: str, states: list[TierState]) -> list[ParticipantTier]:
    tiers = {t.key: t for t in tier_store.program_tiers(caller.organization_id, program_id)} if states else {}
    return [ParticipantTier(s, tiers[s.tier_key].level(s.level) if s.tier_key in tiers else None) for s in states]


def list_participant_tiers(caller: Caller, participant_id: str, program_id: str) -> list[ParticipantTier]:
    _enrolled_participant(caller, participant_id, program_id)
    stored = tier_store.owner_states(_partition(caller, participant_id), program_id)
    return _with_levels(caller, program_id, [s.state for _, s in sorted(stored.items())])


def get_participant_tier(caller: Caller, participant_id: str, program_id: str, tier_key: str) -> ParticipantTier:
    _enrolled_participant(caller, participant_id, program_id)
    stored = tier_store.owner_state(_partition(caller, participant_id), program_id, tier_key)
    if stored is None:
        raise NotFound(f"participant {participant_id} has no level in tier {tier_key!r}")
    return _with_levels(caller, program_id, [stored.state])[0]


def _writable_assignment(caller: Caller, participant_id: str, program_id: str) -> None:
    """02 §4.9: an ACTIVE participant enrolled in an ACTIVE program."""
    org = caller.organization_id
    _enrolled_participant(caller, participant_id, program_id)
    participant_store.require(org, participant_id).require_active()
    program_store.require(org, program_id).require_active()


def set_participant_tier(
    caller: Caller, participant_id: str, program_id: str, tier_key: str, level_key: str, expires_at: datetime | None
) -> ParticipantTier:
    """Manual assignment (up or down); replaces any pending explicit expiry."""
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, participant_id)
    _writable_assignment(caller, participant_id, program_id)

    def attempt() -> ParticipantTier:
        tier = tier_store.require(org, program_id, tier_key).tier
        if tier.status is TierStatus.ARCHIVED:
            raise TierArchived(tier.key)
        level = tier.level(level_key)
        if level is None:
            raise ValidationFailed(
                f"{level_key!r} is not a level of tier {tier_key!r}",
                field="level",
                reason="unknown_level",
                received=level_key,
            )
        now = clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed(
                "expires_at must be in the future",
                field="expires_at",
                reason="in_past",
                received=expires_at.isoformat(),
            )
        previous = tier_store.owner_state(owner_partition(org, owner), program_id, tier_key)
        writes = level_change_writes(
            org,
            owner,
            tier,
            previous,
            level,
            now=now,
            expires_at=expires_at,
            source=TierChangeSource.API,
            change_source=source_of(caller),
        )
        if writes:
            # The participant still ACTIVE and the tier not archived when the change commits.
            transactions.write(
                [state_store.owner_guard(org, owner, financial=True), tier_store.active_check(org, tier), *writes]
            )
        stored = tier_store.owner_state(owner_partition(org, owner), program_id, tier_key)
        assert stored is not None
        return ParticipantTier(stored.state, level)

    return retry_on_stale(attempt, tier_store.StaleTierState)


def remove_participant_tier(caller: Caller, participant_id: str, program_id: str, tier_key: str) -> None:
    """Back to base (rank 0), cancelling a pending explicit expiry. Allowed on an archived tier
    (02 §4.7.4 [inferred]); a participant without a level in the tier succeeds unchanged."""
    org = caller.organization_id
    owner = Owner(OwnerKind.PARTICIPANT, participant_id)
    _writable_assignment(caller, participant_id, program_id)

    def attempt() -> None:
        tier = tier_store.require(org, program_id, tier_key).tier
        previous = tier_store.owner_state(owner_partition(org, owner), program_id, tier_key)
        writes = level_change_writes(
            org,
            owner,
            tier,
            previous,
            None,
            now=clock.now(),
            expires_at=None,
            source=TierChangeSource.API,
            change_source=source_of(caller),
        )
        if writes:
            transactions.write([state_store.owner_guard(org, owner, financial=True), *writes])

    retry_on_stale(attempt, tier_store.StaleTierState)
