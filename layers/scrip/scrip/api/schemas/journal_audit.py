"""The journal audit's answer (``GET /v1/journal-entries/verify``, beyond Scrip)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scrip.api.schemas.common import ApiModel, Pagination
from scrip.domain.journal_audit import BreakReason
from scrip.services.journal_audit import BrokenChain, Verification

VERIFY_DESCRIPTION = (
    "Walks hash chains and reports the first break. Every journal entry is sealed onto its primary "
    "owner's chain for its asset (the first participant or group it posts to, else the program wallet): "
    "`entry_hash` is SHA-256 over the previous entry's hash (64 zeros for the first) and the entry's "
    "canonical form, and the owner's balance keeps the chain's last hash. A chain is intact when, oldest "
    "first, each entry links to its predecessor, recomputes to its stored hash, and the last one is the "
    "balance's head.\n\n"
    "One owner: `participant_id`, `group_id` (optionally `program_id`: a group's balances are per "
    "program) or `program_id` alone (the program wallet); `asset_id` narrows to one chain. Without an "
    "owner, every owner of the organization is walked: its participants, then its groups, then its "
    "program wallets, each in creation order.\n\n"
    "Paged synchronously rather than run as a job: each page does at most `limit` units of work (one per "
    "journal entry read, one per owner visited), so its time does not depend on the organization's size, "
    "and `next_cursor` resumes exactly where the page stopped (inside a chain if need be). The walk is "
    "complete when `has_more` is false; it stops at the first break, which is then reported with no "
    "cursor. `intact` and the counts are the page's: a walk is intact when every page was."
)


class ChainBreakResponse(ApiModel):
    entity_type: Literal["PARTICIPANT", "GROUP", "PROGRAM"] = Field(
        description="The chain's owner: a participant, a group (per program) or a program wallet"
    )
    participant_id: str | None
    group_id: str | None
    program_id: str | None = Field(description="The group's program, or the wallet's program")
    asset_id: str
    entry_id: str | None = Field(
        description="The entry where the chain breaks; for `head_mismatch`, the chain's last entry (null if none)"
    )
    position: int = Field(
        description="The entry's place in its chain, 0 for the first; for `head_mismatch`, the chain's length"
    )
    reason: BreakReason = Field(
        description="`hash_mismatch`: the entry's stored contents no longer recompute to its `entry_hash` "
        "(`expected` the stored hash, `found` the recomputed one, null when the entry no longer reads); "
        "`broken_link`: its previous hash is not its predecessor's hash (`expected` the predecessor's, "
        "`found` the entry's); `head_mismatch`: the balance's last hash is not the chain's last "
        "(`expected` the chain's, `found` the balance's); `missing_entry`: the owner's ledger names an "
        "entry that is not stored"
    )
    expected: str | None
    found: str | None

    @classmethod
    def of(cls, broken: BrokenChain) -> ChainBreakResponse:
        account, found = broken.account, broken.chain_break
        identity = account.identity()
        return cls(
            entity_type=account.entity_type.value,  # type: ignore[arg-type]
            participant_id=identity["participant_id"],
            group_id=identity["group_id"],
            program_id=account.program_id,
            asset_id=broken.asset_id,
            entry_id=found.entry_id,
            position=found.position,
            reason=found.reason,
            expected=found.expected,
            found=found.found,
        )


class JournalVerificationResponse(ApiModel):
    intact: bool = Field(description="False when this page found a break (then `first_break` says where)")
    verified: int = Field(description="Chain entries this page verified")
    chains_verified: int = Field(description="Chains this page checked through to their balance's head")
    first_break: ChainBreakResponse | None
    pagination: Pagination

    @classmethod
    def of(cls, verification: Verification) -> JournalVerificationResponse:
        broken = verification.first_break
        return cls(
            intact=broken is None,
            verified=verification.verified,
            chains_verified=verification.chains_verified,
            first_break=ChainBreakResponse.of(broken) if broken is not None else None,
            pagination=Pagination(has_more=verification.next_cursor is not None, next_cursor=verification.next_cursor),
        )
