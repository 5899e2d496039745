"""The journal audit's pure checks: links, seals, heads, chain membership, the walk's cursor text."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from scrip.domain.journal_audit import (
    BreakReason,
    ChainBreak,
    ChainProgress,
    OwnerKind,
    WalkPosition,
    belongs,
    check_entry,
    check_head,
    recomputed_hash,
)
from scrip.domain.ledger import (
    GENESIS_HASH,
    JournalEntry,
    Posting,
    group_account,
    participant_account,
    wallet_account,
)
from tests.unit.test_ledger_domain import _chain, _entry


def _walk(entries: list[JournalEntry]) -> tuple[ChainProgress, ChainBreak | None]:
    progress = ChainProgress()
    for entry in entries:
        progress, found = check_entry(progress, entry)
        if found is not None:
            return progress, found
    return progress, None


def test_an_intact_chain_ends_on_its_head() -> None:
    chain = _chain(4)
    progress, found = _walk(chain)
    assert found is None and progress == ChainProgress(4, chain[-1].entry_hash, chain[-1].id)
    assert check_head(progress, chain[-1].entry_hash) is None
    assert check_head(ChainProgress(), GENESIS_HASH) is None  # no entry, no head


def test_altered_contents_are_a_hash_mismatch_even_when_unbalanced() -> None:
    chain = _chain(3)
    alice_credit = chain[1].postings[1]
    chain[1] = replace(chain[1], postings=(chain[1].postings[0], replace(alice_credit, amount=Decimal(999))))
    _, found = _walk(chain)
    assert found == ChainBreak(
        chain[1].id, 1, BreakReason.HASH_MISMATCH, chain[1].entry_hash, recomputed_hash(chain[1])
    )


def test_a_replaced_link_is_a_broken_link_at_that_entry() -> None:
    chain = _chain(3)
    chain[2] = replace(chain[2], prev_hash="a" * 64)
    _, found = _walk(chain)
    assert found == ChainBreak(chain[2].id, 2, BreakReason.BROKEN_LINK, chain[1].entry_hash, "a" * 64)


def test_a_removed_entry_breaks_the_next_link() -> None:
    chain = _chain(3)
    _, found = _walk([chain[0], chain[2]])
    assert found is not None and (found.entry_id, found.position, found.reason) == (chain[2].id, 1, "broken_link")


def test_a_moved_head_is_reported_after_the_last_entry() -> None:
    chain = _chain(2)
    progress, _ = _walk(chain)
    assert check_head(progress, "b" * 64) == ChainBreak(
        chain[1].id, 2, BreakReason.HEAD_MISMATCH, chain[1].entry_hash, "b" * 64
    )


def test_an_entry_is_on_its_primary_owners_chain_of_its_asset_only() -> None:
    entry = _entry(1)
    assert belongs(entry, participant_account("alice"), "asset")
    assert not belongs(entry, participant_account("alice"), "other-asset")
    assert not belongs(entry, participant_account("bob"), "asset")
    to_bob = replace(
        entry,
        postings=(
            *entry.postings,
            Posting("p", participant_account("bob"), "asset", "PTS", entry.postings[1].bucket, Decimal(0), None),
        ),
    )
    assert not belongs(to_bob, participant_account("bob"), "asset")  # bob is party, alice primary
    in_group = replace(entry, postings=(entry.postings[0], replace(entry.postings[1], account=group_account("g", "p"))))
    assert belongs(in_group, group_account("g", "p"), "asset")
    assert not belongs(in_group, group_account("g", "other program"), "asset")
    system_only = replace(entry, postings=(entry.postings[0],))
    assert not belongs(system_only, wallet_account("program"), "asset")  # altered to no owner: no chain


def test_a_walk_position_reads_back_from_its_text() -> None:
    position = WalkPosition(
        kind=OwnerKind.GROUP,
        owner_key="k",
        owner_id="g",
        chain_key="BALANCE#p#a",
        chain_program_id="p",
        chain_asset_id="a",
        line_after="line",
        line_entry_id="e",
        position=3,
        last_hash="c" * 64,
        last_entry_id="e",
        in_chain=True,
    )
    again = WalkPosition.from_text(position.to_text())
    assert again == position and again.kind is OwnerKind.GROUP
    assert WalkPosition.from_text("{}") == WalkPosition()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"unknown": 1}',
        '{"kind": "SYSTEM"}',
        '{"position": -1}',
        '{"position": true}',
        '{"position": "3"}',
        '{"owner_id": 7}',
        '{"last_hash": null}',
        '{"in_chain": true}',
        '{"in_chain": 1, "owner_id": "p", "chain_asset_id": "a"}',
        '{"kind": "GROUP", "in_chain": true, "owner_id": "g", "chain_asset_id": "a"}',
    ],
)
def test_a_text_that_is_not_a_walk_position_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        WalkPosition.from_text(text)
