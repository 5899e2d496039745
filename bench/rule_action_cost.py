"""What an event with a BROADCAST or a SCHEDULE_EVENT action costs in DynamoDB (write and read units).

    .venv/bin/python bench/rule_action_cost.py

Counted with ``scrip_local.metering.DynamoMeter`` through the local stack, as bench/event_cost.py.
A program with ``BENCH_RULE_ACTION_PARTICIPANTS`` (default 20) enrolled participants and one rule
per action; ``BENCH_RULE_ACTION_EVENTS`` (default 20) source events each, sent one by one and
processed with everything they set off (the BROADCAST's fan-out and its generated events; the
SCHEDULE_EVENT's follow-up fired by moving the clock past its delay). Reported per source event:
the processor's units for the source event alone, and every function's units in total.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import requests  # noqa: E402

from scrip_local.metering import DynamoMeter  # noqa: E402
from scrip_local.stack import LocalStack  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_RULE_ACTION_PARTICIPANTS", "20"))
EVENTS = int(os.environ.get("BENCH_RULE_ACTION_EVENTS", "20"))
PROCESSOR = "EventProcessorFunction"


def _scenario(stack: LocalStack, api: Any, meter: DynamoMeter, action: dict[str, Any]) -> dict[str, float]:
    program = api.create_program(name=f"cost {action['type']} {uuid.uuid4()}")
    created = api.post(
        "/v1/rules",
        json={"program_id": program["id"], "name": "r", "condition": 'event.type == "source"', "actions": [action]},
    )
    assert created.status_code == 201, created.text
    for _ in range(PARTICIPANTS):
        made = api.post("/v1/participants", json={"external_id": f"m-{uuid.uuid4()}", "program_id": program["id"]})
        assert made.status_code in (200, 201), made.text
    stack.drain()
    processor = total = 0.0
    for i in range(EVENTS):
        meter.reset()
        sent = api.post(
            "/v1/events",
            json={
                "program_id": program["id"],
                "external_id": f"src-{i % 5}",
                "idempotency_key": f"src-{uuid.uuid4()}",
                "event_timestamp": "2026-03-02T18:04:00Z",
                "event_data": {"type": "source"},
            },
        )
        assert sent.status_code == 202, sent.text
        event_id = sent.json()["id"]
        stack.drain()
        processor += meter.write_units(function=PROCESSOR) - _followers(meter, event_id)
        if action["type"] == "SCHEDULE_EVENT":
            os.environ["SCRIP_CLOCK_OFFSET_SECONDS"] = str(3600 + 120)
            stack.fire_schedule("ScheduledEventsFunction")
            stack.fire_schedule("AutomationSchedulerFunction")
            stack.drain()
            os.environ["SCRIP_CLOCK_OFFSET_SECONDS"] = "0"
        total += meter.write_units()
    return {"source_processor_wu": processor / EVENTS, "total_wu": total / EVENTS}


def _followers(meter: DynamoMeter, source_event_id: str) -> float:
    """The processor's units for the generated events (processed in the same drain), to leave out."""
    units = 0.0
    for call in meter.select(PROCESSOR):
        if source_event_id not in str(call.written_keys) and call.written_keys:
            units += call.write_units
    return units


def main() -> int:
    os.environ["SCRIP_EVENT_RETRY_BASE_SECONDS"] = "0"
    stack = LocalStack(ROOT / "template.yaml", aws_port=None)
    server = stack.serve("127.0.0.1", 0, background_delivery=False)
    organization_id, key, _ = stack.bootstrap_organization(None)
    from tests.conftest import Api

    api = Api(f"http://127.0.0.1:{server.port}", key, organization_id, requests.Session())
    with DynamoMeter() as meter:
        broadcast = _scenario(stack, api, meter, {"type": "BROADCAST", "event_name": "each"})
        scheduled = _scenario(stack, api, meter, {"type": "SCHEDULE_EVENT", "event_name": "later", "delay": "1h"})
    stack.stop()
    print(f"RESULT BROADCAST to {PARTICIPANTS} participants: {broadcast}")
    print(f"RESULT SCHEDULE_EVENT: {scheduled}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
