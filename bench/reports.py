"""The four report routes' services (05 §4.1–4.4, issue 16) as the journal grows: the time of
each at 1,000 and at a larger number of journal entries, as a ratio in one run (goal: at most 2).

    .venv/bin/python bench/reports.py                                 # 1,000 and 100,000
    BENCH_REPORT_ENTRIES=5000 .venv/bin/python bench/reports.py       # a quicker look

The journal is built as ``bench/report_aggregates.py`` builds it (entries written directly,
the stream consumer applied in batches of 100); the programs and assets its entries name are
created here, so that the reports read their names. Each report is called once (the first
call of an organization verifies its aggregates' history) and then timed: the median of the
next calls. Figures are from the embedded emulator on a shared machine: read them as ratios.
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
    from scrip.domain import assets as asset_rules
    from scrip.domain import programs as program_rules
    from scrip.domain.assets import InventoryMode, IssuancePolicy
    from scrip.storage import assets as asset_store
    from scrip.storage import programs as program_store

    programs = sorted({p.program_id for e in entries for p in e.postings if p.program_id})
    assets = sorted({p.asset_id for e in entries for p in e.postings})
    for index, program_id in enumerate(programs):
        program_store.create(
            program_rules.new_program(
                organization_id=org,
                program_id=program_id,
                name=f"Bench program {index}",
                description=None,
                key=None,
                on_unknown_participant=program_rules.OnUnknownParticipant.CREATE,
                now=now,
            )
        )
    for index, asset_id in enumerate(assets):
        asset_store.create(
            asset_rules.new_asset(
                organization_id=org,
                asset_id=asset_id,
                program_id=programs[0],
                name=f"Bench asset {index}",
                symbol=f"BA{index}",
                inventory_mode=InventoryMode.SIMPLE,
                issuance_policy=IssuancePolicy.UNLIMITED,
                scale=0,
                max_transaction_amount=None,
                now=now,
            )
        )


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


def _median(call: Callable[[], Any]) -> float:
    call()  # the first call verifies the organization's aggregates once
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
    for label, count in (("small", SMALL), ("large", LARGE)):
        org, _, _ = stack.bootstrap_organization(None)
        now = clock.now()
        entries = report_aggregates._entries(org, count, now)
        _name_items(org, entries, now)
        report_aggregates._write(entries)
        figures[label] = {name: _median(call) for name, call in _calls(org, clock.now()).items()}
        print(label, count, figures[label], file=report, flush=True)

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
    lines += ["", f"**Worst ratio: {worst:.2f}** (goal ≤ 2)."]
    fanout_runs.write_results(RESULTS, lines, report)
    stack.stop()
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
