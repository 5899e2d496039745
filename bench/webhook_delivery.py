"""Webhook delivery through the local stack: notifications delivered per second, and where the time goes.

    make bench            # or: .venv/bin/python bench/webhook_delivery.py   (BENCH_CREDITS=300)

N balance credits (committed in-process, untimed) become N ``balance.credited`` notifications;
with one and then two subscribed endpoints (receivers on localhost, answering 200) the drain
is timed: stream → StreamDispatchFunction (emission: one delivery per endpoint; queueing: the
delivery's stream record to SQS) → WebhookDeliveryFunction (attempts: claim, sign, POST, record).
The rest of a drain is the emulator's stream and queue plumbing and the ledger totals consumer.

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

import requests  # noqa: E402

from scrip_local.stack import LocalStack  # noqa: E402

CREDITS = int(os.environ.get("BENCH_CREDITS", "300"))
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


def _run(stack: LocalStack, base_url: str, endpoints: int, credits: int, phases: Phases) -> dict[str, Any]:
    from scrip.domain.ledger import EntityType
    from scrip.domain.organizations import Caller
    from scrip.services import balances, participants
    from tests.api.webhook_receiver import receiver
    from tests.conftest import Api

    organization_id, key, _ = stack.bootstrap_organization(None, name=f"bench {endpoints} x {credits}")
    api = Api(base_url, key, organization_id, requests.Session())
    caller = Caller(organization_id, "bench")
    program = api.create_program(name=f"webhooks {endpoints}")
    asset = api.create_asset(program["id"], symbol=f"WH{endpoints}")
    people = [
        participants.upsert_participant(caller, external_id=f"member-{i}")[0].participant.id
        for i in range(PARTICIPANTS)
    ]
    with ExitStack() as hooks_stack:
        receivers = [hooks_stack.enter_context(receiver()) for _ in range(endpoints)]
        for hooks in receivers:
            created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["balance.credited"]})
            assert created.status_code == 201, created.text
        stack.drain()  # the set-up's own stream records
        started = time.perf_counter()
        for n in range(credits):
            balances.adjust(
                caller,
                balances.BalanceOwner(EntityType.PARTICIPANT, people[n % PARTICIPANTS]),
                program_id=program["id"],
                asset_id=asset["id"],
                type="CREDIT",
                amount=Decimal(n + 1),
                description="bench",
            )
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
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
