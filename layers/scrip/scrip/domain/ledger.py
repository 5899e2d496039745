"""The double-entry ledger (04 §2): accounts, postings, journal entries and their hash chain.

Pure arithmetic and vocabulary: which postings an operation makes, that they balance, and the
seal that chains an entry to the previous one of its primary owner (decision 7).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from scrip.domain.clock import to_rfc3339
from scrip.domain.errors import UnprocessableError

GENESIS_HASH = "0" * 64


class Bucket(StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    DEFERRED = "DEFERRED"


class EntityType(StrEnum):
    PARTICIPANT = "PARTICIPANT"
    GROUP = "GROUP"
    PROGRAM = "PROGRAM"
    SYSTEM = "SYSTEM"


class SystemAccount(StrEnum):
    SYSTEM_ISSUANCE = "SYSTEM_ISSUANCE"
    SYSTEM_BREAKAGE = "SYSTEM_BREAKAGE"
    SYSTEM_REDEMPTION = "SYSTEM_REDEMPTION"


class ActionType(StrEnum):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"
    HOLD = "HOLD"
    RELEASE = "RELEASE"
    FORFEIT = "FORFEIT"
    MATURITY = "MATURITY"
    EXPIRATION = "EXPIRATION"
    VOID_HOLD = "VOID_HOLD"
    REDEMPTION = "REDEMPTION"
    REDEMPTION_REVERSAL = "REDEMPTION_REVERSAL"
    TRANSFER = "TRANSFER"
    FUND = "FUND"
    BURN = "BURN"


class InsufficientBalance(UnprocessableError):
    def __init__(self, message: str, *, available: Decimal, requested: Decimal, scale: int) -> None:
        from scrip.domain.amounts import format_amount

        super().__init__(
            "insufficient_balance",
            message,
            details={"available": format_amount(available, scale), "requested": format_amount(requested, scale)},
        )


@dataclass(frozen=True)
class Account:
    """Who owns a balance: a participant, a group (per program), a program wallet or a system account.

    The bucket is not part of the account here: one balance record holds all three buckets of
    an owner's asset, which is how they are stored and read.
    """

    entity_type: EntityType
    owner_id: str  # participant, group or program id; the system account's name
    program_id: str | None = None  # a group's balances are per program (02 §3.6.10)

    @property
    def is_system(self) -> bool:
        return self.entity_type is EntityType.SYSTEM

    def identity(self) -> dict[str, str | None]:
        """How a posting names its account (04 §2.7): one of these is set."""
        return {
            "participant_id": self.owner_id if self.entity_type is EntityType.PARTICIPANT else None,
            "group_id": self.owner_id if self.entity_type is EntityType.GROUP else None,
            "system_account": self.owner_id if self.is_system else None,
        }


def participant_account(participant_id: str) -> Account:
    return Account(EntityType.PARTICIPANT, participant_id)


def group_account(group_id: str, program_id: str) -> Account:
    return Account(EntityType.GROUP, group_id, program_id)


def wallet_account(program_id: str) -> Account:
    return Account(EntityType.PROGRAM, program_id, program_id)


def system_account(name: SystemAccount) -> Account:
    return Account(EntityType.SYSTEM, name.value)


@dataclass(frozen=True)
class Posting:
    id: str
    account: Account
    asset_id: str
    asset_symbol: str
    bucket: Bucket
    amount: Decimal  # positive credits the account, negative debits it
    program_id: str | None


@dataclass(frozen=True)
class Balance:
    available: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    deferred: Decimal = Decimal(0)

    def of(self, bucket: Bucket) -> Decimal:
        return {Bucket.AVAILABLE: self.available, Bucket.HELD: self.held, Bucket.DEFERRED: self.deferred}[bucket]

    def plus(self, bucket: Bucket, delta: Decimal) -> Balance:
        return replace(self, **{bucket.value.lower(): self.of(bucket) + delta})


@dataclass(frozen=True)
class JournalEntry:
    id: str
    organization_id: str
    action_type: ActionType
    description: str | None
    program_id: str | None
    program_name: str | None
    event_id: str | None
    rule_id: str | None
    reference_id: str | None
    created_by_api_key_id: str | None
    created_at: datetime
    postings: tuple[Posting, ...]
    prev_hash: str = GENESIS_HASH
    entry_hash: str = ""
    scale: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def primary_account(self) -> Account:
        """Whose chain the entry extends (decision 7): its first participant or group, else the
        program wallet. A credit drawn from a wallet chains on the participant, so that the
        wallet (shared by every credit of its program) is never written just for the chain."""
        for posting in self.postings:
            if posting.account.entity_type in (EntityType.PARTICIPANT, EntityType.GROUP):
                return posting.account
        for posting in self.postings:
            if posting.account.entity_type is EntityType.PROGRAM:
                return posting.account
        raise ValueError("an entry moves at least one participant, group or program wallet")


def check_balanced(postings: tuple[Posting, ...]) -> None:
    """Invariant 1 (04 §2.5): at least two postings, summing to zero, in one asset."""
    if len(postings) < 2:
        raise ValueError("a journal entry has at least two postings")
    if len({p.asset_id for p in postings}) != 1:
        raise ValueError("a journal entry never mixes assets")
    total = sum((p.amount for p in postings), Decimal(0))
    if total != 0:
        raise ValueError(f"postings sum to {total}, not zero")


def canonical_form(entry: JournalEntry) -> str:
    """What the seal covers (04 §2.8): metadata and postings, amounts at the asset's scale."""
    from scrip.domain.amounts import format_amount

    body = {
        "id": entry.id,
        "action_type": entry.action_type.value,
        "description": entry.description,
        "program_id": entry.program_id,
        "event_id": entry.event_id,
        "rule_id": entry.rule_id,
        "reference_id": entry.reference_id,
        "created_by_api_key_id": entry.created_by_api_key_id,
        "created_at": to_rfc3339(entry.created_at),
        "postings": [
            {
                "id": p.id,
                "amount": format_amount(p.amount, entry.scale),
                "asset_id": p.asset_id,
                "bucket": p.bucket.value,
                "entity_type": p.account.entity_type.value,
                **p.account.identity(),
                "program_id": p.program_id,
            }
            for p in sorted(entry.postings, key=lambda p: p.id)
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def seal(entry: JournalEntry, prev_hash: str) -> JournalEntry:
    """The entry chained to ``prev_hash``: SHA-256 over the previous hash and the canonical form."""
    check_balanced(entry.postings)
    digest = hashlib.sha256((prev_hash + canonical_form(entry)).encode()).hexdigest()
    return replace(entry, prev_hash=prev_hash, entry_hash=digest)


def verify_chain(entries: list[JournalEntry]) -> bool:
    """True when each entry's hash is its seal over its predecessor's (oldest first)."""
    previous = GENESIS_HASH
    for entry in entries:
        if entry.prev_hash != previous or seal(entry, previous).entry_hash != entry.entry_hash:
            return False
        previous = entry.entry_hash
    return True


@dataclass(frozen=True)
class JournalFilters:
    program_id: str | None = None
    event_id: str | None = None
    rule_id: str | None = None
    participant_id: str | None = None
    group_id: str | None = None
    asset_id: str | None = None
    bucket: Bucket | None = None
    action_type: ActionType | None = None
    reference_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
