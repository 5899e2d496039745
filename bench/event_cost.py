"""What one event costs in DynamoDB: write and read units, round trips, the busiest key, dollars.

    make bench-cost        # or: .venv/bin/python bench/event_cost.py

Counted, not timed: ``scrip_local.metering.DynamoMeter`` records every DynamoDB call the
handlers make (through the local stack, the same functions as in AWS) and works out the units
DynamoDB would bill for it. Each scenario stores its participants first (one event each, not
counted), then sends ``BENCH_EVENTS`` purchase events one by one with ``POST /v1/events`` and
lets the stream and queues run every function they trigger.

* units per event, by function and by item kind;
* the processor's DynamoDB round trips per event (it makes its calls one after the other);
* the busiest partition key's share of the write units and the events/s one organization
  sustains before that key reaches 1,000 WU/s;
* DynamoDB's on-demand price per million events (``PRICE_*``: us-east-1 before the November
  2024 cut, the figures the issue was measured with; today's are half).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The checkout under measure: this one, or the one ``--before`` names (its layer and local stack).
MEASURED = Path(os.environ.get("BENCH_CHECKOUT", ROOT))
sys.path[:0] = [str(MEASURED / "layers" / "scrip"), str(MEASURED / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import requests  # noqa: E402

from scrip_local.metering import DynamoMeter  # noqa: E402
from scrip_local.stack import LocalStack  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
PARTICIPANTS = 50
PRICE_PER_MILLION_WRITE_UNITS = 1.25
PRICE_PER_MILLION_READ_UNITS = 0.25
PARTITION_WRITE_UNITS_PER_SECOND = 1000
RESULTS = ROOT / "bench" / "results" / "event_cost.md"
PROCESSOR = "EventProcessorFunction"

_OWNER = re.compile(r"(PARTICIPANT|GROUP)#<id>([# ]|$)|^ParticipantEvents:")
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def kind_of(partition: str, sort_key: str) -> str:
    """A key with its ids, shards and times taken out: what kind of item it is."""
    shape = _ID.sub("<id>", f"{partition} | {sort_key}")
    shape = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z?", "<time>", shape)
    shape = re.sub(r"#\d+( |$)", r"#<n>\1", shape)
    shape = re.sub(r"EXTERNALID#[^ |]+", "EXTERNALID#<x>", shape)
    shape = re.sub(r"IDEMPOTENCY#(\w+)#[0-9a-f]{64}", r"IDEMPOTENCY#\1#<hash>", shape)
    shape = re.sub(r"\| [^|]*<time>[^|]*$", "| <time>…", shape)
    return shape


def _scenario(
    stack: LocalStack, api: Any, meter: DynamoMeter, label: str, rules: int, webhook: str | None
) -> dict[str, Any]:
    from bench.event_processing import _rules

    program = api.create_program(name=f"cost {label}")
    asset = api.create_asset(program["id"], symbol=f"C{label[:5].upper()}")
    _rules(api, program["id"], asset["id"], rules)
    if webhook is not None:
        created = api.post("/v1/webhook-endpoints", json={"url": webhook, "enabled_events": ["balance.credited"]})
        assert created.status_code == 201, created.text
    for i in range(PARTICIPANTS):  # the participants exist before the measured events
        _post_event(api, program["id"], label, f"warm-{i}", i)
    stack.drain()
    meter.reset()
    for i in range(EVENTS):
        _post_event(api, program["id"], label, f"e-{i}", i)
    stack.drain()
    return _figures(meter)


OPERATIONS = int(os.environ.get("BENCH_OPERATIONS", "50"))
# A 100-recipient transfer is staged over several transactions and takes a while on the local
# stack: fewer of them are counted (units per transfer do not depend on how many).
LARGE_OPERATIONS = int(os.environ.get("BENCH_LARGE_OPERATIONS", "5"))
RECIPIENTS_MAX = 100


def _operations(
    stack: LocalStack, api: Any, meter: DynamoMeter, only: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Write and read units of a redemption and of transfers, per operation, every function included
    (``only``: just the operations named)."""
    program = api.create_program(name="cost operations")
    asset = api.create_asset(program["id"], symbol="COPS", scale=0)
    people = []
    for i in range(1 + RECIPIENTS_MAX):
        created = api.post("/v1/participants", json={"external_id": f"ops-{i}"})
        assert created.status_code == 201, created.text
        people.append(created.json()["id"])
        if i > 10:
            continue  # the recipients beyond the tenth only receive; the first 11 are as before
        credit = {
            "program_id": program["id"],
            "asset_id": asset["id"],
            "type": "CREDIT",
            "amount": "100000",
            "description": "seed",
        }
        seeded = api.post(f"/v1/participants/{people[-1]}/balances/adjust", json=credit)
        assert seeded.status_code in (200, 201), seeded.text
    stack.drain()
    base = {"program_id": program["id"], "asset_id": asset["id"], "description": "bench"}
    requests_by_name = {
        "amount redemption (with a key)": lambda i: api.post(
            f"/v1/participants/{people[0]}/redemptions", json={**base, "amount": "1", "idempotency_key": f"r{i}"}
        ),
        "transfer to 1 recipient": lambda i: api.post(
            "/v1/transfers",
            json={
                **base,
                "source_participant_id": people[0],
                "recipients": [{"participant_id": people[1], "amount": "1"}],
            },
        ),
        "transfer to 10 recipients": lambda i: api.post(
            "/v1/transfers",
            json={
                **base,
                "source_participant_id": people[0],
                "recipients": [{"participant_id": p, "amount": "1"} for p in people[1:11]],
            },
        ),
        f"transfer to {RECIPIENTS_MAX} recipients": lambda i: api.post(
            "/v1/transfers",
            json={
                **base,
                "source_participant_id": people[0],
                "recipients": [{"participant_id": p, "amount": "1"} for p in people[1:]],
            },
        ),
    }
    figures = {}
    for name, send in requests_by_name.items():
        if only is not None and name not in only:
            continue
        count = LARGE_OPERATIONS if name.endswith(f"{RECIPIENTS_MAX} recipients") else OPERATIONS
        meter.reset()
        for i in range(count):
            response = send(i)
            assert response.status_code == 201, response.text
        stack.drain()
        by_function: dict[str, float] = {}
        for call in meter.select():
            by_function[call.function] = by_function.get(call.function, 0.0) + call.write_units
        figures[name] = {
            "wu": meter.write_units() / count,
            "ru": meter.read_units() / count,
            "by_function": {f: units / count for f, units in by_function.items()},
            "count": count,
        }
    return figures


