"""Which hour buckets of a due index a scheduled run reads from its checkpoint (domain.due_hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from scrip.domain.due_hours import HOUR, advanced_checkpoint, hour_of, hours_to_read

MOMENT = datetime(2026, 3, 4, 10, 20, 5, tzinfo=UTC)
TEN = datetime(2026, 3, 4, 10, tzinfo=UTC)
LOOKBACK = timedelta(days=2)


def test_without_a_checkpoint_a_run_reads_the_whole_look_back() -> None:
    hours = hours_to_read(None, MOMENT, LOOKBACK)

    assert len(hours) == 49
    assert hours[0] == TEN - LOOKBACK and hours[-1] == TEN
    assert all(later - earlier == HOUR for earlier, later in pairwise(hours))


def test_a_checkpoint_starts_the_read_at_its_hour() -> None:
    assert hours_to_read(TEN - HOUR, MOMENT, LOOKBACK) == [TEN - HOUR, TEN]
    assert hours_to_read(TEN, MOMENT, LOOKBACK) == [TEN]


def test_a_checkpoint_never_takes_the_read_past_the_look_back_nor_ahead_of_the_moment() -> None:
    assert len(hours_to_read(TEN - timedelta(days=9), MOMENT, LOOKBACK)) == 49
    assert len(hours_to_read(TEN + HOUR, MOMENT, LOOKBACK)) == 49  # a run asked about an earlier moment


def test_the_checkpoint_passes_the_hours_over_by_the_settled_moment() -> None:
    read = hours_to_read(None, MOMENT, LOOKBACK)

    assert advanced_checkpoint(None, read, MOMENT - timedelta(minutes=15)) == TEN
    assert advanced_checkpoint(None, read, TEN - timedelta(minutes=1)) == TEN - HOUR
    assert advanced_checkpoint(TEN - HOUR, [TEN - HOUR, TEN], TEN + timedelta(minutes=5)) == TEN


def test_the_checkpoint_never_passes_the_hours_read_nor_moves_back() -> None:
    assert advanced_checkpoint(None, [TEN - HOUR], TEN + timedelta(hours=5)) == TEN
    assert advanced_checkpoint(TEN, [TEN], TEN + timedelta(minutes=30)) is None
    assert advanced_checkpoint(TEN + HOUR, hours_to_read(TEN + HOUR, MOMENT, LOOKBACK), MOMENT) is None
    assert advanced_checkpoint(None, [], MOMENT) is None


def test_hour_of_truncates() -> None:
    assert hour_of(MOMENT) == TEN
