"""Webhook delivery through the local stack: notifications delivered per second, and where the time goes.

    make bench            # or: .venv/bin/python bench/webhook_delivery.py   (BENCH_CREDITS=300)

N balance credits (committed in-process, untimed) become N ``balance.credited`` notifications;
with one and then two subscribed endpoints (receivers on localhost, answering 200) the drain
is timed: stream → StreamDispatchFunction (emission: one delivery per endpoint; queueing: the
delivery's stream record to SQS) → WebhookDeliveryFunction (attempts: claim, sign, POST, record).
The rest of a drain is the emulator's stream and queue plumbing and the ledger totals consumer.

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
What a delivery costs in DynamoDB is counted, not timed (``scrip_local.metering.DynamoMeter``,
``BENCH_COUNTED`` credits to one endpoint, then to an organization without endpoints): write
and read units per delivery by item, each endpoint key's share, the deliveries/s one endpoint
sustains on paper before a key of it reaches 1,000 WU/s.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import requests  # noqa: E402

from scrip_local.stack import LocalStack  # noqa: E402

CREDITS = int(os.environ.get("BENCH_CREDITS", "300"))
COUNTED = int(os.environ.get("BENCH_COUNTED", "200"))
PARTITION_WRITE_UNITS_PER_SECOND = 1000
PARTICIPANTS = 50
RESULTS = ROOT / "bench" / "results" / "webhook_delivery.md"
ORDER = (1, 2, 2, 1)
PHASES = ("emission", "queueing", "attempts", "of which HTTP POST", "of which delivery writes")


class Phases:
    """Wall time spent inside wrapped functions, by phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started

        return timed


def _instrument(phases: Phases) -> None:
    from scrip.outbound import http
    from scrip.services import webhook_delivery, webhook_emission
    from scrip.storage import webhooks as webhook_store

    # Module attributes: the handlers call them through their modules, so the wrappers are seen.
    webhook_emission.notifications_for = phases.wrap("emission", webhook_emission.notifications_for)  # type: ignore[assignment]
    webhook_emission.emit = phases.wrap("emission", webhook_emission.emit)  # type: ignore[assignment]
    webhook_delivery.queue_pending = phases.wrap("queueing", webhook_delivery.queue_pending)  # type: ignore[assignment]
    webhook_delivery.attempt = phases.wrap("attempts", webhook_delivery.attempt)  # type: ignore[assignment]
    http.post = phases.wrap("of which HTTP POST", http.post)  # type: ignore[assignment]
    webhook_store.save_delivery = phases.wrap("of which delivery writes", webhook_store.save_delivery)  # type: ignore[assignment]


@contextmanager
def _subscribed(
    stack: LocalStack, base_url: str, label: str, symbol: str, endpoints: int
) -> Iterator[tuple[Callable[[int], None], list[Any]]]:
    """An organization whose ``endpoints`` receivers subscribe to ``balance.credited``, its set-up
    drained; yields a function that credits its participants ``n`` times, and the receivers."""
    from scrip.domain.ledger import EntityType
    from scrip.domain.organizations import Caller
    from scrip.services import balances, participants
    from tests.api.webhook_receiver import receiver
    from tests.conftest import Api

    organization_id, key, _ = stack.bootstrap_organization(None, name=label)
    api = Api(base_url, key, organization_id, requests.Session())
    caller = Caller(organization_id, "bench")
    program = api.create_program(name=label)
    asset = api.create_asset(program["id"], symbol=f"{symbol}{endpoints}")
    people = [
        participants.upsert_participant(caller, external_id=f"member-{i}")[0].participant.id
        for i in range(PARTICIPANTS)
    ]

    def credit(times: int) -> None:
        for n in range(times):
            balances.adjust(
                caller,
                balances.BalanceOwner(EntityType.PARTICIPANT, people[n % PARTICIPANTS]),
                program_id=program["id"],
                asset_id=asset["id"],
                type="CREDIT",
                amount=Decimal(n + 1),
                description="bench",
            )

    with ExitStack() as hooks_stack:
        receivers = [hooks_stack.enter_context(receiver()) for _ in range(endpoints)]
        for hooks in receivers:
            created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["balance.credited"]})
            assert created.status_code == 201, created.text
        stack.drain()  # the set-up's own stream records
        yield credit, receivers


