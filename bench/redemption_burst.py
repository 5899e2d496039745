"""The busiest partition during a burst of redemptions of one popular reward (issue 13).

    .venv/bin/python bench/redemption_burst.py      # also run by ``make bench``

Counted, not timed: ``scrip_local.metering.DynamoMeter`` records every DynamoDB call the
handlers make through the local stack (the same functions as in AWS) and the write units
DynamoDB would bill for each partition key, asynchronous functions (stream, totals) included.
Each scenario creates ``BENCH_BURST_PARTICIPANTS`` funded participants and one ``UNIT_BASED``
reward, then sends ``BENCH_BURST_REDEMPTIONS`` item redemptions of it, round-robin over the
participants (enrolled in the program beforehand), ``BENCH_BURST_THREADS`` at a time. Two scenarios: the reward capped
(``max_total``: one ``INVENTORY`` counter) and uncapped (counted on shards).

Reported: the write units on the hottest partition key, its share of all write units, its
units per redemption, and what that means against DynamoDB's per-partition ceiling of about
1,000 write units/s (transactional writes cost 2 units per KB, so about 500 transactional
writes/s): the redemptions/s of that one reward the hottest key allows.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import requests  # noqa: E402

from bench.event_cost import kind_of  # noqa: E402
from scrip_local.metering import DynamoMeter  # noqa: E402
from scrip_local.stack import LocalStack  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_BURST_PARTICIPANTS", "100"))
REDEMPTIONS = int(os.environ.get("BENCH_BURST_REDEMPTIONS", "500"))
THREADS = int(os.environ.get("BENCH_BURST_THREADS", "8"))
PARTITION_WRITE_UNITS_PER_SECOND = 1000
RESULTS = ROOT / "bench" / "results" / "redemption_burst.md"


def _participants(api: Any, program_id: str, asset_id: str, label: str) -> list[str]:
    people = []
    for i in range(PARTICIPANTS):
        # Enrolled up front: a first redemption would enroll them, a one-time write not of the burst.
        enrolled = {"external_id": f"burst-{label}-{i}", "program_id": program_id}
        created = api.post("/v1/participants", json=enrolled)
        assert created.status_code == 201, created.text
        people.append(created.json()["id"])
        credit = {"program_id": program_id, "asset_id": asset_id, "type": "CREDIT", "amount": "100000"}
        seeded = api.post(f"/v1/participants/{people[-1]}/balances/adjust", json={**credit, "description": "seed"})
        assert seeded.status_code == 200, seeded.text
    return people


def _scenario(stack: LocalStack, api: Any, meter: DynamoMeter, label: str, max_total: int | None) -> dict[str, Any]:
    program = api.create_program(name=f"burst {label}")
    asset = api.create_asset(program["id"], symbol=f"B{label[:6].upper()}", scale=0)
    people = _participants(api, program["id"], asset["id"], label)
    body: dict[str, Any] = {
        "name": f"Popular {label}",
        "redemption_type": "UNIT_BASED",
        "asset_id": asset["id"],
        "unit_cost": "1",
        "status": "ACTIVE",
    }
    if max_total is not None:
        body["max_total"] = max_total
    reward = api.post(f"/v1/programs/{program['id']}/rewards", json=body)
    assert reward.status_code == 201, reward.text
    stack.drain()
    meter.reset()

    def redeem(i: int) -> int:
        sent = {"program_id": program["id"], "reward_id": reward.json()["id"]}
        return int(api.post(f"/v1/participants/{people[i % PARTICIPANTS]}/redemptions/items", json=sent).status_code)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        codes = Counter(pool.map(redeem, range(REDEMPTIONS)))
    assert codes == {201: REDEMPTIONS}, codes
    stack.drain()
    partitions = meter.partitions()
    total = sum(partitions.values())
    ranked = partitions.most_common(5)
    hottest, hottest_units = ranked[0]
    per_redemption = hottest_units / REDEMPTIONS
    by_function: Counter[str] = Counter()
    for call in meter.select():
        by_function[call.function] += call.partitions.get(hottest, 0)
    return {
        "total_wu": total,
        "wu_per_redemption": total / REDEMPTIONS,
        "hottest": kind_of(hottest, ""),
        "hottest_share": hottest_units / total,
        "hottest_wu_per_redemption": per_redemption,
        "redemptions_per_second": PARTITION_WRITE_UNITS_PER_SECOND / per_redemption,
        "hottest_by_function": {f: u for f, u in by_function.items() if u},
        "top": [(kind_of(pk, ""), units / REDEMPTIONS, units / total) for pk, units in ranked],
    }


def measure() -> dict[str, dict[str, Any]]:
    os.environ["SCRIP_EVENT_RETRY_BASE_SECONDS"] = "0"
    stack = LocalStack(ROOT / "template.yaml", aws_port=None)
    server = stack.serve("127.0.0.1", 0, background_delivery=False)
    organization_id, key, _ = stack.bootstrap_organization(None)
    from tests.conftest import Api

    api = Api(f"http://127.0.0.1:{server.port}", key, organization_id, requests.Session())
    results: dict[str, dict[str, Any]] = {}
    with DynamoMeter() as meter:
        results[f"capped (max_total {2 * REDEMPTIONS})"] = _scenario(stack, api, meter, "capped", 2 * REDEMPTIONS)
        results["uncapped"] = _scenario(stack, api, meter, "uncapped", None)
    stack.stop()
    return results


def report(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "# The busiest partition during a burst of redemptions of one reward",
        "",
        f"Counted by `scrip_local.metering.DynamoMeter`: {REDEMPTIONS} item redemptions (quantity 1) of one "
        f"`UNIT_BASED` reward by {PARTICIPANTS} participants (round-robin, {THREADS} at a time, over HTTP), every "
        "function they trigger included (stream, ledger totals). Write units: 1 per KB of the larger image, x2 in "
        "a transaction. Reward redemptions/s on paper: 1,000 WU/s (DynamoDB's per-partition write ceiling; "
        "transactional writes cost 2 units each, so that is ~500 transactional writes/s) divided by the hottest "
        "key's write units per redemption.",
        "",
        "| reward | WU/redemption | hottest partition key | its share of WU | its WU/redemption "
        "| redemptions/s of this reward on paper |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['wu_per_redemption']:.1f} | `{r['hottest']}` | {r['hottest_share']:.1%} "
            f"| {r['hottest_wu_per_redemption']:.2f} | {r['redemptions_per_second']:,.0f} |"
        )
    for name, r in results.items():
        lines += ["", f"## {name}: the five hottest keys", ""]
        lines += ["| partition key | WU/redemption | share |", "|---|---:|---:|"]
        lines += [f"| `{kind}` | {per:.2f} | {share:.1%} |" for kind, per, share in r["top"]]
        split = ", ".join(f"{f} {u / REDEMPTIONS:.2f}" for f, u in sorted(r["hottest_by_function"].items()))
        lines.append("")
        lines.append(f"Hottest key's write units per redemption by function: {split}.")
    return lines


def main() -> int:
    lines = report(measure())
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
