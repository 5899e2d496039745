"""The paged fan-out (services/fanouts.py): participants fanned out per second, and what each costs.

    .venv/bin/python bench/fanout.py        # part of `make bench`

A BROADCAST fan-out job over ``BENCH_FANOUT_PARTICIPANTS`` enrolled participants runs through the
embedded emulator the way it runs in AWS: the job item's stream records reach
StreamDispatchFunction, one page of ``PAGE_SIZE`` participants per record, each page's cursor
advance the next record. ``drain()`` is timed. The SYSTEM events it creates are not processed
(the dispatcher's queueing is stubbed): their processing is bench/event_processing.py's subject,
this one measures the fan-out alone. A second job over the same participants is counted with
``scrip_local.metering.DynamoMeter``: write and read units per participant, by item kind.

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_FANOUT_PARTICIPANTS", "2000"))
RESULTS = ROOT / "bench" / "results" / "fanout.md"


def _start(org: str, program: str) -> str:
    from scrip.domain.fanouts import FanOutKind
    from scrip.services import fanouts

    return fanouts.start(
        org,
        kind=FanOutKind.BROADCAST,
        program_id=program,
        payload={
            "source_event_id": str(uuid.uuid4()),
            "key_prefix": f"bench:{uuid.uuid4()}",
            "event_data": {"type": "promo"},
        },
    )


def main() -> int:
    stack, report = fanout_runs.open_stack()

    from scrip.services import fanouts

    org, program = fanout_runs.bench_program(stack, "Fan-out bench")
    fanout_runs.enroll(org, program, PARTICIPANTS)
    stack.drain()  # the participants' own stream records (their webhooks' derivation), before the timing

    run = fanout_runs.measure(stack, org, [lambda: _start(org, program)] * 3, participants=PARTICIPANTS)
    stack.stop()
    lines = [
        "# Paged fan-out",
        "",
        f"A BROADCAST fan-out over {PARTICIPANTS} enrolled participants, {fanouts.PAGE_SIZE} per page "
        f"({run.pages} pages, one StreamDispatchFunction record each), driven by the job item's own stream records "
        "in the embedded emulator; the created SYSTEM events are not processed "
        "(bench/event_processing.py measures that). "
        "A warm-up job runs first; then one job is timed and another counted.",
        "",
        *run.report_rows(
            "participants/s",
            "DynamoDB per participant fanned out (StreamDispatchFunction, counted job):",
            "Write units by item, per participant:",
        ),
        "",
        "Per participant: the SYSTEM event's one conditional put and the five index entries DynamoDB writes for it "
        "(its lists and due index are global secondary indexes of the item), as for any ingested event; the job "
        "item is written once per page. Reads: per page, one read of the job, one query of the program's ENROLLED "
        "partition and one BatchGetItem of the page's participants (closed ones are skipped).",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
