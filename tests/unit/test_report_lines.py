"""Which rollforward line (05 §4.4) each kind of journal entry's holder postings fall on, and how
a period is cut into whole months, days, hours and minutes of the report aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrip.domain.ledger import (
    ActionType,
    Bucket,
    EntityType,
    JournalEntry,
    Posting,
    SystemAccount,
    group_account,
    participant_account,
    system_account,
    wallet_account,
)
from scrip.domain.report_lines import (
    Level,
    Line,
    Tally,
    UnclassifiedActivity,
    decompose,
    entry_tallies,
    line_of,
    movements_of,
    period_of,
)

HOLDERS = (EntityType.PARTICIPANT, EntityType.GROUP)
IN, OUT = Decimal(5), Decimal(-5)

# (action, holder posting's sign) → line; a pair not listed raises.
EXPECTED = {
    (ActionType.CREDIT, IN): Line.ISSUED,
    (ActionType.DEBIT, OUT): Line.DEBITED,
    (ActionType.HOLD, IN): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.HOLD, OUT): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.RELEASE, IN): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.RELEASE, OUT): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.MATURITY, IN): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.MATURITY, OUT): Line.BUCKET_MOVEMENTS_NET,
    (ActionType.FORFEIT, OUT): Line.FORFEITED,
    (ActionType.EXPIRATION, OUT): Line.EXPIRED,
    (ActionType.VOID_HOLD, OUT): Line.HOLDS_VOIDED,
    (ActionType.REDEMPTION, OUT): Line.REDEEMED,
    (ActionType.REDEMPTION, IN): Line.REDEMPTION_RECEIPTS,
    (ActionType.REDEMPTION_REVERSAL, IN): Line.REDEMPTION_REVERSALS,
    (ActionType.REDEMPTION_REVERSAL, OUT): Line.REVERSAL_CLAWBACKS,
    (ActionType.TRANSFER, IN): Line.TRANSFERS_NET,
    (ActionType.TRANSFER, OUT): Line.TRANSFERS_NET,
}


@pytest.mark.parametrize("action", list(ActionType))
@pytest.mark.parametrize("amount", [IN, OUT])
@pytest.mark.parametrize("holder", HOLDERS)
def test_every_action_types_holder_postings_have_a_line_or_fail(
    action: ActionType, amount: Decimal, holder: EntityType
) -> None:
    expected = EXPECTED.get((action, amount))
    if expected is None:  # FUND and BURN never move a holder; a CREDIT never takes from one...
        with pytest.raises(UnclassifiedActivity) as raised:
            line_of(action, holder, Bucket.AVAILABLE, amount)
        assert (raised.value.status, raised.value.code) == (500, "unclassified_activity")
    else:
        assert line_of(action, holder, Bucket.AVAILABLE, amount) is expected


@pytest.mark.parametrize("action", list(ActionType))
@pytest.mark.parametrize("kind", [EntityType.PROGRAM, EntityType.SYSTEM])
def test_wallets_and_system_accounts_are_not_liability(action: ActionType, kind: EntityType) -> None:
    assert line_of(action, kind, Bucket.AVAILABLE, IN) is None
    assert line_of(action, kind, Bucket.AVAILABLE, OUT) is None


def _entry(action: ActionType, *postings: Posting, program_id: str | None = "g1") -> JournalEntry:
    return JournalEntry(
        id="e1",
        organization_id="o1",
        action_type=action,
        description=None,
        program_id=program_id,
        program_name=None,
        event_id=None,
        rule_id=None,
        reference_id=None,
        created_by_api_key_id=None,
        created_at=datetime(2026, 3, 2, 18, 4, tzinfo=UTC),
        postings=postings,
    )


def _posting(account: object, bucket: Bucket, amount: int, program_id: str | None = "g1") -> Posting:
    return Posting("p", account, "a1", "PTS", bucket, Decimal(amount), program_id)  # type: ignore[arg-type]


def test_a_hold_moves_buckets_and_nets_to_zero() -> None:
    alice = participant_account("u1")
    entry = _entry(ActionType.HOLD, _posting(alice, Bucket.AVAILABLE, -4), _posting(alice, Bucket.HELD, 4))
    ((key, tally),) = entry_tallies(entry).items()
    assert key == ("a1", "g1")
    assert tally.buckets == {Bucket.AVAILABLE: Decimal(-4), Bucket.HELD: Decimal(4)}
    assert tally.lines == {Line.BUCKET_MOVEMENTS_NET: Decimal(0)}
    assert (tally.entry_count, tally.journal_count) == (1, 1)


def test_a_redemption_to_a_holder_is_redeemed_and_received() -> None:
    entry = _entry(
        ActionType.REDEMPTION,
        _posting(participant_account("u1"), Bucket.AVAILABLE, -30),
        _posting(group_account("pool", "g1"), Bucket.AVAILABLE, 30),
    )
    (tally,) = entry_tallies(entry).values()
    assert tally.lines == {Line.REDEEMED: Decimal(-30), Line.REDEMPTION_RECEIPTS: Decimal(30)}
    assert sum(tally.buckets.values()) == 0


def test_an_expiry_is_the_lots_program_and_funding_touches_no_holder() -> None:
    expiry = _entry(
        ActionType.EXPIRATION,
        _posting(participant_account("u1"), Bucket.AVAILABLE, -3, "g7"),
        _posting(system_account(SystemAccount.SYSTEM_BREAKAGE), Bucket.AVAILABLE, 3, "g7"),
        program_id=None,
    )
    assert {key: t.lines for key, t in entry_tallies(expiry).items()} == {("a1", "g7"): {Line.EXPIRED: Decimal(-3)}}
    fund = _entry(
        ActionType.FUND,
        _posting(system_account(SystemAccount.SYSTEM_ISSUANCE), Bucket.AVAILABLE, -9),
        _posting(wallet_account("g1"), Bucket.AVAILABLE, 9),
    )
    (tally,) = entry_tallies(fund).values()
    assert (tally.entry_count, tally.journal_count, tally.buckets, tally.lines) == (0, 1, {}, {})


def test_an_unclassified_posting_is_kept_and_fails_the_report() -> None:
    odd = _entry(
        ActionType.FUND,
        _posting(system_account(SystemAccount.SYSTEM_ISSUANCE), Bucket.AVAILABLE, -9),
        _posting(participant_account("u1"), Bucket.AVAILABLE, 9),
    )
    rows = entry_tallies(odd)  # the stream consumer keeps going
    assert rows[("a1", "g1")].unclassified == 1
    with pytest.raises(UnclassifiedActivity):
        movements_of(rows)
    assert movements_of({("a1", "g1"): Tally(journal_count=1)})[0].net == 0


def test_periods_are_prefixes_of_the_instant() -> None:
    moment = datetime(2026, 3, 2, 18, 4, 59, 999999, tzinfo=UTC)
    assert [period_of(level, moment) for level in Level] == [
        "2026-03",
        "2026-03-02",
        "2026-03-02T18",
        "2026-03-02T18:04",
    ]


_UNIT = {Level.MINUTE: timedelta(minutes=1), Level.HOUR: timedelta(hours=1), Level.DAY: timedelta(days=1)}
minutes = st.integers(min_value=0, max_value=3 * 366 * 24 * 60).map(
    lambda n: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
)


@given(minutes, minutes)
def test_a_period_is_cut_into_at_most_seven_contiguous_whole_spans(a: datetime, b: datetime) -> None:
    start, end = min(a, b), max(a, b)
    spans = decompose(start, end)
    assert len(spans) <= 7
    cursor = start
    for span in spans:
        assert span.start == cursor and span.start < span.end
        if span.level in _UNIT:
            assert (span.end - span.start) % _UNIT[span.level] == timedelta(0)
        assert period_of(span.level, span.start) == span.first_period  # starts on its boundary
        assert span.start == datetime.fromisoformat(
            {
                Level.MONTH: span.first_period + "-01T00:00:00+00:00",
                Level.DAY: span.first_period + "T00:00:00+00:00",
                Level.HOUR: span.first_period + ":00:00+00:00",
                Level.MINUTE: span.first_period + ":00+00:00",
            }[span.level]
        )
        cursor = span.end
    assert cursor == end
