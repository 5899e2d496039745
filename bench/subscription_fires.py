"""The subscription fire pass as fire jobs per shard-hour (services/subscriptions.py): fires per
second over ``BENCH_SUBSCRIPTION_FIRES`` (default 2,000) subscriptions due at one instant.

    .venv/bin/python bench/subscription_fires.py

The participants are enrolled and subscribed (an INTERVAL participant_state automation's create
refresh), then every subscription is made due one minute ago. Measured: one tick of the
automation scheduler (it fires nothing itself: one query per shard-hour, a fire job started for
each with entries due) and the stream drain that runs the jobs page by page
(StreamDispatchFunction, ``FIRE_PAGE_SIZE`` fires per invocation). The generated SYSTEM events
are not processed. Figures are from the embedded emulator on a shared machine.
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

PARTICIPANTS = int(os.environ.get("BENCH_SUBSCRIPTION_FIRES", "2000"))
RESULTS = ROOT / "bench" / "results" / "subscription_fires.md"


def main() -> int:
    stack, report = fanout_runs.open_stack()

    from scrip.domain import clock
    from scrip.domain.automations import ScheduleType, TriggerType
    from scrip.services import subscriptions
    from scrip.storage import subscriptions as subscription_store
    from scrip.storage import table
    from scrip_local.metering import DynamoMeter

    org, program = fanout_runs.bench_program(stack, "Subscription fire bench")
    people = fanout_runs.enroll(org, program, PARTICIPANTS)
    stack.drain()
    automation_id = fanout_runs.new_automation(
        org,
        program,
        name="bench fires",
        event_name="bench_nudge",
        trigger_type=TriggerType.PARTICIPANT_STATE,
        timezone="UTC",
        schedule_type=ScheduleType.INTERVAL,
        schedule_config={"every": 1, "unit": "days"},
    )
    stack.drain()  # the create's refresh subscribes everyone
    found = subscription_store.get_many(org, automation_id, people)
    assert len(found) == PARTICIPANTS, len(found)
    fire_at = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    for current in found.values():
        subscription_store.save(current, replace(current, next_trigger_at=fire_at, version=current.version + 1))
    with DynamoMeter() as meter:
        # The meter describes the table once; done here, outside the functions, whose emulated
        # roles may not describe tables.
        meter._indexes(table.client(), table.table_name())
        started = time.perf_counter()
        result = stack.fire_schedule("AutomationSchedulerFunction")
        tick = time.perf_counter() - started
        stack.drain()
        seconds = time.perf_counter() - started
    fired = subscription_store.get_many(org, automation_id, people)
    assert all(s.trigger_count == 1 for s in fired.values()), result
    functions = ("AutomationSchedulerFunction", "StreamDispatchFunction")
    calls = [c for c in meter.select() if c.function in functions]
    write_units = sum(c.write_units for c in calls) / PARTICIPANTS
    read_units = sum(c.read_units for c in calls) / PARTICIPANTS
    per_invocation = meter.calls_per_invocation("StreamDispatchFunction")
    stack.stop()
    lines = [
        "# Subscription fire pass",
        "",
        f"{PARTICIPANTS} participant_state subscriptions due at one instant. One scheduler tick: {tick:.2f} s "
        f"(one query per shard-hour, {result['subscriptions']['jobs_started']} fire jobs started, no fire). "
        f"The jobs' pages ({subscriptions.FIRE_PAGE_SIZE} fires each, one stream record each; "
        f"{len(per_invocation)} StreamDispatchFunction invocations in the emulator, which batches records): "
        f"{seconds:.1f} s in all, **{PARTICIPANTS / seconds:.0f} fires/s**; per fire {write_units:.2f} write "
        f"units, {read_units:.2f} read units.",
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
