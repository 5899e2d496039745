"""The journal audit: checking owners' hash chains (decision 7), pure.

Every journal entry is sealed onto its primary owner's chain for its asset: its ``prev_hash``
is the owner's chain head when it was written (``GENESIS_HASH`` for the first) and its
``entry_hash`` is SHA-256 over that and the entry's canonical form. The owner's balance item
keeps the head (``last_entry_hash``). A chain is intact when, oldest first, each entry links to
its predecessor, each recomputes to its stored hash, and the last one's hash is the head.

The walk itself (which owners, which lines, which entries) is ``services.journal_audit``; here
are the checks, and the walk's resumable position, which a cursor carries between pages.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from scrip.domain.ledger import GENESIS_HASH, Account, JournalEntry, canonical_form


class BreakReason(StrEnum):
    HASH_MISMATCH = "hash_mismatch"  # the entry's contents no longer give its stored entry_hash
    BROKEN_LINK = "broken_link"  # the entry's prev_hash is not its predecessor's entry_hash
    HEAD_MISMATCH = "head_mismatch"  # the balance's last_entry_hash is not the chain's last hash
    MISSING_ENTRY = "missing_entry"  # an owner's ledger line names an entry that is not stored


@dataclass(frozen=True)
class ChainBreak:
    """The first place a chain fails. ``expected`` is what the chain requires there, ``found``
    what is stored (or, for a hash mismatch, what the stored contents recompute to)."""

    entry_id: str | None
    position: int
    reason: BreakReason
    expected: str | None
    found: str | None


@dataclass(frozen=True)
class ChainProgress:
    """How far a chain has been checked: entries verified, the last one's hash and id."""

    position: int = 0
    last_hash: str = GENESIS_HASH
    last_entry_id: str | None = None


def recomputed_hash(entry: JournalEntry) -> str:
    """The seal of the entry's stored contents over its stored ``prev_hash``.

    ``ledger.seal`` without its balance check: an entry whose amounts were altered no longer
    balances, and the audit must report it as a mismatch, not fail on it."""
    return hashlib.sha256((entry.prev_hash + canonical_form(entry)).encode()).hexdigest()


def belongs(entry: JournalEntry, account: Account, asset_id: str) -> bool:
    """Whether ``entry`` is on ``account``'s chain of ``asset_id``: its primary account's.

    An owner's ledger also lists entries it is only party to (a transfer's recipient): those
    are on their primary owner's chain, checked there."""
    if not entry.postings or entry.postings[0].asset_id != asset_id:
        return False
    try:
        return entry.primary_account == account
    except ValueError:  # altered so that no posting names an owner: on no chain
        return False


def check_entry(progress: ChainProgress, entry: JournalEntry) -> tuple[ChainProgress, ChainBreak | None]:
    """The next entry of a chain: linked to its predecessor, then sealed over its contents."""
    if entry.prev_hash != progress.last_hash:
        return progress, ChainBreak(
            entry.id, progress.position, BreakReason.BROKEN_LINK, progress.last_hash, entry.prev_hash
        )
    digest = recomputed_hash(entry)
    if digest != entry.entry_hash:
        return progress, ChainBreak(entry.id, progress.position, BreakReason.HASH_MISMATCH, entry.entry_hash, digest)
    return ChainProgress(progress.position + 1, entry.entry_hash, entry.id), None


def missing_entry(progress: ChainProgress, entry_id: str) -> ChainBreak:
    return ChainBreak(entry_id, progress.position, BreakReason.MISSING_ENTRY, None, None)


def unreadable_entry(progress: ChainProgress, entry_id: str) -> ChainBreak:
    """A stored entry altered beyond reading (an amount that is no number): its contents
    recompute to nothing, a hash mismatch."""
    return ChainBreak(entry_id, progress.position, BreakReason.HASH_MISMATCH, None, None)


def check_head(progress: ChainProgress, head: str) -> ChainBreak | None:
    """The end of a chain: its last hash must be the balance's head. Its position is the
    chain's length (the head's place, after the last entry)."""
    if head == progress.last_hash:
        return None
    return ChainBreak(progress.last_entry_id, progress.position, BreakReason.HEAD_MISMATCH, progress.last_hash, head)


# ------------------------------------------------------------- the walk's position


class OwnerKind(StrEnum):
    """The owners an organization-wide walk visits, in this order."""

    PARTICIPANT = "PARTICIPANT"
    GROUP = "GROUP"
    PROGRAM = "PROGRAM"  # a program's wallet (PREFUNDED assets)


WALK_ORDER = (OwnerKind.PARTICIPANT, OwnerKind.GROUP, OwnerKind.PROGRAM)


@dataclass(frozen=True)
class WalkPosition:
    """Where a paged walk resumes, carried in its cursor.

    ``owner_key`` is the current owner's sort key in its kind's list (an organization-wide walk
    goes on with the owners after it); ``chain_key`` orders the owner's chains (the walk goes
    on with those after it once the current one is done). Within the current chain,
    ``line_after`` is the last ledger line read and the progress is the chain's so far."""

    kind: OwnerKind = OwnerKind.PARTICIPANT
    owner_key: str | None = None
    owner_id: str | None = None
    chain_key: str | None = None
    chain_program_id: str | None = None
    chain_asset_id: str | None = None
    line_after: str | None = None
    line_entry_id: str | None = None  # the entry of the line ``line_after``: its other lines are skipped
    position: int = 0
    last_hash: str = GENESIS_HASH
    last_entry_id: str | None = None
    in_chain: bool = False

    @property
    def progress(self) -> ChainProgress:
        return ChainProgress(self.position, self.last_hash, self.last_entry_id)

    def advanced(self, progress: ChainProgress, line_after: str, line_entry_id: str) -> WalkPosition:
        return replace(
            self,
            position=progress.position,
            last_hash=progress.last_hash,
            last_entry_id=progress.last_entry_id,
            line_after=line_after,
            line_entry_id=line_entry_id,
        )

    def to_text(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> WalkPosition:
        """A position from a cursor's text; ``ValueError`` if it is not one."""
        try:
            data: Any = json.loads(text)
            position = cls(**data) if isinstance(data, dict) else None
        except (TypeError, ValueError):
            position = None
        if position is None or not _well_formed(position):
            raise ValueError("not a walk position")
        return replace(position, kind=OwnerKind(position.kind))


def _well_formed(position: WalkPosition) -> bool:
    optional_texts = (
        position.owner_key,
        position.owner_id,
        position.chain_key,
        position.chain_program_id,
        position.chain_asset_id,
        position.line_after,
        position.line_entry_id,
        position.last_entry_id,
    )
    return (
        position.kind in set(OwnerKind)
        and all(value is None or isinstance(value, str) for value in optional_texts)
        and isinstance(position.position, int)
        and not isinstance(position.position, bool)
        and position.position >= 0
        and isinstance(position.last_hash, str)
        and isinstance(position.in_chain, bool)
        and (not position.in_chain or (position.owner_id is not None and position.chain_asset_id is not None))
        and (not position.in_chain or position.kind != OwnerKind.GROUP or position.chain_program_id is not None)
    )
