"""Participant use cases (02 §1): upsert, reads, updates, status, enrollment."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from scrip.domain import clock, ids
from scrip.domain import participants as participant_rules
from scrip.domain.assets import Asset
from scrip.domain.errors import ApiError, NotFound
from scrip.domain.ledger import Balance, participant_account
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.participants import Enrollment, EnrollmentStatus, Participant, ParticipantStatus
from scrip.domain.programs import OnUnknownParticipant, Program
from scrip.domain.state import Counter, Owner, OwnerKind, normalize_tag
from scrip.services.common import retry_on_stale
from scrip.services.state import ChangeSource, attribute_merge_writes, source_of, tag_replacement_writes
from scrip.storage import assets as asset_store
from scrip.storage import ledger as ledger_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage import state as state_store
from scrip.storage import tiers as tier_store
from scrip.storage import transactions

SORT_ORDERS = {"created_at": "BY_CREATED", "external_id": "BY_EXTERNAL_ID", "status": "BY_STATUS"}


@dataclass(frozen=True)
class ParticipantDetail:
    participant: Participant
    tags: list[str]
    counters: dict[str, Counter]
    attributes: dict[str, str]
    program_ids: list[str]
    balances: list[tuple[Asset, Balance]] = field(default_factory=list)
    tiers: dict[str, Any] = field(default_factory=dict)


def _owner(participant_id: str) -> Owner:
    return Owner(OwnerKind.PARTICIPANT, participant_id)


def detail(organization_id: str, participant: Participant) -> ParticipantDetail:
    state = state_store.read(organization_id, _owner(participant.id))
    enrollments = participant_store.enrollments(organization_id, participant.id)
    balances = ledger_store.owner_balances(organization_id, participant_account(participant.id))
    assets = asset_store.get_many(organization_id, sorted(balances))
    now = clock.now()
    return ParticipantDetail(
        participant=participant,
        tags=sorted(state.tags),
        counters={k: c.effective(now) for k, c in sorted(state.counters.items())},
        attributes=dict(sorted(state.attributes.items())),
        program_ids=sorted(enrollments),
        balances=[(assets[a], balances[a]) for a in sorted(balances) if a in assets],
        tiers=_tiers(organization_id, participant.id),
    )


def _tiers(organization_id: str, participant_id: str) -> dict[str, Any]:
    """02 §4.11: ``{tier_key: {level, rank}}`` with the tier's ``program_id`` [inferred]. Tier keys
    are unique per program only: for a key used by two of the participant's programs, the level
    acquired last is shown (``/state/tiers?program_id=`` shows each program's)."""
    states = tier_store.all_owner_states(state_store.partition(organization_id, _owner(participant_id)))
    shown: dict[str, Any] = {}
    for state in sorted(states, key=lambda s: (s.acquired_at, s.program_id)):
        shown[state.tier_key] = {"level": state.level, "rank": state.rank, "program_id": state.program_id}
    return dict(sorted(shown.items()))


def get_participant(caller: Caller, participant_id: str) -> ParticipantDetail:
    return detail(caller.organization_id, participant_store.require(caller.organization_id, participant_id))


def _enrollment_writes(
    participant: Participant, program_id: str | None, current: dict[str, Enrollment], now: datetime
) -> list[transactions.Write]:
    """Enroll, or reactivate a FROZEN/LOCKED/CLOSED enrollment; nothing if already active."""
    if program_id is None:
        return []
    existing = current.get(program_id)
    if existing is not None and existing.status is EnrollmentStatus.ACTIVE:
        return []
    enrolled_at = existing.enrolled_at if existing else now
    return participant_store.enrollment_writes(
        participant, program_id, Enrollment(program_id, EnrollmentStatus.ACTIVE, enrolled_at)
    )


def upsert_participant(
    caller: Caller,
    *,
    external_id: str,
    program_id: str | None = None,
    status: ParticipantStatus | None = None,
    profile: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    attributes: dict[str, str] | None = None,
) -> tuple[ParticipantDetail, bool]:
    """Create the participant with ``external_id``, or update it if it exists (02 §1.5.1).

    Returns the participant and whether it was created. A race between two creates of one
    ``external_id`` is settled by the external-id claim: the loser updates instead.
    """
    org = caller.organization_id
    if program_id is not None:
        program_store.require(org, program_id)
    wanted_tags = sorted({normalize_tag(t) for t in tags}) if tags is not None else None
    source = source_of(caller)
    for _ in range(3):
        existing_id = participant_store.find_id_by_external_id(org, external_id)
        if existing_id is not None:
            changes: dict[str, Any] = dict(profile or {})
            if status is not None:
                changes["status"] = status
            return _update(
                caller, existing_id, changes, tags=wanted_tags, attributes=attributes, program_id=program_id
            ), False
        try:
            return _create(
                org, external_id, program_id, status, profile or {}, wanted_tags or [], attributes or {}, source
            ), True
        except participant_store.ExternalIdTaken:
            continue
    raise participant_store.ExternalIdTaken(external_id)


def _create(
    org: str,
    external_id: str,
    program_id: str | None,
    status: ParticipantStatus | None,
    profile: dict[str, Any],
    tags: list[str],
    attributes: dict[str, str],
    source: ChangeSource,
) -> ParticipantDetail:
    now = clock.now()
    participant = participant_rules.new_participant(
        organization_id=org,
        participant_id=ids.new_id(),
        external_id=external_id,
        status=status or ParticipantStatus.ACTIVE,
        profile=profile,
        now=now,
    )
    owner = _owner(participant.id)
    program_ids = [program_id] if program_id else []
    writes = [
        *participant_store.create_writes(participant, program_ids),
        *_enrollment_writes(participant, program_id, {}, now),
        *tag_replacement_writes(org, owner, [], tags, now, source),
        *attribute_merge_writes(org, owner, {}, attributes, now, source),
    ]
    participant_store.write(writes)
    return ParticipantDetail(participant, tags, {}, dict(sorted(attributes.items())), program_ids)


def _update(
    caller: Caller,
    participant_id: str,
    changes: dict[str, Any],
    *,
    tags: list[str] | None,
    attributes: dict[str, str] | None,
    program_id: str | None = None,
) -> ParticipantDetail:
    org = caller.organization_id
    source = source_of(caller)

    def attempt() -> ParticipantDetail:
        now = clock.now()
        current = participant_store.require(org, participant_id)
        enrollments = participant_store.enrollments(org, participant_id)
        updated = participant_rules.apply_profile(current, changes, now)
        owner = _owner(participant_id)
        state = state_store.read(org, owner)
        state_writes = []
        if tags is not None:
            state_writes += tag_replacement_writes(org, owner, state.tags, tags, now, source)
        if attributes:
            state_writes += attribute_merge_writes(org, owner, state.attributes, attributes, now, source)
        enrollment_writes = _enrollment_writes(updated, program_id, enrollments, now)
        program_ids = sorted(set(enrollments) | ({program_id} if program_id else set()))
        if updated is current and (enrollment_writes or state_writes):
            # The list entries carry program_ids and must follow a new enrollment; the
            # version still guards against a concurrent writer.
            updated = replace(current, updated_at=now, version=current.version + 1)
        writes = []
        if updated is not current:
            writes += participant_store.update_writes(current, updated, program_ids)
        else:
            writes.append(participant_store.exists_check(org, participant_id))
        writes += enrollment_writes + state_writes
        if len(writes) > 1 or updated is not current:
            participant_store.write(writes)
        return detail(org, updated)

    # A tag or attribute changed since it was read is stale too: its write carries a condition.
    return retry_on_stale(attempt, (participant_store.StaleParticipant, state_store.StaleState))


def update_participant(caller: Caller, participant_id: str, changes: dict[str, Any]) -> ParticipantDetail:
    """PATCH semantics (02 §1.6.4): profile overwritten, tags replaced, attributes merged.

    ``status`` is not changed here (the status endpoint does that), as the spec documents.
    """
    fields = {k: v for k, v in changes.items() if k not in ("tags", "attributes", "status")}
    tags = sorted({normalize_tag(t) for t in changes["tags"]}) if changes.get("tags") is not None else None
    return _update(caller, participant_id, fields, tags=tags, attributes=changes.get("attributes"))


def change_status(caller: Caller, participant_id: str, status: ParticipantStatus) -> ParticipantDetail:
    return _update(caller, participant_id, {"status": status}, tags=None, attributes=None)


def list_participants(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    external_id: str | None = None,
    program_id: str | None = None,
    status: ParticipantStatus | None = None,
    search: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort_by: str = "created_at",
    sort_dir: str = "desc",
) -> Page[Participant]:
    org = caller.organization_id
    scope = scope_signature(
        "participants", org, external_id, program_id, status, search, created_from, created_to, sort_by, sort_dir
    )
    after = decode_cursor(cursor, scope) if cursor else None
    if external_id is not None:
        # An exact lookup: at most one item, in the usual envelope (02 §1.6.2).
        found_id = participant_store.find_id_by_external_id(org, external_id)
        participant = participant_store.get(org, found_id) if found_id and after is None else None
        return Page([participant] if participant else [], None)
    participants, resume = participant_store.list_page(
        org,
        order=SORT_ORDERS[sort_by],
        descending=sort_dir == "desc",
        limit=limit,
        after=after,
        status=status,
        program_id=program_id,
        search=search,
        created_from=created_from,
        created_to=created_to,
    )
    return Page(participants, encode_cursor(resume, scope) if resume else None)


class UnknownParticipantRejected(ApiError):
    """An event named an unknown participant in a program whose policy is REJECT (01 §6.4)."""

    status, code = 422, "participant_not_found"


def resolve_for_event(
    organization_id: str,
    program_id: str,
    *,
    external_id: str | None = None,
    participant_id: str | None = None,
    source: ChangeSource | None = None,
    program: Program | None = None,
) -> tuple[Participant, bool]:
    """The participant an event is for, enrolled in the event's program (01 §6.4, 02 §1.5.2).

    An existing participant is enrolled (or has an inactive enrollment reactivated) whatever
    the policy; an unknown ``external_id`` creates the participant under ``CREATE`` and is
    refused under ``REJECT``; an unknown ``participant_id`` is never created. ``program`` is the
    program when the caller already read it (the event processor does, once per event).
    """
    program = program or program_store.require(organization_id, program_id)
    caller = Caller(organization_id, (source.api_key_id if source else None) or "")
    found_id = participant_id
    if found_id is None and external_id is not None:
        found_id = participant_store.find_id_by_external_id(organization_id, external_id)
    if found_id is not None:
        participant = participant_store.get(organization_id, found_id)
        if participant is None:
            raise NotFound(f"participant {found_id} not found")
        enrollments = participant_store.enrollments(organization_id, found_id)
        current = enrollments.get(program_id)
        if current is None or current.status is not EnrollmentStatus.ACTIVE:
            _update(caller, found_id, {}, tags=None, attributes=None, program_id=program_id)
        return participant, False
    if external_id is None:
        raise NotFound("the event names no participant")
    if program.on_unknown_participant is OnUnknownParticipant.REJECT:
        raise UnknownParticipantRejected(
            f"participant {external_id!r} does not exist and program {program_id} rejects unknown participants"
        )
    created, was_created = upsert_participant(caller, external_id=external_id, program_id=program_id)
    return created.participant, was_created
