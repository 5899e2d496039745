"""Per-request time of the local stack with 100 and with 50,000 items stored.

The local stack must not slow down as data grows (moto's own transactions copy every table
they touch, and its queries walk the whole table). One run measures both sizes in the same
process, on the same machine, so the ratio is meaningful even on a noisy host:

    make bench                       # or: python bench/local_stack_scaling.py --items 50000

Requests go over HTTP to the served stack; the table is grown through the service layer
(the same writes the API makes), mostly by other organizations and partly by the measured
one, so its own list partitions grow too.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local")]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from scrip_local.stack import LocalStack  # noqa: E402


def _item_count() -> int:
    from scrip.storage import table

    return int(table.client().describe_table(TableName=table.table_name())["Table"]["ItemCount"])


def _grow(stack: LocalStack, target: int, own_organization: str) -> None:
    """Add programs until the table holds ``target`` items (3 items per program)."""
    from scrip.domain.organizations import Caller
    from scrip.services import programs

    organizations = [stack.bootstrap_organization(None, name=f"filler {i}")[0] for i in range(20)]
    count = _item_count()
    i = 0
    while count < target:
        owner = own_organization if i % 5 == 0 else organizations[i % len(organizations)]
        programs.create_program(Caller(owner, "bench"), name=f"filler program {i}")
        i += 1
        count += 3
        if i % 2000 == 0:
            print(f"  ... {count} items", file=sys.stderr, flush=True)


def _measure(name: str, call: Callable[[int], requests.Response], repeat: int) -> float:
    durations = []
    for n in range(repeat):
        started = time.perf_counter()
        response = call(n)
        durations.append(time.perf_counter() - started)
        assert response.status_code < 300, (name, response.status_code, response.text)
    return statistics.median(durations) * 1000


def run(stack: LocalStack, base: str, key: str, repeat: int) -> dict[str, float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    program = session.post(f"{base}/v1/programs", json={"name": "bench"}).json()
    asset = session.post(
        f"{base}/v1/assets",
        json={
            "program_id": program["id"],
            "name": "Beans",
            "symbol": f"B{time.time_ns() % 10**9}",
            "inventory_mode": "SIMPLE",
            "issuance_policy": "UNLIMITED",
            "scale": 0,
        },
    ).json()
    stamp = time.time_ns()
    operations: dict[str, Callable[[int], requests.Response]] = {
        "POST /v1/programs": lambda n: session.post(f"{base}/v1/programs", json={"name": f"p{n}"}),
        "GET /v1/programs/{id}": lambda n: session.get(f"{base}/v1/programs/{program['id']}"),
        "PATCH /v1/programs/{id}": lambda n: session.patch(
            f"{base}/v1/programs/{program['id']}", json={"name": f"renamed {n}"}
        ),
        "GET /v1/programs?limit=50": lambda n: session.get(f"{base}/v1/programs?limit=50"),
        "GET /v1/programs?sort_by=name": lambda n: session.get(f"{base}/v1/programs?sort_by=name&limit=50"),
        "POST /v1/assets": lambda n: session.post(
            f"{base}/v1/assets",
            json={
                "program_id": program["id"],
                "name": "a",
                "symbol": f"S{stamp % 10**6}x{n}",
                "inventory_mode": "SIMPLE",
                "issuance_policy": "UNLIMITED",
                "scale": 0,
            },
        ),
        "GET /v1/assets/{id}": lambda n: session.get(f"{base}/v1/assets/{asset['id']}"),
    }
    for call in operations.values():  # warm every function's container once
        call(10**6)
    return {name: _measure(name, call, repeat) for name, call in operations.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "local_stack_scaling.md"))
    arguments = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' EMF metric lines
    stack = LocalStack(aws_port=None)
    organization_id, key, _ = stack.bootstrap_organization(None)
    server = stack.serve("127.0.0.1", 0, background_delivery=False)
    base = f"http://127.0.0.1:{server.port}"

    _grow(stack, arguments.small, organization_id)
    small_count = _item_count()
    small = run(stack, base, key, arguments.repeat)
    started = time.perf_counter()
    _grow(stack, arguments.items, organization_id)
    grow_seconds = time.perf_counter() - started
    large_count = _item_count()
    large = run(stack, base, key, arguments.repeat)
    stack.stop()

    lines = [
        "# Local stack: per-request time as the table grows",
        "",
        f"Median of {arguments.repeat} HTTP requests per operation, measured in one run on one machine "
        f"({os.cpu_count()} cores). Items stored: {small_count} then {large_count} "
        f"(grown through the service layer in {grow_seconds:.0f} s).",
        "",
        f"| operation | {small_count} items (ms) | {large_count} items (ms) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name in small:
        lines.append(f"| {name} | {small[name]:.2f} | {large[name]:.2f} | {large[name] / small[name]:.2f} |")
    worst = max(large[name] / small[name] for name in small)
    lines += ["", f"Worst ratio: {worst:.2f} (the bound is 2.0)."]
    text = "\n".join(lines) + "\n"
    Path(arguments.output).write_text(text)
    sys.stdout = report
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
