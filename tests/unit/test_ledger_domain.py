"""The ledger's pure rules: balanced entries and the tamper-evident chain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scrip.domain.ledger import (
    GENESIS_HASH,
    ActionType,
    Bucket,
    JournalEntry,
    Posting,
    SystemAccount,
    check_balanced,
    participant_account,
    seal,
    system_account,
    verify_chain,
)


def _entry(number: int, amount: str = "10") -> JournalEntry:
    value = Decimal(amount)
    return JournalEntry(
        id=f"entry-{number}",
        organization_id="org",
        action_type=ActionType.CREDIT,
        description="d",
        program_id="program",
        program_name="P",
        event_id=None,
        rule_id=None,
        reference_id=None,
        created_by_api_key_id="key",
        created_at=datetime(2025, 3, 1, 12, number, tzinfo=UTC),
        postings=(
            Posting(
                f"p{number}a",
                system_account(SystemAccount.SYSTEM_ISSUANCE),
                "asset",
                "PTS",
                Bucket.AVAILABLE,
                -value,
                "program",
            ),
            Posting(f"p{number}b", participant_account("alice"), "asset", "PTS", Bucket.AVAILABLE, value, "program"),
        ),
    )


def _chain(count: int) -> list[JournalEntry]:
    chain, previous = [], GENESIS_HASH
    for number in range(count):
        sealed = seal(_entry(number), previous)
        chain.append(sealed)
        previous = sealed.entry_hash
    return chain


def test_a_chain_verifies_and_any_tampering_breaks_it() -> None:
    chain = _chain(4)
    assert verify_chain(chain)
    tampered_amount = replace(
        chain[1],
        postings=(
            replace(chain[1].postings[0], amount=Decimal(-11)),
            replace(chain[1].postings[1], amount=Decimal(11)),
        ),
    )
    assert not verify_chain([chain[0], tampered_amount, *chain[2:]])
    assert not verify_chain([chain[0], replace(chain[1], description="edited"), *chain[2:]])
    assert not verify_chain([chain[0], *chain[2:]])  # a removed entry
    assert not verify_chain([chain[1], chain[0], *chain[2:]])  # reordered


def test_entries_must_balance_in_one_asset() -> None:
    entry = _entry(0)
    with pytest.raises(ValueError):
        check_balanced((entry.postings[0],))
    with pytest.raises(ValueError):
        check_balanced((entry.postings[0], replace(entry.postings[1], amount=Decimal(9))))
    with pytest.raises(ValueError):
        check_balanced((entry.postings[0], replace(entry.postings[1], asset_id="other")))
    with pytest.raises(ValueError):
        seal(replace(entry, postings=(entry.postings[0], replace(entry.postings[1], amount=Decimal(1)))), GENESIS_HASH)