def _post_event(api: Any, program_id: str, label: str, key: str, i: int) -> None:
    response = api.post(
        "/v1/events",
        json={
            "program_id": program_id,
            "external_id": f"{label}-member-{i % PARTICIPANTS}",
            "idempotency_key": f"{label}-{key}",
            "event_timestamp": "2026-03-02T18:04:00Z",
            "event_data": {"type": "purchase", "amount": 20 + i % 150, "mcc": "5812", "channel": "app"},
        },
    )
    assert response.status_code in (201, 202), response.text


def _figures(meter: DynamoMeter) -> dict[str, Any]:
    by_function: dict[str, dict[str, float]] = {}
    for call in meter.select():
        entry = by_function.setdefault(call.function, {"wu": 0.0, "ru": 0.0, "calls": 0, "failed": 0})
        entry["wu"] += call.write_units
        entry["ru"] += call.read_units
        entry["calls"] += 1
        entry["failed"] += 0 if call.ok else 1
    kinds: Counter[str] = Counter()
    for call in meter.select():
        for pk, sk, units in call.written_keys:
            kinds[f"{call.function}: {kind_of(pk, sk)}"] += units
    partitions = meter.partitions()
    busiest, busiest_units = partitions.most_common(1)[0]
    # On paper: a kind of partition (a sharded list, the participants' partitions) spreads its
    # units evenly over its partitions; the kind with the most units per partition is the ceiling.
    kind_units: Counter[str] = Counter()
    kind_partitions: Counter[str] = Counter()
    for partition, units in partitions.items():
        kind_units[kind_of(partition, "")] += units
        kind_partitions[kind_of(partition, "")] += 1
    # A participant's own partitions bound that participant's rate, not the organization's:
    # they are reported apart, as the rate of events one participant can receive.
    shared = [k for k in kind_units if not _OWNER.search(k)]
    ceiling_kind = max(shared, key=lambda k: kind_units[k] / kind_partitions[k])
    ceiling_units = kind_units[ceiling_kind] / kind_partitions[ceiling_kind] / EVENTS
    owner_kind = max((k for k in kind_units if _OWNER.search(k)), key=lambda k: kind_units[k])
    owner_units_per_event = kind_units[owner_kind] / EVENTS  # each participant: its share of units and events
    processor_calls = len(meter.select(PROCESSOR))
    operations = Counter(c.operation for c in meter.select(PROCESSOR))
    total_wu, total_ru = meter.write_units(), meter.read_units()
    return {
        "wu": total_wu / EVENTS,
        "ru": total_ru / EVENTS,
        "by_function": by_function,
        "kinds": kinds,
        "round_trips": processor_calls / EVENTS,
        "processor_operations": operations,
        "busiest": busiest,
        "busiest_share": busiest_units / total_wu,
        "busiest_wu_per_event": busiest_units / EVENTS,
        "ceiling_kind": ceiling_kind,
        "ceiling_partitions": kind_partitions[ceiling_kind],
        "ceiling_wu_per_event": ceiling_units,
        "events_per_second": PARTITION_WRITE_UNITS_PER_SECOND / ceiling_units,
        "owner_kind": owner_kind,
        "participant_events_per_second": PARTITION_WRITE_UNITS_PER_SECOND / owner_units_per_event,
        "dollars": (total_wu * PRICE_PER_MILLION_WRITE_UNITS + total_ru * PRICE_PER_MILLION_READ_UNITS) / EVENTS,
    }


