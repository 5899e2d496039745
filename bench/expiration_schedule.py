"""The expiration schedule (04 §8.10): the time of ``services.expiration_schedule`` with 1,000
and with a larger number of outstanding lots in the expiry index, as a ratio in one run (goal:
at most 2), its DynamoDB read calls per request, and the write units a lot change costs the
stream consumer.

    .venv/bin/python bench/expiration_schedule.py                                  # 1,000 and 50,000
    BENCH_EXPIRING_LOTS=5000 .venv/bin/python bench/expiration_schedule.py         # a quicker look

Each organization has two LOT assets and two programs (created with the storage functions, so
the service reads their items); its lots (two assets × two programs, 1 in 20 never expiring, the
others expiring at a random instant of the next 365 days) are built as ``storage.lots.put``
writes their items and given to the stream consumer's ``services.expiring_lots.apply_changes``
as INSERT records in batches of 100, not through the API. Four requests are timed (month
buckets over a year and day buckets over 60 days, for one asset and for the organization): one
call each first, then the median of the next calls, the two organizations' calls alternating.
The large organization is timed on the way too, at a fifth of its lots: the index's day rows
are bounded by assets × programs × days × 8 shards, which a fifth of 50,000 lots half fills; a
request reads every month row but the day rows of the months that need days only.
Read calls and write units are counted with ``scrip_local.metering.DynamoMeter``; the write units
on a third organization (inserts, then partial spends, then lots consumed).

Figures are from the embedded emulator on a shared machine: read them as ratios within one run.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local"), str(ROOT)]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench import fanout_runs  # noqa: E402

SMALL = 1_000
LARGE = int(os.environ.get("BENCH_EXPIRING_LOTS", "50000"))
MIDDLE = LARGE // 5  # the large organization is timed on the way too
NEVER_EVERY = 20  # one lot in 20 never expires
HORIZON = timedelta(days=365)
PARTICIPANTS = 500
BATCH = 100  # records per stream batch
TIMED_CALLS = 7
METERED_LOTS = 200
RESULTS = ROOT / "bench" / "results" / "expiration_schedule.md"


def _setup(org: str, now: datetime) -> tuple[list[str], list[str]]:
    """Two programs and two LOT assets of ``org`` (program ids, asset ids)."""
    programs = [str(uuid.uuid4()) for _ in range(2)]
    assets = [str(uuid.uuid4()) for _ in range(2)]
    fanout_runs.name_programs_and_assets(org, programs, assets, now, lots=True)
    return programs, assets


def _lot_images(org: str, count: int, programs: list[str], assets: list[str], now: datetime) -> list[dict[str, Any]]:
    """``count`` AVAILABLE lots' items as ``storage.lots.put`` writes them."""
    from scrip.domain.ledger import participant_account
    from scrip.domain.lots import Lot, LotOrigin, LotStatus
    from scrip.storage import lots as lot_store

    draw = random.Random(count)
    people = [participant_account(str(uuid.uuid4())) for _ in range(PARTICIPANTS)]
    images = []
    for index in range(count):
        amount = Decimal(draw.randint(1, 100))
        never = index % NEVER_EVERY == NEVER_EVERY - 1
        lot = Lot(
            id=str(uuid.uuid4()),
            asset_id=assets[index % 2],
            amount=amount,
            remaining=amount,
            status=LotStatus.AVAILABLE,
            created_at=now,
            expires_at=None if never else now + HORIZON * draw.random(),
            matures_at=None,
            reference_id=None,
            origin=LotOrigin.CREDIT,
            program_id=programs[(index // 2) % 2],
        )
        images.append(lot_store.put(org, people[index % PARTICIPANTS], lot)[0].params["Item"])
    return images


def _apply(changes: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
    """The stream consumer over (old, new) images, in batches of ``BATCH`` records."""
    from scrip.services.expiring_lots import LotChange, apply_changes

    records = [LotChange(str(uuid.uuid4()), old, new) for old, new in changes]
    for start in range(0, len(records), BATCH):
        apply_changes(records[start : start + BATCH])


def _calls(org: str, asset: str, now: datetime) -> dict[str, Callable[[], Any]]:
    from scrip.domain.expiration_schedule import Granularity
    from scrip.domain.organizations import Caller
    from scrip.services.expiration_schedule import expiration_schedule
    from scrip.services.reports import Period

    caller = Caller(org, "bench")
    year = Period(now, now + timedelta(days=365))
    sixty = Period(now, now + timedelta(days=60))

    def call(period: Period, granularity: Granularity, asset_id: str | None) -> Callable[[], Any]:
        return lambda: expiration_schedule(
            caller,
            period=period,
            granularity=granularity,
            asset_id=asset_id,
            program_id=None,
            limit=50,
            cursor=None,
        )

    return {
        "month × 1 year, organization": call(year, Granularity.MONTH, None),
        "month × 1 year, one asset": call(year, Granularity.MONTH, asset),
        "day × 60 days, organization": call(sixty, Granularity.DAY, None),
        "day × 60 days, one asset": call(sixty, Granularity.DAY, asset),
    }


def _reads(call: Callable[[], Any]) -> tuple[int, float]:
    """(DynamoDB read calls, read units) of one call."""
    from scrip_local.metering import DynamoMeter

    with DynamoMeter() as meter:
        call()
    reads = [c for c in meter.calls if c.operation in ("GetItem", "BatchGetItem", "Query", "Scan")]
    return len(reads), sum(c.read_units for c in reads)


def _index_size(org: str, now: datetime) -> tuple[int, int, int]:
    """(month-row items over the shards, day-row items over the shards, lines of the year
    window's two edge days)."""
    from scrip.domain.expiration_schedule import edge_days
    from scrip.storage import expiring_lots as store
    from scrip.storage import keys, listing

    months = sum(len(listing.query_all(keys.expiry_months(org, shard))) for shard in range(store.DAY_SHARDS))
    days = sum(len(listing.query_all(keys.expiry_days(org, shard))) for shard in range(store.DAY_SHARDS))
    lines = sum(len(store.lots_expiring_on(org, day)) for day in edge_days(now, now + timedelta(days=365)))
    return months, days, lines


def _write_units(stack: Any, now: datetime) -> dict[str, float]:
    """Write units per lot change, on an organization of its own: inserts (with and without an
    expiry), then partial spends, then lots consumed (which empties some rows)."""
    from scrip.domain.lots import LotStatus
    from scrip_local.metering import DynamoMeter

    org, _, _ = stack.bootstrap_organization(None)
    programs, assets = _setup(org, now)
    created = _lot_images(org, METERED_LOTS, programs, assets, now)
    expiring = [image for image in created if "expires_at" in image]
    spent = [{**image, "remaining": image["remaining"] - 1} for image in expiring[: METERED_LOTS // 4]]
    consumed = [
        {**image, "remaining": Decimal(0), "status": LotStatus.CONSUMED.value}
        for image in expiring[METERED_LOTS // 4 : METERED_LOTS // 2]
    ]
    phases: list[tuple[str, list[tuple[dict[str, Any] | None, dict[str, Any]]]]] = [
        ("insert, with an expiry", [(None, image) for image in expiring]),
        ("insert, never expiring", [(None, image) for image in created if "expires_at" not in image]),
        ("partial spend", list(zip(expiring[: METERED_LOTS // 4], spent, strict=True))),
        ("consumed", list(zip(expiring[METERED_LOTS // 4 : METERED_LOTS // 2], consumed, strict=True))),
    ]
    units: dict[str, float] = {}
    for name, changes in phases:
        with DynamoMeter() as meter:
            _apply(changes)
        written = sum(unit for call in meter.calls for pk, _, unit in call.written_keys if f"#{org}#" in pk)
        units[f"{name} ({len(changes)})"] = written / len(changes)
    return units


def _medians(calls: dict[str, dict[str, Callable[[], Any]]]) -> dict[str, dict[str, float]]:
    """Per organization and request, the median of ``TIMED_CALLS`` calls after a first one, the
    organizations' calls alternating so that the machine's load weighs on them alike."""
    times: dict[str, dict[str, list[float]]] = {label: {name: [] for name in named} for label, named in calls.items()}
    for name in calls["small"]:
        for named in calls.values():
            named[name]()  # one call first
        for _ in range(TIMED_CALLS):
            for label, named in calls.items():
                started = time.perf_counter()
                named[name]()
                times[label][name].append(time.perf_counter() - started)
    return {label: {name: statistics.median(found) for name, found in named.items()} for label, named in times.items()}


def _explanation(
    sizes: dict[str, tuple[int, int, int]],
    medians: dict[str, dict[str, float]],
    reads: dict[str, dict[str, tuple[int, float]]],
    worst: float,
) -> list[str]:
    """The paragraph under the figures."""
    name = "month × 1 year, organization"
    sixty = "day × 60 days, organization"
    bound = 2 * 2 * (HORIZON.days + 2) * 8  # assets × programs × (366 expiry days + NEVER) × shards
    return [
        "A request reads every month row of the organization (8 Queries: at most assets × programs ×",
        "(13 expiry months + NEVER) × 8 shards items), the day rows of the months that need days only",
        "(8 Queries per range: at month granularity the months of `from` and `to`, at day granularity",
        "every month from one to the other) and the lines of the window's 2 edge days (8 Queries each).",
        f"At {LARGE:,} lots the index holds {sizes['large'][0]:,} month-row items and {sizes['large'][1]:,}"
        f" day-row items (bound {bound:,});",
        f"the yearly organization request makes {reads['large'][name][0]} read calls for"
        f" {reads['large'][name][1]:.0f} read units, the 60-day one {reads['large'][sixty][0]} for"
        f" {reads['large'][sixty][1]:.0f}",
        "(before the month rows: 25 calls, 809 and 817 read units, every day row read whatever the window).",
        f"From {MIDDLE:,} to {LARGE:,} lots (×{LARGE / MIDDLE:g}) the yearly request takes"
        f" ×{medians['large'][name] / medians['middle'][name]:.2f}.",
        f"The worst ratio to {SMALL:,} lots is {worst:.2f}: {SMALL:,} lots over a year leave most rows absent,",
        "so the ratio measures how full the rows are, bounded by months, days, assets, programs and shards.",
        "Write units match the design (7 per change with an expiry, 4 without, +1 per row a lot leaves empty).",
    ]


def main() -> int:
    stack, report = fanout_runs.open_stack()
    from scrip.domain import clock

    # The large organization is measured twice: at MIDDLE lots, then with the rest added, each
    # time with the small one's calls alternating with its own.
    counts = {"small": SMALL, "middle": MIDDLE, "large": LARGE}
    orgs: dict[str, tuple[str, str]] = {}
    images: dict[str, list[dict[str, Any]]] = {}
    loaded: dict[str, float] = {}
    for label in ("small", "large"):
        org, _, _ = stack.bootstrap_organization(None)
        now = clock.now()
        programs, assets = _setup(org, now)
        images[label] = _lot_images(org, counts[label], programs, assets, now)
        orgs[label] = (org, assets[0])
    medians: dict[str, dict[str, float]] = {}
    reads: dict[str, dict[str, tuple[int, float]]] = {}
    sizes: dict[str, tuple[int, int, int]] = {}
    for stage, (label, first, last) in {
        "small": ("small", 0, SMALL),
        "middle": ("large", 0, MIDDLE),
        "large": ("large", MIDDLE, LARGE),
    }.items():
        started = time.perf_counter()
        _apply([(None, image) for image in images[label][first:last]])
        # The large organization's load time counts its first MIDDLE lots too.
        loaded[stage] = time.perf_counter() - started + (loaded["middle"] if stage == "large" else 0.0)
        print(stage, counts[stage], "loaded", round(loaded[stage], 1), file=report, flush=True)
        if stage == "small":
            continue
        now = clock.now()
        calls = {name: _calls(org, asset, now) for name, (org, asset) in orgs.items()}
        for name, count in (("small", SMALL), ("large", counts[stage])):
            answer = calls[name]["month × 1 year, organization"]()
            total = sum((image["remaining"] for image in images[name][:count]), Decimal(0))
            assert sum(line.schedule.total_outstanding for line in answer.items) == total
        round_medians = _medians(calls)
        medians[f"small at {stage}"], medians[stage] = round_medians["small"], round_medians["large"]
        reads[stage] = {name: _reads(call) for name, call in calls["large"].items()}
        sizes[stage] = _index_size(orgs["large"][0], now)
        if stage == "middle":
            reads["small"] = {name: _reads(call) for name, call in calls["small"].items()}
            sizes["small"] = _index_size(orgs["small"][0], now)
        print(stage, medians, reads, sizes, file=report, flush=True)
    units = _write_units(stack, clock.now())

    lines = [
        "# Expiration schedule: `services.expiration_schedule` as the expiry index grows",
        "",
        "Outstanding lots written to the index by the stream consumer (`apply_changes`, INSERT",
        f"records in batches of {BATCH}): two LOT assets × two programs, 1 in {NEVER_EVERY} never",
        "expiring, the others at a random instant of the next 365 days. Median of",
        f"{TIMED_CALLS} calls after the first, in seconds. The large organization is timed at",
        f"{MIDDLE:,} lots and again at {LARGE:,}, each time alternating with the {SMALL:,}-lot one",
        f"(its column: the second time); each ratio is against the {SMALL:,}-lot figure of the same round.",
        "",
        f"| request | {SMALL:,} lots | {MIDDLE:,} lots | {LARGE:,} lots | ratio {MIDDLE:,} | **ratio {LARGE:,}** |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for name, small in medians["small at large"].items():
        middle, large = medians["middle"][name], medians["large"][name]
        middle_ratio = middle / medians["small at middle"][name]
        worst = max(worst, large / small)
        lines.append(
            f"| {name} | {small:.3f} | {middle:.3f} | {large:.3f} | {middle_ratio:.2f} | **{large / small:.2f}** |"
        )
    lines += [
        "",
        f"**Worst ratio {LARGE:,} / {SMALL:,}: {worst:.2f}** (goal ≤ 2).",
        "",
        *_explanation(sizes, medians, reads, worst),
        "",
        "DynamoDB reads of one request (read calls / read units, strongly consistent Queries):",
        "",
        f"| request | {SMALL:,} lots | {MIDDLE:,} lots | {LARGE:,} lots |",
        "|---|---:|---:|---:|",
    ]
    for name in medians["large"]:
        cells = " | ".join(f"{reads[stage][name][0]} / {reads[stage][name][1]:.0f}" for stage in counts)
        lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        "| lots | load (s) | month-row items (8 shards) | day-row items (8 shards) | lines of the 2 edge days |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {counts[stage]:,} | {loaded[stage]:.1f} | {sizes[stage][0]:,} | {sizes[stage][1]:,}"
            f" | {sizes[stage][2]} |"
            for stage in counts
        ),
        "",
        "## Write units per lot change (stream consumer, index items only)",
        "",
        *(f"* {name}: {value:.2f}" for name, value in units.items()),
    ]
    fanout_runs.write_results(RESULTS, lines, report)
    stack.stop()
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
