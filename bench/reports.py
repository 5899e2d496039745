"""The four report routes' services (05 §4.1–4.4, issue 16) as the journal grows: the time of
each at 1,000 and at a larger number of journal entries, as a ratio in one run (goal: at most 2).

    .venv/bin/python bench/reports.py                                 # 1,000 and 100,000
    BENCH_REPORT_ENTRIES=5000 .venv/bin/python bench/reports.py       # a quicker look

The journal is built as ``bench/report_aggregates.py`` builds it (entries written directly,
the stream consumer applied in batches of 100); the programs and assets its entries name are
created here, so that the reports read their names. The first report is called until it
answers (the first calls of an organization verify its aggregates' history, within
``ledger_aggregates.SEAL_BUDGET_SECONDS`` a call: a long one answers 503 ``aggregates_behind``
until verified; the calls and their time are reported), then each report is timed: the median
of its calls. Figures are from the embedded
emulator on a shared machine: read them as ratios.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs, report_aggregates  # noqa: E402

SMALL = 1_000
LARGE = int(os.environ.get("BENCH_REPORT_ENTRIES", "100000"))
TIMED_CALLS = 5
RESULTS = ROOT / "bench" / "results" / "reports.md"


def _name_items(org: str, entries: list[Any], now: datetime) -> None:
    """The programs and assets the entries name, under those ids (the reports read their names)."""
    programs = sorted({p.program_id for e in entries for p in e.postings if p.program_id})
    assets = sorted({p.asset_id for e in entries for p in e.postings})
    fanout_runs.name_programs_and_assets(org, programs, assets, now)


def _calls(org: str, now: datetime) -> dict[str, Callable[[], Any]]:
    from scrip.domain.organizations import Caller
    from scrip.services import reports

    caller = Caller(org, "bench")
    last_day = reports.Period(now - timedelta(days=1), now)
    return {
        "liability": lambda: reports.liability(
            caller, as_of=None, asset_id=None, program_id=None, by_bucket=True, limit=50, cursor=None
        ),
        "liability-rollforward (last day)": lambda: reports.rollforward(
            caller, period=last_day, asset_id=None, program_id=None, limit=50, cursor=None
        ),
        "ledger-summary (last day)": lambda: reports.ledger_summary(
            caller, program_id=None, period=last_day, limit=50, cursor=None
        ),
        "program-activity": lambda: reports.program_activity(caller, since=None, period=None, limit=50, cursor=None),
    }


def _first_answer(call: Callable[[], Any]) -> tuple[int, float, float]:
    """(calls, seconds of the first, seconds until one answered): the organization's first report
    verifies its aggregates' history, ``ledger_aggregates.SEAL_BUDGET_SECONDS`` of it a call,
    answering 503 ``aggregates_behind`` until done."""
    from scrip.domain.report_lines import AggregatesBehind

    calls, first, started = 0, 0.0, time.perf_counter()
    while True:
        calls += 1
        began = time.perf_counter()
        try:
            call()
            answered = True
        except AggregatesBehind:
            answered = False
        if calls == 1:
            first = time.perf_counter() - began
        if answered:
            return calls, first, time.perf_counter() - started


def _median(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(TIMED_CALLS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    stack, report = fanout_runs.open_stack()
    from scrip.domain import clock

    figures: dict[str, dict[str, float]] = {}
    first_answers: dict[str, tuple[int, float, float]] = {}
    for label, count in (("small", SMALL), ("large", LARGE)):
        org, _, _ = stack.bootstrap_organization(None)
        now = clock.now()
        entries = report_aggregates._entries(org, count, now)
        _name_items(org, entries, now)
        report_aggregates._write(entries)
        calls = _calls(org, clock.now())
        first_answers[label] = _first_answer(next(iter(calls.values())))
        figures[label] = {name: _median(call) for name, call in calls.items()}
        print(label, count, first_answers[label], figures[label], file=report, flush=True)

    lines = [
        "# Report routes' services as the journal grows",
        "",
        "Entries as `bench/report_aggregates.py` writes them (two assets × two programs, 20 a minute up",
        f"to now); median of {TIMED_CALLS} calls after the first, in seconds.",
        "",
        f"| report | {SMALL:,} entries | {LARGE:,} entries | ratio |",
        "|---|---:|---:|---:|",
    ]
    worst = 0.0
    for name, small in figures["small"].items():
        large = figures["large"][name]
        worst = max(worst, large / small)
        lines.append(f"| {name} | {small:.3f} | {large:.3f} | {large / small:.2f} |")
    lines += ["", f"**Worst ratio: {worst:.2f}** (goal ≤ 2).", ""]
    lines += [
        "The organization's first report (liability) verifies the aggregates' history, at most",
        "`SEAL_BUDGET_SECONDS` a call, answering 503 `aggregates_behind` with `Retry-After: 1` until done:",
        "",
        "| journal | calls until it answered | first call (s) | until answered (s) |",
        "|---|---:|---:|---:|",
    ]
    for label, count in (("small", SMALL), ("large", LARGE)):
        calls_made, first, total = first_answers[label]
        lines.append(f"| {count:,} entries | {calls_made} | {first:.2f} | {total:.2f} |")
    fanout_runs.write_results(RESULTS, lines, report)
    stack.stop()
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