def _run(stack: LocalStack, base_url: str, endpoints: int, credits: int, phases: Phases) -> dict[str, Any]:

    with _subscribed(stack, base_url, f"bench {endpoints} x {credits}", "WH", endpoints) as (credit, receivers):
        started = time.perf_counter()
        credit(credits)
        committed = time.perf_counter() - started
        phases.seconds.clear()
        started = time.perf_counter()
        stack.drain()
        drained = time.perf_counter() - started
        received = [len(h.received) for h in receivers]
    assert received == [credits] * endpoints, f"expected {credits} per endpoint, received {received}"
    return {
        "deliveries": credits * endpoints,
        "committed": committed,
        "drain": drained,
        "phases": dict(phases.seconds),
    }


def _count(stack: LocalStack, base_url: str, endpoints: int, credits: int) -> dict[str, Any]:
    """The DynamoDB calls of the drain that delivers ``credits`` notifications to ``endpoints`` endpoints."""
    from bench.event_cost import kind_of
    from scrip.storage import webhooks as webhook_store
    from scrip_local.metering import DynamoMeter

    with _subscribed(stack, base_url, f"counted {endpoints}", "WC", endpoints) as (credit, _):
        credit(credits)
        with DynamoMeter() as meter:
            stack.drain()
    calls = [c for c in meter.select() if c.function in ("StreamDispatchFunction", "WebhookDeliveryFunction")]
    kinds: dict[str, float] = defaultdict(float)
    endpoint_kinds: dict[str, float] = defaultdict(float)
    busiest: dict[str, float] = defaultdict(float)
    for call in calls:
        for pk, sk, units in call.written_keys:
            kinds[f"{call.function}: {kind_of(pk, sk)}"] += units
            if "#WEBHOOKENDPOINT#" in pk:
                endpoint_kinds[pk.split("#")[-2]] += units
                busiest[pk] += units
    shards = {
        "DELIVERIES": webhook_store.DELIVERY_SHARDS,
        "PENDING": webhook_store.PENDING_SHARDS,
        "STATS": webhook_store.STATS_SHARDS,
    }
    per = max(credits * endpoints, 1)
    return {
        "per": per,
        "by_function": {
            f: (
                sum(c.write_units for c in calls if c.function == f) / per,
                sum(c.read_units for c in calls if c.function == f) / per,
                sum(1 for c in calls if c.function == f) / per,
            )
            for f in sorted({c.function for c in calls})
        },
        "wu": sum(c.write_units for c in calls) / per,
        "ru": sum(c.read_units for c in calls) / per,
        "kinds": {k: v / per for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "paper": {k: endpoint_kinds[k] / per / n for k, n in shards.items() if k in endpoint_kinds},
        "shards": shards,
        "busiest": max(busiest.values(), default=0.0) / per,
        "dispatcher_ru_per_notification": sum(c.read_units for c in calls if c.function == "StreamDispatchFunction")
        / credits,
        "dispatcher_operations": dict(
            Counter(c.operation for c in calls if c.function == "StreamDispatchFunction").most_common()
        ),
        "batches": len({c.invocation for c in calls if c.function == "StreamDispatchFunction"}),
    }


def _pooled() -> dict[str, Any]:
    return {"deliveries": 0, "credits": 0, "committed": 0.0, "drain": 0.0, "phases": defaultdict(float)}


def _add(pooled: dict[str, Any], run: dict[str, Any]) -> None:
    pooled["deliveries"] += run["deliveries"]
    pooled["credits"] += CREDITS
    pooled["committed"] += run["committed"]
    pooled["drain"] += run["drain"]
    for phase, seconds in run["phases"].items():
        pooled["phases"][phase] += seconds


def main() -> int:
    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' EMF metric lines
    stack = LocalStack(aws_port=None)
    server = stack.serve("127.0.0.1", 0, background_delivery=False)
    base_url = f"http://127.0.0.1:{server.port}"
    phases = Phases()
    _instrument(phases)
    _run(stack, base_url, 1, 10, phases)  # warm-up: every function's first (cold) invocation
    # A run is slower the later it comes (the emulator's state grows): ABBA order, pooled, cancels the drift.
    runs = {1: _pooled(), 2: _pooled()}
    for endpoints in ORDER:
        _add(runs[endpoints], _run(stack, base_url, endpoints, CREDITS, phases))
    counted = _count(stack, base_url, 1, COUNTED)
    silent = _count(stack, base_url, 0, COUNTED)
    stack.stop()

    one, two = runs[1], runs[2]
    rate = {n: r["deliveries"] / r["drain"] for n, r in runs.items()}
    lines = [
        "# Webhook delivery",
        "",
        f"{CREDITS} balance credits over {PARTICIPANTS} participants (committed in-process before the timing) become "
        f"{CREDITS} `balance.credited` notifications, delivered to 1 or 2 subscribed endpoints (receivers on "
        "localhost answering 200) through stream → StreamDispatchFunction → SQS → WebhookDeliveryFunction in the "
        "embedded emulator; `drain()` is timed. Runs in the order "
        f"{', '.join(map(str, ORDER))} endpoints (a fresh organization each, after a warm-up that takes the cold "
        "starts), pooled per endpoint count: a later run is slower, and this order cancels that drift.",
        "",
        "| endpoints | notifications | deliveries | drain s | deliveries/s | notifications/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in runs.items():
        lines.append(
            f"| {n} | {r['credits']} | {r['deliveries']} | {r['drain']:.1f} | {rate[n]:.1f} "
            f"| {r['credits'] / r['drain']:.1f} |",
        )
    lines += [
        "",
        f"2 endpoints take {two['drain'] / one['drain']:.2f}x the drain time of 1 "
        f"(deliveries/s at 2 endpoints: {rate[2] / rate[1]:.2f}x the rate at 1). "
        f"Credits committed at {one['credits'] / one['committed']:.0f}/s (in-process, not in the drains).",
        "",
        "Time per delivery, and share of the drain:",
        "",
        "| phase | 1 endpoint ms | share | 2 endpoints ms | share |",
        "|---|---:|---:|---:|---:|",
    ]
    for phase in (*PHASES, "other (stream/queue plumbing, ledger totals)"):
        cells = []
        for r in (one, two):
            timed = r["phases"]
            if phase.startswith("other"):
                seconds = r["drain"] - sum(timed.get(p, 0.0) for p in ("emission", "queueing", "attempts"))
            else:
                seconds = timed.get(phase, 0.0)
            cells.append(f"{seconds / r['deliveries'] * 1000:.1f} | {seconds / r['drain']:.0%}")
        lines.append(f"| {phase} | {' | '.join(cells)} |")
    lines += [
        "",
        "Emission is the dispatcher's work per journal entry (derive the notification, read the endpoints, "
        "create one delivery per endpoint); queueing sends each PENDING delivery's stream record to SQS; an attempt "
        "reads the delivery and endpoint, claims it, signs, POSTs and records the outcome (the two delivery writes "
        "are the claim and the result).",
        "",
        "## What a delivery costs in DynamoDB (counted)",
        "",
        f"{COUNTED} credits to 1 endpoint, one drain under `DynamoMeter` (write units: 1 per KB of the larger "
        "image, x2 in a transaction). Before P8 a delivery cost 25 WU (its item, about 1.2 KB, written six "
        "times; its list and pending lines twice each) and the dispatcher read 3 RU per notification with no "
        "endpoint at all.",
        "",
        f"**{counted['wu']:.2f} WU and {counted['ru']:.2f} RU per delivery.**",
        "",
        "| function | WU/delivery | RU/delivery | calls/delivery |",
        "|---|---:|---:|---:|",
        *(f"| {f} | {wu:.2f} | {ru:.2f} | {n:.2f} |" for f, (wu, ru, n) in counted["by_function"].items()),
        "",
        "| item written | WU/delivery |",
        "|---|---:|",
        *(f"| `{k}` | {v:.2f} |" for k, v in counted["kinds"].items()),
        "",
        "Each key of the endpoint, on paper (the kind's units spread over its shard partitions):",
        "",
        "| key | shards | WU/delivery on each | deliveries/s before 1,000 WU/s |",
        "|---|---:|---:|---:|",
        *(
            f"| `…#{k}#<n>` | {counted['shards'][k]} | {v:.3f} | {PARTITION_WRITE_UNITS_PER_SECOND / v:,.0f} |"
            for k, v in counted["paper"].items()
        ),
        "",
        f"Measured over {COUNTED} deliveries the busiest single endpoint key took {counted['busiest']:.3f} WU per "
        "delivery (shards are hit unevenly over a small sample; ids are random, so evenly in the long run).",
        "",
        f"Without an endpoint, the dispatcher read {silent['dispatcher_ru_per_notification']:.3f} RU per credit "
        f"({', '.join(f'{op} {n}' for op, n in silent['dispatcher_operations'].items())} in "
        f"{silent['batches']} stream batches): the organization's endpoint list once per batch, nothing else.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
