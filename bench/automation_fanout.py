"""A participants-scoped automation run (services/automation_runs.py): participants fanned out per
second, and write units per generated event.

    .venv/bin/python bench/automation_fanout.py        # part of `make bench`

An automation over ``BENCH_AUTOMATION_PARTICIPANTS`` (default 10,000) enrolled participants is
triggered three times (a warm-up, a timed run, a counted run; ``bench/fanout_runs.py``), each run
paged by the fan-out job's own stream records through StreamDispatchFunction, as in AWS. Its
``participant_filter`` reads each participant's state (``participant.status == "ACTIVE"``
selects everyone), so the figures include the per-participant snapshot a filter or guard costs.
The generated SYSTEM events are not processed (the dispatcher's queueing is stubbed):
bench/event_processing.py measures that.

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_AUTOMATION_PARTICIPANTS", "10000"))
RESULTS = ROOT / "bench" / "results" / "automation_fanout.md"


def main() -> int:
    stack, report = fanout_runs.open_stack()

    from scrip.domain.automations import TriggerType
    from scrip.domain.organizations import Caller
    from scrip.services import automation_runs, fanouts
    from scrip.storage import automations as automation_store

    org, program = fanout_runs.bench_program(stack, "Automation bench")
    caller = Caller(org, "bench")
    fanout_runs.enroll(org, program, PARTICIPANTS)
    automation_id = fanout_runs.new_automation(
        org,
        program,
        name="bench",
        event_name="bench_bonus",
        trigger_type=TriggerType.IMMEDIATE,
        payload={"campaign": "bench"},
        participant_filter='participant.status == "ACTIVE"',
    )
    stack.drain()  # the participants' and the automation's own stream records, before the timing

    def start() -> str:
        started = automation_runs.trigger(caller, program, automation_id)
        assert started.execution_started_at is not None
        return automation_runs.fanout_id(automation_id, started.execution_started_at)

    run = fanout_runs.measure(stack, org, [start] * 3, participants=PARTICIPANTS)
    done = automation_store.get(org, automation_id)
    assert done is not None and done.participants_processed == PARTICIPANTS, done
    stack.stop()
    lines = [
        "# Automation fan-out",
        "",
        f"A participants-scoped automation over {PARTICIPANTS} enrolled participants, {fanouts.PAGE_SIZE} per page "
        f"({run.pages} pages, one StreamDispatchFunction record each), triggered three times (warm-up, timed, "
        "counted) and driven by the fan-out job's own stream records in the embedded emulator. Its "
        "`participant_filter` reads every participant's state; the generated SYSTEM events are not processed "
        "(bench/event_processing.py measures that).",
        "",
        *run.report_rows(
            "participants/s",
            "DynamoDB per participant fanned out, i.e. per generated event (StreamDispatchFunction, counted run):",
            "Write units by item, per generated event:",
        ),
        "",
        "Per generated event: the SYSTEM event's one conditional put and the index entries DynamoDB writes for it, "
        "as for any ingested event. Per page: the job's cursor advance, and one transaction that adds the page's "
        "counters to the automation (a version-guarded put, whose size grows with the automation's text) with the "
        "run's page marker. Reads: per participant, one query of its partition (state and tier levels for the "
        "filter); per page, the job, the ENROLLED query, one BatchGetItem of the participants, the automation and "
        "its run marker.",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
