"""The tier period-end fan-out (services/tier_jobs.py): participants re-evaluated per second, and
what each costs.

    .venv/bin/python bench/tier_period_end.py        # part of `make bench`

A ``CALENDAR_YEAR`` tier with three levels (DROP_TO_QUALIFYING, EXCESS rollover of one counter):
``BENCH_TIER_PARTICIPANTS`` enrolled participants at its top level, expiring at the boundary, half
of whom still qualify (kept, counter rolled over) and half not (downgraded one level, history
line, rollover). The ``TIER_PERIOD_END`` fan-out runs through the embedded emulator as in AWS:
the job item's stream records reach StreamDispatchFunction, one page per record. Each participant
is evaluated once per boundary, so the warm-up, the timed and the counted runs use three programs
(the warm-up a small one). ``drain()`` is timed; the counted run goes through
``scrip_local.metering.DynamoMeter``. Figures are from the embedded emulator on a shared
machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from scrip_local.stack import LocalStack  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_TIER_PARTICIPANTS", "1000"))
RESULTS = ROOT / "bench" / "results" / "tier_period_end.md"
TIER: dict[str, Any] = {
    "key": "status",
    "levels": [
        {
            "key": key,
            "rank": rank,
            "qualification": {"mode": "ALL", "criteria": [{"counter": "nights", "operator": ">=", "threshold": t}]},
        }
        for key, rank, t in (("bronze", 1, 10), ("silver", 2, 20), ("gold", 3, 40))
    ],
    "lifecycle": {
        "retention": {"mode": "PERIOD_BASED"},
        "qualification_period": {"type": "CALENDAR_YEAR"},
        "downgrade_policy": {"mode": "DROP_TO_QUALIFYING"},
        "counters": {"rollover": "EXCESS", "qualifying": ["nights"]},
    },
}


def _world(org: str, name: str, count: int, boundary: datetime) -> str:
    """A program with the tier and ``count`` enrolled gold participants (batch-written: the
    services' upserts would dominate the run); its id."""
    from bench.fanout import _enroll
    from scrip.domain.organizations import Caller
    from scrip.domain.state import Counter, Owner, OwnerKind
    from scrip.domain.tiers import TierState
    from scrip.services import programs as program_service
    from scrip.services import tiers as tier_service
    from scrip.storage import participants as participant_store
    from scrip.storage import state as state_store
    from scrip.storage import table
    from scrip.storage import tiers as tier_store

    caller = Caller(org, "bench")
    program = program_service.create_program(caller, name=name).id
    tier_service.create_tier(caller, program, TIER)
    _enroll(org, program, count)
    people, _ = participant_store.enrolled_page(org, program, limit=count, after=None)
    now = datetime.now(UTC)
    put: list[dict[str, Any]] = []
    for i, person in enumerate(people):
        owner = Owner(OwnerKind.PARTICIPANT, person)
        state = TierState(program, "status", "gold", 3, now, boundary)
        writes = tier_store.put_state(org, state_store.partition(org, owner), state, None, indexed=False)
        nights = Counter("nights", Decimal(45 if i % 2 == 0 else 25), None, None)
        writes.append(state_store.counter_put(org, owner, nights, None))
        put += [w.params["Item"] for w in writes if w.kind == "Put"]
    client = table.client()
    for start in range(0, len(put), 25):
        request: dict[str, Any] = {table.table_name(): [{"PutRequest": {"Item": i}} for i in put[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return program


def _start(org: str, program: str, boundary: datetime) -> str:
    from scrip.domain.fanouts import FanOutKind
    from scrip.services import fanouts
    from scrip.storage import items

    payload = {"tier_key": "status", "boundary": items.timestamp(boundary)}
    return fanouts.start(org, kind=FanOutKind.TIER_PERIOD_END, program_id=program, payload=payload)


def main() -> int:
    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' EMF metric lines
    stack = LocalStack(aws_port=None)
    stack.serve("127.0.0.1", 0, background_delivery=False)

    from bench.event_cost import kind_of
    from scrip.domain.fanouts import FanOutStatus
    from scrip.services import fanouts
    from scrip.storage import fanouts as fanout_store
    from scrip_local.metering import DynamoMeter

    org, _, _ = stack.bootstrap_organization(None)
    boundary = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    warm_program = _world(org, "Warm-up", min(PARTICIPANTS, 200), boundary)
    timed_program = _world(org, "Timed", PARTICIPANTS, boundary)
    counted_program = _world(org, "Counted", PARTICIPANTS, boundary)
    stack.drain()  # the setup's own stream records, before the timing

    warm = _start(org, warm_program, boundary)
    stack.drain()
    timed = _start(org, timed_program, boundary)
    started = time.perf_counter()
    stack.drain()
    seconds = time.perf_counter() - started
    counted = _start(org, counted_program, boundary)
    with DynamoMeter() as meter:
        stack.drain()
    jobs = [fanout_store.get(org, job) for job in (warm, timed, counted)]
    stack.stop()
    assert all(j is not None and j.status is FanOutStatus.COMPLETED for j in jobs), jobs
    assert all(j is not None and j.participants_processed == PARTICIPANTS for j in jobs[1:]), jobs
    pages = -(-PARTICIPANTS // fanouts.PAGE_SIZE)
    calls = [c for c in meter.select() if c.function == "StreamDispatchFunction"]
    kinds: dict[str, float] = defaultdict(float)
    for call in calls:
        for pk, sk, units in call.written_keys:
            kinds[kind_of(pk, sk)] += units
    wu = sum(c.write_units for c in calls) / PARTICIPANTS
    ru = sum(c.read_units for c in calls) / PARTICIPANTS
    lines = [
        "# Tier period end",
        "",
        f"The `TIER_PERIOD_END` fan-out of a CALENDAR_YEAR tier over {PARTICIPANTS} enrolled participants at its top "
        f"level, {fanouts.PAGE_SIZE} per page ({pages} pages, one StreamDispatchFunction record each), in the embedded "
        "emulator. Half still qualify (kept: new expires_at, EXCESS rollover), half are downgraded one level "
        "(DROP_TO_QUALIFYING: level, history line, rollover). A warm-up program runs first; then one program's "
        "period end is timed and another's counted. The stream consumers of the history lines (webhook "
        "derivation) are part of the drain but not of the counted dispatcher calls.",
        "",
        "| participants | pages | drain s | participants re-evaluated/s | s per page |",
        "|---:|---:|---:|---:|---:|",
        f"| {PARTICIPANTS} | {pages} | {seconds:.1f} | {PARTICIPANTS / seconds:.0f} | {seconds / pages:.2f} |",
        "",
        "DynamoDB per participant re-evaluated (StreamDispatchFunction, counted run):",
        "",
        "| write units | read units |",
        "|---:|---:|",
        f"| {wu:.2f} | {ru:.2f} |",
        "",
        "Write units by item, per participant:",
        "",
        "| item | WU |",
        "|---|---:|",
        *[f"| `{k}` | {v / PARTICIPANTS:.3f} |" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])],
        "",
        "Per participant, one transaction (write units doubled): the level (new expires_at or new level; "
        "a level expiring on a boundary has no due entry), the counter, a counter history line, a tier "
        "history line for a downgrade, and the period-end marker that makes a replayed page apply nothing "
        "twice. Reads: the participant's level and marker (one Query), its state (one Query of its partition).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    sys.stdout = report
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
