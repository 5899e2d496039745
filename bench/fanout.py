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
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from scrip_local.stack import LocalStack  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_FANOUT_PARTICIPANTS", "2000"))
RESULTS = ROOT / "bench" / "results" / "fanout.md"


def _enroll(org: str, program: str, count: int) -> None:
    """``count`` participants enrolled in ``program``, written in batches (the upsert route
    would dominate the run)."""
    from scrip.domain import clock
    from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
    from scrip.storage import participants as participant_store
    from scrip.storage import table

    now = clock.now()
    items: list[dict[str, Any]] = []
    for i in range(count):
        person = new_participant(
            organization_id=org,
            participant_id=str(uuid.uuid4()),
            external_id=f"bench-{i}",
            status=ParticipantStatus.ACTIVE,
            profile={},
            now=now,
        )
        enrollment = Enrollment(program, EnrollmentStatus.ACTIVE, now)
        writes = [
            *participant_store.create_writes(person, [program]),
            *participant_store.enrollment_writes(person, program, enrollment),
        ]
        items += [w.params["Item"] for w in writes if w.kind == "Put"]
    client = table.client()
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {table.table_name(): [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


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
    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' EMF metric lines
    stack = LocalStack(aws_port=None)
    stack.serve("127.0.0.1", 0, background_delivery=False)

    from bench.event_cost import kind_of
    from scrip.domain.fanouts import FanOutStatus
    from scrip.domain.organizations import Caller
    from scrip.services import fanouts, follow_ups
    from scrip.services import programs as program_service
    from scrip.storage import fanouts as fanout_store
    from scrip_local.metering import DynamoMeter

    follow_ups.dispatch = lambda images: 0  # type: ignore[assignment]  # the events' processing is not measured
    org, _, _ = stack.bootstrap_organization(None)
    program = program_service.create_program(Caller(org, "bench"), name="Fan-out bench").id
    _enroll(org, program, PARTICIPANTS)
    stack.drain()  # the participants' own stream records (their webhooks' derivation), before the timing

    warm = _start(org, program)  # cold starts and the first pass over the participants' items
    stack.drain()
    timed = _start(org, program)
    started = time.perf_counter()
    stack.drain()
    seconds = time.perf_counter() - started
    counted = _start(org, program)
    with DynamoMeter() as meter:
        stack.drain()
    jobs = [fanout_store.get(org, job) for job in (warm, timed, counted)]
    stack.stop()
    assert all(j is not None and j.status is FanOutStatus.COMPLETED for j in jobs), jobs
    assert all(j is not None and j.participants_processed == PARTICIPANTS for j in jobs), jobs
    pages = -(-PARTICIPANTS // fanouts.PAGE_SIZE)
    calls = [c for c in meter.select() if c.function == "StreamDispatchFunction"]
    kinds: dict[str, float] = defaultdict(float)
    for call in calls:
        for pk, sk, units in call.written_keys:
            kinds[kind_of(pk, sk)] += units
    wu = sum(c.write_units for c in calls) / PARTICIPANTS
    ru = sum(c.read_units for c in calls) / PARTICIPANTS
    lines = [
        "# Paged fan-out",
        "",
        f"A BROADCAST fan-out over {PARTICIPANTS} enrolled participants, {fanouts.PAGE_SIZE} per page ({pages} pages, "
        "one StreamDispatchFunction record each), driven by the job item's own stream records in the embedded "
        "emulator; the created SYSTEM events are not processed (bench/event_processing.py measures that). "
        "A warm-up job runs first; then one job is timed and another counted.",
        "",
        "| participants | pages | drain s | participants/s | s per page |",
        "|---:|---:|---:|---:|---:|",
        f"| {PARTICIPANTS} | {pages} | {seconds:.1f} | {PARTICIPANTS / seconds:.0f} | {seconds / pages:.2f} |",
        "",
        "DynamoDB per participant fanned out (StreamDispatchFunction, counted job):",
        "",
        "| write units | read units | calls |",
        "|---:|---:|---:|",
        f"| {wu:.2f} | {ru:.2f} | {len(calls) / PARTICIPANTS:.3f} |",
        "",
        "Write units by item, per participant:",
        "",
        "| item | WU |",
        "|---|---:|",
        *[f"| `{k}` | {v / PARTICIPANTS:.3f} |" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])],
        "",
        "Per participant: the SYSTEM event's one conditional put and the five index entries DynamoDB writes for it "
        "(its lists and due index are global secondary indexes of the item), as for any ingested event; the job "
        "item is written once per page. Reads: per page, one read of the job, one query of the program's ENROLLED "
        "partition and one BatchGetItem of the page's participants (closed ones are skipped).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    sys.stdout = report
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
