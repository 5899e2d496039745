"""participant_state subscriptions (services/subscriptions.py): a refresh's participants per
second and write units per subscription, and a fire pass's fires per second.

    .venv/bin/python bench/subscriptions.py

``BENCH_SUBSCRIPTION_PARTICIPANTS`` (default 2,000) enrolled participants. Three INTERVAL
automations are created one after the other (warm-up, timed, counted; ``bench/fanout_runs.py``):
each creation's INSERT record starts its refresh, paged by the job's own stream records through
StreamDispatchFunction, and subscribes every participant (``participant_filter`` reads each one's
state). Then every subscription of the counted automation is made due and one tick of the
automation scheduler hands them to the shard-hours' fire jobs, which the stream drives page by
page (the generated SYSTEM events are not processed).

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_SUBSCRIPTION_PARTICIPANTS", "2000"))
RESULTS = ROOT / "bench" / "results" / "subscriptions.md"


def main() -> int:
    stack, report = fanout_runs.open_stack()

    from scrip.domain import clock
    from scrip.domain.automations import ScheduleType, TriggerType
    from scrip.services import fanouts, subscriptions
    from scrip.storage import subscriptions as subscription_store
    from scrip_local.metering import DynamoMeter

    org, program = fanout_runs.bench_program(stack, "Subscription bench")
    people = fanout_runs.enroll(org, program, PARTICIPANTS)
    stack.drain()
    made: list[str] = []

    def start() -> str:
        automation_id = fanout_runs.new_automation(
            org,
            program,
            name=f"bench {len(made)}",
            event_name="bench_nudge",
            trigger_type=TriggerType.PARTICIPANT_STATE,
            timezone="UTC",
            schedule_type=ScheduleType.INTERVAL,
            schedule_config={"every": 1, "unit": "days"},
            participant_filter='participant.status == "ACTIVE"',
        )
        made.append(automation_id)
        return subscriptions.initial_refresh_id(automation_id)

    run = fanout_runs.measure(stack, org, [start] * 3, participants=PARTICIPANTS)
    counted = made[-1]
    found = subscription_store.get_many(org, counted, people)
    assert len(found) == PARTICIPANTS, len(found)
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    for current in found.values():
        subscription_store.save(current, replace(current, next_trigger_at=fire_at, version=current.version + 1))
    with DynamoMeter() as meter:
        started = time.perf_counter()
        result = stack.fire_schedule("AutomationSchedulerFunction")
        tick = time.perf_counter() - started
        stack.drain()  # the shard-hours' fire jobs, page by page from their own stream records
        seconds = time.perf_counter() - started
    fired = subscription_store.get_many(org, counted, people)
    assert sum(s.trigger_count for s in fired.values()) == PARTICIPANTS, result
    calls = [c for c in meter.select() if c.function in ("AutomationSchedulerFunction", "StreamDispatchFunction")]
    fire_wu = sum(c.write_units for c in calls) / PARTICIPANTS
    fire_ru = sum(c.read_units for c in calls) / PARTICIPANTS
    pages = meter.calls_per_invocation("StreamDispatchFunction")
    stack.stop()
    lines = [
        "# participant_state subscriptions",
        "",
        f"Refresh: a participant_state automation's create over {PARTICIPANTS} enrolled participants, "
        f"{fanouts.PAGE_SIZE} per page ({run.pages} pages), subscribing each one (three automations: warm-up, "
        "timed, counted), driven by the job's own stream records in the embedded emulator.",
        "",
        *run.report_rows(
            "participants/s",
            "DynamoDB per participant subscribed (StreamDispatchFunction, counted refresh):",
            "Write units by item, per participant subscribed:",
        ),
        "",
        f"Fire pass: all {PARTICIPANTS} subscriptions due in one minute. One scheduler tick ({tick:.2f} s: one "
        f"query per shard-hour, {result['subscriptions']['jobs_started']} fire jobs started) hands them to the "
        f"shard-hours' fire jobs, {subscriptions.FIRE_PAGE_SIZE} fires per page, each page one "
        f"StreamDispatchFunction invocation ({len(pages)} invocations, at most {max(pages, default=0)} DynamoDB "
        f"calls in one): {seconds:.1f} s in all, {PARTICIPANTS / seconds:.0f} fires/s; per fire {fire_wu:.2f} "
        f"write units, {fire_ru:.2f} read units (the SYSTEM event, the subscription's save with its list and due "
        "entries, reads of the automation, the participant and its state; the jobs' cursor advances).",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