def measure(template: Path, operations_only: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every scenario against the stack that ``template`` describes (its layers on the path), or
    only the money operations named in ``operations_only``."""
    os.environ["SCRIP_EVENT_RETRY_BASE_SECONDS"] = "0"
    stack = LocalStack(template, aws_port=None)
    server = stack.serve("127.0.0.1", 0, background_delivery=False)
    organization_id, key, _ = stack.bootstrap_organization(None)
    from tests.api.webhook_receiver import receiver
    from tests.conftest import Api

    api = Api(f"http://127.0.0.1:{server.port}", key, organization_id, requests.Session())
    results: dict[str, dict[str, Any]] = {}
    with DynamoMeter() as meter:
        if operations_only is not None:
            results["operations"] = _operations(stack, api, meter, operations_only)
            stack.stop()
            return results
        results["1 rule"] = _scenario(stack, api, meter, "one", 1, None)
        results["10 rules"] = _scenario(stack, api, meter, "ten", 10, None)
        with receiver() as hooks:
            other_org, other_key, _ = stack.bootstrap_organization(None, name="with a webhook")
            other = Api(f"http://127.0.0.1:{server.port}", other_key, other_org, requests.Session())
            results["1 rule + 1 webhook endpoint"] = _scenario(stack, other, meter, "hook", 1, hooks.url)
        if "TransfersPostFunction" in stack.functions:  # a checkout from before P9 has neither route
            results["operations"] = _operations(stack, api, meter)
    stack.stop()
    return results


def _before(directory: Path) -> dict[str, dict[str, Any]]:
    """The same scenarios on another checkout, in a fresh interpreter (its own layer and template)."""
    local = directory / "local" / "scrip_local"
    shutil.copy(ROOT / "local" / "scrip_local" / "metering.py", local / "metering.py")
    environment = {**os.environ, "BENCH_CHECKOUT": str(directory), "PYTHONPATH": ""}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--json"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _summary_rows(results: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"| {name} | {r['wu']:.1f} | {r['ru']:.1f} | {r['round_trips']:.1f} | {r['busiest_share']:.1%} "
        f"| {r['events_per_second']:,.0f} | {r['dollars']:.2f} |"
        for name, r in results.items()
        if name != "operations"
    ]


def _report(results: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None, label: str) -> list[str]:
    header = [
        "| scenario | WU/event | RU/event | processor round trips/event | busiest key's share "
        "| org events/s on paper | $ per million events |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines = [
        "# What one event costs",
        "",
        f"Counted by `scrip_local.metering.DynamoMeter` over {EVENTS} purchase events (`POST /v1/events`, one "
        f"at a time) of {PARTICIPANTS} existing participants, through every function they trigger. "
        "Write units: 1 per KB of the larger image, x2 in a transaction (condition checks and refused "
        "writes included); read units: 1 per 4 KB consistent, half eventually consistent. Price: "
        f"${PRICE_PER_MILLION_WRITE_UNITS} per million write units, ${PRICE_PER_MILLION_READ_UNITS} per "
        "million read units (on-demand, us-east-1, the prices the issue was measured with; the November 2024 "
        "prices are half). Org events/s on paper: 1,000 WU/s divided by the busiest partition key's write "
        "units per event, for the kind of key (a sharded list, the participants' partitions) whose units "
        "per partition are highest, spread evenly over the partitions of that kind seen in the run.",
        "",
        "Now:",
        "",
        *header,
        *_summary_rows(results),
    ]
    if before is not None:
        lines += ["", f"Before ({label}), same run:", "", *header, *_summary_rows(before)]
    operations = results.get("operations")
    if operations:
        lines += [
            "",
            *_operations_table(operations),
        ]
    for name, r in results.items():
        if name == "operations":
            continue
        lines += [
            "",
            f"## {name}",
            "",
            "| function | WU/event | RU/event | calls/event | refused calls |",
            "|---|---:|---:|---:|---:|",
        ]
        for function, f in sorted(r["by_function"].items(), key=lambda kv: -kv[1]["wu"]):
            lines.append(
                f"| {function} | {f['wu'] / EVENTS:.2f} | {f['ru'] / EVENTS:.2f} "
                f"| {f['calls'] / EVENTS:.2f} | {f['failed']} |"
            )
        lines += ["", "| item written | WU/event |", "|---|---:|"]
        for kind, units in sorted(r["kinds"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| `{kind}` | {units / EVENTS:.2f} |")
        operations = sorted(r["processor_operations"].items(), key=lambda kv: -kv[1])
        lines += [
            "",
            "Processor calls per event by operation: " + ", ".join(f"{op} {n / EVENTS:.2f}" for op, n in operations),
            f"Busiest key measured: `{kind_of(r['busiest'], '')}` ({r['busiest_wu_per_event']:.3f} WU/event). "
            f"Ceiling on paper: `{r['ceiling_kind']}`, {r['ceiling_wu_per_event']:.3f} WU/event on each of its "
            f"{r['ceiling_partitions']} partitions seen. One participant's own ceiling: "
            f"{r['participant_events_per_second']:,.0f} events/s (`{r['owner_kind']}`).",
        ]
    return lines


def _operations_table(operations: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Money operations (over HTTP, every function they trigger)",
        "",
        "| operation | counted | WU | RU | WU by function | $ per million |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, r in operations.items():
        split = ", ".join(f"{f} {u:.1f}" for f, u in sorted(r["by_function"].items(), key=lambda kv: -kv[1]) if u)
        dollars = r["wu"] * PRICE_PER_MILLION_WRITE_UNITS + r["ru"] * PRICE_PER_MILLION_READ_UNITS
        lines.append(
            f"| {name} | {r.get('count', OPERATIONS)} | {r['wu']:.1f} | {r['ru']:.1f} | {split} | {dollars:.2f} |"
        )
    return lines


def _replace_operations(names: set[str]) -> list[str]:
    """Count only ``names`` again and put their rows into the results file's table, the rest kept."""
    fresh = measure(MEASURED / "template.yaml", operations_only=names)["operations"]
    text = RESULTS.read_text()
    start = text.index("## Money operations")
    end = text.find("\n## ", start + 1)
    end = len(text) if end == -1 else end + 1
    rows = {}
    for line in text[start:end].splitlines()[4:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 5:
            rows[cells[0]] = line
    table = _operations_table(fresh)
    for line in table[4:]:
        rows[line.strip("|").split("|")[0].strip()] = line
    lines = [*table[:4], *rows.values()]
    RESULTS.write_text(text[:start] + "\n".join(lines) + "\n" + ("\n" if end < len(text) else "") + text[end:])
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (for --before)")
    parser.add_argument("--before", type=Path, help="another checkout to measure in the same run")
    parser.add_argument("--label", default="the previous commit", help="what --before is")
    parser.add_argument(
        "--operations",
        nargs="+",
        metavar="NAME",
        help="count only these money operations (e.g. 'transfer to 100 recipients') and update their rows",
    )
    arguments = parser.parse_args()
    if arguments.operations:
        print("\n".join(_replace_operations(set(arguments.operations))))
        return 0
    results = measure(MEASURED / "template.yaml")
    if arguments.json:
        print(json.dumps(results, default=dict))
        return 0
    before = _before(arguments.before) if arguments.before else None
    lines = _report(results, before, arguments.label)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
