"""The reports' data layer (05 §4, issue 16): time of ``ledger_aggregates.movements(until=now)``
at 1,000 and at 100,000 journal entries, as a ratio in one run (goal: at most 2), and the write
units the report aggregates add to the stream consumer per entry.

    .venv/bin/python bench/report_aggregates.py
    BENCH_REPORT_ENTRIES=20000 .venv/bin/python bench/report_aggregates.py   # a quicker look

Writing 100,000 entries through the API would take hours in the emulator: each organization's
entries (credits, redemptions, holds, transfers, debits over two assets and two programs, 20 a
minute; the last ten minutes over two others, written once the history is loaded, so that both
end now with the same unsealed tail) are built as the services build them, their items and
list lines written with ``BatchWriteItem``, and the stream consumer
(``totals.apply_committed_entries``) applied to them in stream-sized batches of 100. The
first ``movements`` call of an organization verifies its whole history once (the checkpoint);
the figures are the median of the calls after it.

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

SMALL = 1_000
LARGE = int(os.environ.get("BENCH_REPORT_ENTRIES", "100000"))
PER_MINUTE = 20
TIMED_CALLS = 5
RESULTS = ROOT / "bench" / "results" / "report_aggregates.md"


FRESH = 10 * PER_MINUTE  # the last ten minutes' entries, written just before the timing


def _entries(org: str, count: int, now: datetime) -> list[Any]:
    """``count`` sealed journal entries of ``org``, oldest first, the last a second before ``now``."""
    from scrip.domain.ledger import (
        ActionType,
        Bucket,
        JournalEntry,
        Posting,
        SystemAccount,
        participant_account,
        seal,
        system_account,
    )

    programs = [str(uuid.uuid4()) for _ in range(2)]
    assets = [str(uuid.uuid4()) for _ in range(2)]
    people = [participant_account(str(uuid.uuid4())) for _ in range(200)]
    issuance = system_account(SystemAccount.SYSTEM_ISSUANCE)
    redemption = system_account(SystemAccount.SYSTEM_REDEMPTION)
    step = timedelta(minutes=1) / PER_MINUTE
    built = []
    for index in range(count):
        asset, program = assets[index % 2], programs[(index // 2) % 2]
        holder, other = people[index % 200], people[(index * 7 + 3) % 200]

        def leg(account: Any, amount: int, bucket: Bucket = Bucket.AVAILABLE) -> Posting:
            return Posting(str(uuid.uuid4()), account, asset, "PTS", bucket, Decimal(amount), program)  # noqa: B023

        kind = index % 20
        if kind < 12:
            action, postings = ActionType.CREDIT, (leg(issuance, -10), leg(holder, 10))
        elif kind < 15:
            action, postings = ActionType.REDEMPTION, (leg(holder, -4), leg(redemption, 4))
        elif kind < 17:
            action, postings = ActionType.HOLD, (leg(holder, -2), leg(holder, 2, Bucket.HELD))
        elif kind < 19:
            action, postings = ActionType.TRANSFER, (leg(holder, -3), leg(other, 3))
        else:
            action, postings = ActionType.DEBIT, (leg(holder, -1), leg(issuance, 1))
        entry = JournalEntry(
            id=str(uuid.uuid4()),
            organization_id=org,
            action_type=action,
            description="bench",
            program_id=program,
            program_name="Bench",
            event_id=None,
            rule_id=None,
            reference_id=None,
            created_by_api_key_id=None,
            created_at=now - timedelta(seconds=1) - step * (count - 1 - index),
            postings=postings,
        )
        built.append(seal(entry, "0" * 64))
    return built


def _write(entries: list[Any], meter_units: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Each entry's item and list line with ``BatchWriteItem``, then the stream consumer over
    them in batches of 100 (metered when ``meter_units`` is given)."""
    from scrip.services import totals
    from scrip.storage import ledger as ledger_store
    from scrip.storage import table

    items: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for entry in entries:
        entry_item, list_line = (write.params["Item"] for write in ledger_store.entry_writes(entry)[:2])
        items += [entry_item, list_line]
        images.append(entry_item)
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {
            table.table_name(): [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        }
        while request:
            request = table.client().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    def apply() -> None:
        for start in range(0, len(images), 100):
            totals.apply_committed_entries(images[start : start + 100])

    if meter_units is None:
        apply()
    else:
        meter_units(apply)


def _timed_call(org: str, now: datetime) -> tuple[float, Any]:
    """(seconds, answer) of one ``movements(until=now)``."""
    from scrip.services import ledger_aggregates

    started = time.perf_counter()
    answer = ledger_aggregates.movements(org, until=now)
    return time.perf_counter() - started, answer


def main() -> int:
    stack, report = fanout_runs.open_stack()
    from scrip.domain import clock
    from scrip.services import ledger_aggregates
    from scrip_local.metering import DynamoMeter

    units: dict[str, float] = {}

    def metered(apply: Callable[[], None]) -> None:
        with DynamoMeter() as meter:
            apply()
        for call in meter.calls:
            if call.operation == "UpdateItem":
                units["last_entry_at"] = units.get("last_entry_at", 0) + call.write_units
            for pk, _, write_units in call.written_keys:
                kind = "rows" if "#RPT#" in pk else "counts" if "#RPTCOUNT#" in pk else None
                kind = kind or ("markers" if "#TOTALAPPLIED#" in pk else "totals")
                if call.operation != "UpdateItem":
                    units[kind] = units.get(kind, 0) + write_units

    # Both histories first, ending ten minutes ago; then, once they are loaded (which takes long
    # at 100,000), each one's last ten minutes up to now: both have the same unsealed tail. The
    # timed calls alternate between the two, so that the machine's load weighs on both alike.
    orgs: dict[str, str] = {}
    loaded: dict[str, float] = {}
    for label, count in (("small", SMALL), ("large", LARGE)):
        orgs[label], _, _ = stack.bootstrap_organization(None)
        started = time.perf_counter()
        history = _entries(orgs[label], count - FRESH, clock.now() - timedelta(minutes=10))
        _write(history, metered if label == "small" else None)
        loaded[label] = time.perf_counter() - started
        print(label, "loaded", loaded[label], file=report, flush=True)
    for label in orgs:
        _write(_entries(orgs[label], FRESH, clock.now()))
    now = clock.now()
    first = {label: _timed_call(org, now)[0] for label, org in orgs.items()}
    times: dict[str, list[float]] = {label: [] for label in orgs}
    answers: dict[str, Any] = {}
    for _ in range(TIMED_CALLS):
        for label, org in orgs.items():
            elapsed, answer = _timed_call(org, now)
            times[label].append(elapsed)
            assert answers.setdefault(label, answer) == answer
    started = time.perf_counter()
    ledger_aggregates.journal_tallies(orgs["small"], None, clock.now(), end_inclusive=True)
    walk = time.perf_counter() - started
    figures = {
        label: (count, loaded[label], first[label], statistics.median(times[label]), len(answers[label]), walk)
        for label, count in (("small", SMALL), ("large", LARGE))
    }
    print(figures, file=report, flush=True)

    small, large = figures["small"], figures["large"]
    before = units.get("totals", 0) + units.get("markers", 0)
    counted = SMALL - FRESH
    maxima = units.get("last_entry_at", 0)
    without_system = sum(1 for i in range(SMALL - FRESH) if 15 <= i % 20 < 19)  # holds and transfers
    lines = [
        "# Report aggregates: `movements(until=now)` as the journal grows",
        "",
        f"Entries at {PER_MINUTE} a minute up to now (the same unsealed tail), 8 rows (two assets × two",
        "programs for the history, two others for its last ten minutes, written just before the timing);",
        f"the median of {TIMED_CALLS} calls after the first (which verifies the history once), the two",
        "organizations' calls alternating.",
        "",
        "| entries | load (s) | first call (s) | median call (s) | rows |",
        "|---:|---:|---:|---:|---:|",
        f"| {small[0]:,} | {small[1]:.1f} | {small[2]:.3f} | {small[3]:.3f} | {small[4]} |",
        f"| {large[0]:,} | {large[1]:.1f} | {large[2]:.3f} | {large[3]:.3f} | {large[4]} |",
        "",
        f"**Ratio {large[0]:,} / {small[0]:,}: {large[3] / small[3]:.2f}** (goal ≤ 2).",
        "",
        f"The journal walk (version 1, every entry read) at {small[0]:,} entries: {small[5]:.3f} s.",
        "",
        f"## Write units the aggregates add to the stream consumer, per entry ({SMALL - FRESH:,} entries)",
        "",
        f"* aggregate rows (month, day, hour, minute): {units.get('rows', 0) / counted:.2f}",
        f"* per-minute counts: {units.get('counts', 0) / counted:.2f}",
        f"* `last_entry_at` maxima (UpdateItem, outside the transaction): {maxima / counted:.2f}",
        f"* markers of entries without a system posting (claimed now, {without_system} of {counted}): "
        f"{2 * without_system / counted:.2f}",
        f"* (system totals and all markers, for comparison: {before / counted:.2f})",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    stack.stop()
    return 0 if large[3] / small[3] <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
