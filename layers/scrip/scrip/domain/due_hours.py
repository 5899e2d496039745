"""Which hour buckets of a due index a scheduled run reads, given its checkpoint.

A due index files entries under the hour they fall due. Read from scratch, a run that looks
back two days reads 49 buckets; but a bucket whose hour is over, and which a run has emptied,
can receive nothing new (an entry's due time is after the "now" of whoever writes it), so the
checkpoint (the first hour not yet known to be empty) lets the next run start there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hours_to_read(checkpoint: datetime | None, moment: datetime, lookback: timedelta) -> list[datetime]:
    """The buckets due by ``moment``: from the checkpoint, and never further back than ``lookback``.

    A checkpoint after ``moment``'s hour says nothing about earlier buckets (a run asked about
    an earlier moment): the whole look-back is read.
    """
    first, last = hour_of(moment - lookback), hour_of(moment)
    if checkpoint is not None and first < checkpoint <= last:
        first = hour_of(checkpoint)
    return [first + HOUR * n for n in range(int((last - first) / HOUR) + 1)]


def advanced_checkpoint(checkpoint: datetime | None, read: list[datetime], settled: datetime) -> datetime | None:
    """The checkpoint after a run that emptied the buckets of ``read`` (consecutive hours).

    It passes the buckets whose hour ended by ``settled``: the moment before which no writer
    still in flight can file an entry. None when it does not move forward.
    """
    if not read:
        return None
    candidate = min(hour_of(settled), read[-1] + HOUR)
    if candidate <= read[0] or (checkpoint is not None and candidate <= checkpoint):
        return None
    return candidate
