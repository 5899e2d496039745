"""The journal audit (beyond Scrip): walking owners' hash chains and reporting the first break.

A chain is one owner's entries in one asset, oldest first (decision 7; the checks are
``domain.journal_audit``). The walk reads the owner's ledger lines (its ``#LEDGER``
partition), the entries they name (``BatchGetItem``), keeps those the owner is the primary
account of, and checks each against its predecessor; at the end, the balance's head.

Every page is bounded by ``limit`` units of work: one per journal entry read, one per owner
visited. An organization-wide walk is the same walk over every participant, then every group,
then every program wallet, in creation order; its cursor carries where it stands (owner,
chain, line, and the chain's last hash), so a page costs the same whatever the organization's
size, and pages can be asked one after another for as long as the walk takes. A walk stops at
the first break.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scrip.domain import journal_audit as audit
from scrip.domain.errors import ValidationFailed
from scrip.domain.journal_audit import ChainBreak, OwnerKind, WalkPosition
from scrip.domain.ledger import Account, EntityType, group_account, participant_account, wallet_account
from scrip.domain.organizations import Caller
from scrip.domain.pagination import decode_cursor, encode_cursor, scope_signature
from scrip.storage import assets as asset_store
from scrip.storage import groups as group_store
from scrip.storage import journal_audit as audit_store
from scrip.storage import ledger as ledger_store
from scrip.storage import participants as participant_store
from scrip.storage import programs as program_store
from scrip.storage.journal_audit import ChainHead


@dataclass(frozen=True)
class BrokenChain:
    account: Account
    asset_id: str
    chain_break: ChainBreak


@dataclass(frozen=True)
class Verification:
    verified: int  # chain entries verified on this page
    chains_verified: int  # chains checked to their head on this page
    first_break: BrokenChain | None
    next_cursor: str | None


@dataclass(frozen=True)
class Selection:
    """Which chains: one owner's (some of them), or every owner's (``owner_id`` None)."""

    kind: OwnerKind | None
    owner_id: str | None
    program_id: str | None
    asset_id: str | None

    def wants(self, chain: ChainHead) -> bool:
        return (self.asset_id is None or chain.asset_id == self.asset_id) and (
            self.kind is not OwnerKind.GROUP or self.program_id is None or chain.account.program_id == self.program_id
        )


def _selection(
    org: str, participant_id: str | None, group_id: str | None, program_id: str | None, asset_id: str | None
) -> Selection:
    if participant_id is not None and group_id is not None:
        raise ValidationFailed("give participant_id or group_id, not both", field="group_id", reason="conflict")
    if participant_id is not None and program_id is not None:
        # A participant's balances are organization-wide per asset: no program to narrow to.
        raise ValidationFailed(
            "program_id narrows a group's or names a program wallet's chains, not a participant's",
            field="program_id",
            reason="conflict",
        )
    if asset_id is not None:
        asset_store.require(org, asset_id)
    if program_id is not None:
        program_store.require(org, program_id)
    if participant_id is not None:
        participant_store.require(org, participant_id)
        return Selection(OwnerKind.PARTICIPANT, participant_id, None, asset_id)
    if group_id is not None:
        group_store.require(org, group_id)
        return Selection(OwnerKind.GROUP, group_id, program_id, asset_id)
    if program_id is not None:
        return Selection(OwnerKind.PROGRAM, program_id, program_id, asset_id)
    if asset_id is not None:
        # Every owner's chains of one asset would still visit every owner: not offered.
        raise ValidationFailed(
            "asset_id narrows one owner's walk: give participant_id, group_id or program_id",
            field="asset_id",
            reason="owner_required",
        )
    return Selection(None, None, None, None)


def _account(kind: OwnerKind, owner_id: str, program_id: str | None) -> Account:
    if kind is OwnerKind.PARTICIPANT:
        return participant_account(owner_id)
    if kind is OwnerKind.GROUP:
        assert program_id is not None
        return group_account(owner_id, program_id)
    return wallet_account(owner_id)


class _Walk:
    def __init__(self, org: str, selection: Selection, position: WalkPosition, budget: int) -> None:
        self.org = org
        self.selection = selection
        self.position: WalkPosition | None = position
        self.budget = budget
        self.verified = 0
        self.chains_verified = 0
        self.found: BrokenChain | None = None
        self._owners: list[tuple[str, str]] = []  # read ahead, after ``position.owner_key``
        self._chains: dict[str, list[ChainHead]] = {}

    def run(self) -> WalkPosition | None:
        """Walk until the budget is spent, a break is found, or nothing is left (None)."""
        while self.budget > 0 and self.position is not None and self.found is None:
            if self.position.in_chain:
                self._walk_chain(self.position)
            elif self.position.owner_id is not None:
                self._start_next_chain(self.position)
            else:
                self._next_owner(self.position)
        return None if self.found is not None else self.position

    # ---------------------------------------------------------------- owners and chains

    def _next_owner(self, position: WalkPosition) -> None:
        if not self._owners:
            self._owners, _ = audit_store.owners_page(
                self.org, position.kind, limit=self.budget, after=position.owner_key
            )
        if not self._owners:
            following = audit.WALK_ORDER.index(position.kind) + 1
            self.position = (
                WalkPosition(kind=audit.WALK_ORDER[following]) if following < len(audit.WALK_ORDER) else None
            )
            return
        owner_key, owner_id = self._owners.pop(0)
        self.budget -= 1
        self.position = WalkPosition(kind=position.kind, owner_key=owner_key, owner_id=owner_id)

    def _owner_chains(self, kind: OwnerKind, owner_id: str) -> list[ChainHead]:
        if owner_id not in self._chains:
            chains = [c for c in audit_store.owner_chains(self.org, kind, owner_id) if self.selection.wants(c)]
            named = self._named_chain(kind, owner_id)
            if named is not None and all(c.key != named.key for c in chains):
                chains.append(named)
            self._chains[owner_id] = chains
        return self._chains[owner_id]

    def _named_chain(self, kind: OwnerKind, owner_id: str) -> ChainHead | None:
        """The one chain a request names (owner and asset, a group's program too) is walked
        even without a balance item: lines without the item that keeps their head are a break."""
        selection = self.selection
        if selection.owner_id is None or selection.asset_id is None:
            return None
        if kind is OwnerKind.GROUP and selection.program_id is None:
            return None
        account = _account(kind, owner_id, selection.program_id)
        key = audit_store.chain_key(account, selection.asset_id)
        return ChainHead(
            account, selection.asset_id, key, audit_store.chain_head(self.org, account, selection.asset_id)
        )

    def _start_next_chain(self, position: WalkPosition) -> None:
        assert position.owner_id is not None
        chains = self._owner_chains(position.kind, position.owner_id)
        following = [c for c in chains if position.chain_key is None or c.key > position.chain_key]
        if not following:
            # The owner is done: the organization-wide walk goes on with the next one.
            done = self.selection.owner_id is not None
            self.position = None if done else WalkPosition(kind=position.kind, owner_key=position.owner_key)
            return
        chain = following[0]
        self.position = replace(
            WalkPosition(kind=position.kind, owner_key=position.owner_key, owner_id=position.owner_id),
            chain_key=chain.key,
            chain_program_id=chain.account.program_id if chain.account.entity_type is EntityType.GROUP else None,
            chain_asset_id=chain.asset_id,
            in_chain=True,
        )

    # ---------------------------------------------------------------- one chain

    def _lines(self, position: WalkPosition, account: Account, asset_id: str) -> tuple[list[tuple[str, str]], bool]:
        """(sort key, entry id) of the chain's next ledger lines, up to the budget, and whether
        more follow."""
        lines, resume = ledger_store.history_lines(
            self.org,
            account,
            asset_id=asset_id,
            program_id=account.program_id if account.entity_type is EntityType.GROUP else None,
            limit=self.budget,
            after=position.line_after,
        )
        return [(line.sort_key, line.journal_entry_id) for line in lines], resume is not None

    def _walk_chain(self, position: WalkPosition) -> None:
        assert position.owner_id is not None and position.chain_asset_id is not None
        account = _account(position.kind, position.owner_id, position.chain_program_id)
        asset_id = position.chain_asset_id
        lines, more = self._lines(position, account, asset_id)
        if not lines:
            self._end_chain(position, account, asset_id)
            return
        # An entry with several postings of the owner has several lines, side by side: the
        # lines of the entry already checked (the last page ended inside them) are skipped.
        entry_ids = list(dict.fromkeys(e for _, e in lines if e != position.line_entry_id))
        self.budget -= max(1, len(entry_ids))
        stored = audit_store.entries(self.org, entry_ids)
        progress = position.progress
        for entry_id in entry_ids:
            entry = stored.get(entry_id)
            chain_break: ChainBreak | None = None
            if entry is None:
                chain_break = audit.missing_entry(progress, entry_id)
            elif isinstance(entry, audit_store.Unreadable):
                chain_break = audit.unreadable_entry(progress, entry_id)
            elif audit.belongs(entry, account, asset_id):
                progress, chain_break = audit.check_entry(progress, entry)
                if chain_break is None:
                    self.verified += 1
            if chain_break is not None:
                self.found = BrokenChain(account, asset_id, chain_break)
                return
        last_key, last_entry = lines[-1]
        self.position = position.advanced(progress, last_key, last_entry)
        if not more:
            # The chain's last lines: its head now, not after another (empty) read.
            self._end_chain(self.position, account, asset_id)

    def _end_chain(self, position: WalkPosition, account: Account, asset_id: str) -> None:
        self.budget -= 1
        chain_break = audit.check_head(position.progress, audit_store.chain_head(self.org, account, asset_id))
        if chain_break is not None:
            # A posting committed since the lines were read moved the head, and its lines
            # came in the same transaction: if there are new lines, walk on.
            if any(entry != position.line_entry_id for _, entry in self._lines(position, account, asset_id)[0]):
                return
            self.found = BrokenChain(account, asset_id, chain_break)
            return
        self.chains_verified += 1
        self.position = WalkPosition(
            kind=position.kind,
            owner_key=position.owner_key,
            owner_id=position.owner_id,
            chain_key=position.chain_key,
        )


def verify_journal(
    caller: Caller,
    *,
    participant_id: str | None = None,
    group_id: str | None = None,
    program_id: str | None = None,
    asset_id: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> Verification:
    """One page of the audit of one owner's chains, or of every owner's."""
    org = caller.organization_id
    selection = _selection(org, participant_id, group_id, program_id, asset_id)
    scope = scope_signature("journal-verify", org, participant_id, group_id, program_id, asset_id)
    if cursor is not None:
        position = _position(decode_cursor(cursor, scope), selection)
    elif selection.kind is not None:
        position = WalkPosition(kind=selection.kind, owner_id=selection.owner_id)
    else:
        position = WalkPosition()
    walk = _Walk(org, selection, position, limit)
    resume = walk.run()
    return Verification(
        verified=walk.verified,
        chains_verified=walk.chains_verified,
        first_break=walk.found,
        next_cursor=encode_cursor(resume.to_text(), scope) if resume is not None else None,
    )


def _position(text: str, selection: Selection) -> WalkPosition:
    try:
        position = WalkPosition.from_text(text)
    except ValueError:
        raise ValidationFailed("cursor is not valid", field="cursor", reason="invalid_cursor") from None
    if selection.owner_id is not None and (position.kind, position.owner_id) != (selection.kind, selection.owner_id):
        raise ValidationFailed("cursor is not valid", field="cursor", reason="invalid_cursor")
    return position
