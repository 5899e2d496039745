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
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

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
    from scrip.domain.organizations import Caller
    from scrip.domain.state import Counter, Owner, OwnerKind
    from scrip.domain.tiers import TierState
    from scrip.services import programs as program_service
    from scrip.services import tiers as tier_service
    from scrip.storage import participants as participant_store
    from scrip.storage import state as state_store
    from scrip.storage import tiers as tier_store

    caller = Caller(org, "bench")
    program = program_service.create_program(caller, name=name).id
    tier_service.create_tier(caller, program, TIER)
    fanout_runs.enroll(org, program, count)
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
    fanout_runs.batch_put(put)
    return program


def _start(org: str, program: str, boundary: datetime) -> str:
    from scrip.domain.fanouts import FanOutKind
    from scrip.services import fanouts
    from scrip.storage import items

    payload = {"tier_key": "status", "boundary": items.timestamp(boundary)}
    return fanouts.start(org, kind=FanOutKind.TIER_PERIOD_END, program_id=program, payload=payload)


def main() -> int:
    stack, report = fanout_runs.open_stack()

    from scrip.services import fanouts

    org, _, _ = stack.bootstrap_organization(None)
    boundary = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    warm_program = _world(org, "Warm-up", min(PARTICIPANTS, 200), boundary)
    timed_program = _world(org, "Timed", PARTICIPANTS, boundary)
    counted_program = _world(org, "Counted", PARTICIPANTS, boundary)
    stack.drain()  # the setup's own stream records, before the timing

    run = fanout_runs.measure(
        stack,
        org,
        [partial(_start, org, program, boundary) for program in (warm_program, timed_program, counted_program)],
        participants=PARTICIPANTS,
        warm_participants=min(PARTICIPANTS, 200),
    )
    stack.stop()
    lines = [
        "# Tier period end",
        "",
        f"The `TIER_PERIOD_END` fan-out of a CALENDAR_YEAR tier over {PARTICIPANTS} enrolled participants at its top "
        f"level, {fanouts.PAGE_SIZE} per page ({run.pages} pages, one StreamDispatchFunction record each), in the "
        "embedded emulator. Half still qualify (kept: new expires_at, EXCESS rollover), half are downgraded one level "
        "(DROP_TO_QUALIFYING: level, history line, rollover). A warm-up program runs first; then one program's "
        "period end is timed and another's counted. The stream consumers of the history lines (webhook "
        "derivation) are part of the drain but not of the counted dispatcher calls.",
        "",
        *run.report_rows(
            "participants re-evaluated/s",
            "DynamoDB per participant re-evaluated (StreamDispatchFunction, counted run):",
            "Write units by item, per participant:",
        ),
        "",
        "Per participant, one transaction (write units doubled): the level (new expires_at or new level; "
        "a level expiring on a boundary has no due entry), the counter, a counter history line, a tier "
        "history line for a downgrade, and the period-end marker that makes a replayed page apply nothing "
        "twice. Reads: the participant's level and marker (one Query), its state (one Query of its partition).",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
