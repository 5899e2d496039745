"""What the fan-out benches share: the embedded emulator and a program to run in, enrolling
participants in bulk, automations written straight to the table, timing and counting three jobs
of one kind (a warm-up, a timed one, a counted one) through the emulator's stream, and the
report's tables.

bench/fanout.py (BROADCAST), bench/tier_period_end.py (TIER_PERIOD_END),
bench/automation_fanout.py and bench/subscriptions.py (AUTOMATION runs and refreshes) measure
the same way, so their figures compare: ``drain()`` of the timed job is timed, the counted job's
StreamDispatchFunction calls go through ``scrip_local.metering.DynamoMeter``.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


def open_stack() -> tuple[Any, TextIO]:
    """The embedded emulator, serving; stdout is silenced (the functions' EMF metric lines) and
    the real one returned for ``write_results``."""
    from scrip_local.stack import LocalStack

    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed with the process
    stack = LocalStack(aws_port=None)
    stack.serve("127.0.0.1", 0, background_delivery=False)
    return stack, report


def bench_program(stack: Any, name: str) -> tuple[str, str]:
    """A new organization and program (org id, program id). The generated events' queueing is
    stubbed: their processing is bench/event_processing.py's subject, not a fan-out's."""
    from scrip.domain.organizations import Caller
    from scrip.services import follow_ups
    from scrip.services import programs as program_service

    follow_ups.dispatch = lambda images: 0
    org, _, _ = stack.bootstrap_organization(None)
    return org, program_service.create_program(Caller(org, "bench"), name=name).id


def name_programs_and_assets(
    org: str, programs: Sequence[str], assets: Sequence[str], now: Any, *, lots: bool = False
) -> None:
    """Program and asset items under the given ids (a bench writes entries or lots naming them
    directly, and the services read their names): asset ``i`` linked to program ``i`` (or the
    first), SIMPLE or LOT-mode."""
    from scrip.domain import assets as asset_rules
    from scrip.domain import programs as program_rules
    from scrip.domain.assets import InventoryMode, IssuancePolicy
    from scrip.storage import assets as asset_store
    from scrip.storage import programs as program_store

    for index, program_id in enumerate(programs):
        program_store.create(
            program_rules.new_program(
                organization_id=org,
                program_id=program_id,
                name=f"Bench program {index}",
                description=None,
                key=None,
                on_unknown_participant=program_rules.OnUnknownParticipant.CREATE,
                now=now,
            )
        )
    for index, asset_id in enumerate(assets):
        asset_store.create(
            asset_rules.new_asset(
                organization_id=org,
                asset_id=asset_id,
                program_id=programs[index] if index < len(programs) else programs[0],
                name=f"Bench {'lot ' if lots else ''}asset {index}",
                symbol=f"{'BL' if lots else 'BA'}{index}",
                inventory_mode=InventoryMode.LOT if lots else InventoryMode.SIMPLE,
                issuance_policy=IssuancePolicy.UNLIMITED,
                scale=0,
                max_transaction_amount=None,
                now=now,
            )
        )


def write_results(path: Path, lines: list[str], report: TextIO) -> None:
    """Write the report to its results file and, with stdout restored, print it."""
    path.write_text("\n".join(lines) + "\n")
    sys.stdout = report
    print("\n".join(lines))


def enroll(org: str, program: str, count: int, *, prefix: str = "bench") -> list[str]:
    """``count`` participants enrolled in ``program``, batch-written (the upsert route would
    dominate the run); their ids."""
    from scrip.domain import clock
    from scrip.domain.participants import Enrollment, EnrollmentStatus, ParticipantStatus, new_participant
    from scrip.storage import participants as participant_store

    now = clock.now()
    items: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(count):
        person = new_participant(
            organization_id=org,
            participant_id=str(uuid.uuid4()),
            external_id=f"{prefix}-{i}",
            status=ParticipantStatus.ACTIVE,
            profile={},
            now=now,
        )
        ids.append(person.id)
        enrollment = Enrollment(program, EnrollmentStatus.ACTIVE, now)
        writes = [
            *participant_store.create_writes(person, [program]),
            *participant_store.enrollment_writes(person, program, enrollment),
        ]
        items += [w.params["Item"] for w in writes if w.kind == "Put"]
    batch_put(items)
    return ids


def new_automation(org: str, program: str, **fields: Any) -> str:
    """A participants-scoped, ACTIVE, idle automation written straight to the table (its INSERT
    record starts what its trigger starts), with ``fields`` (name, event_name, trigger_type at
    least) over the defaults; its id."""
    from scrip.domain import clock
    from scrip.domain.automations import Automation, AutomationSource, AutomationStatus, ExecutionStatus, Scope
    from scrip.storage import automations as automation_store

    now = clock.now()
    automation = Automation(
        **{
            "id": str(uuid.uuid4()),
            "program_id": program,
            "organization_id": org,
            "scope": Scope.PARTICIPANTS,
            "status": AutomationStatus.ACTIVE,
            "source": AutomationSource.API,
            "created_at": now,
            "updated_at": now,
            "execution_status": ExecutionStatus.IDLE,
            "participants_total": 0,
            "participants_processed": 0,
            **fields,
        }
    )
    automation_store.create(automation)
    return automation.id


def batch_put(items: list[dict[str, Any]]) -> None:
    """Write ``items`` 25 per BatchWriteItem: a bench's setup, not what it measures."""
    from scrip.storage import table

    client = table.client()
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {table.table_name(): [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


@dataclass(frozen=True)
class FanOutRun:
    participants: int
    pages: int
    seconds: float  # drain of the timed job
    write_units: float  # per participant, counted job
    read_units: float
    calls: float
    by_item: list[tuple[str, float]]  # write units per participant, by item kind, largest first

    def timing_rows(self, rate_label: str) -> list[str]:
        return [
            f"| participants | pages | drain s | {rate_label} | s per page |",
            "|---:|---:|---:|---:|---:|",
            f"| {self.participants} | {self.pages} | {self.seconds:.1f} | {self.participants / self.seconds:.0f} "
            f"| {self.seconds / self.pages:.2f} |",
        ]

    def cost_rows(self) -> list[str]:
        return [
            "| write units | read units | calls |",
            "|---:|---:|---:|",
            f"| {self.write_units:.2f} | {self.read_units:.2f} | {self.calls:.3f} |",
        ]

    def item_rows(self) -> list[str]:
        return ["| item | WU |", "|---|---:|", *[f"| `{kind}` | {units:.3f} |" for kind, units in self.by_item]]

    def report_rows(self, rate_label: str, cost_heading: str, item_heading: str) -> list[str]:
        """The timing, cost and by-item tables, each cost table under its heading."""
        return [
            *self.timing_rows(rate_label),
            "",
            cost_heading,
            "",
            *self.cost_rows(),
            "",
            item_heading,
            "",
            *self.item_rows(),
        ]


def measure(
    stack: Any,
    org: str,
    starts: Sequence[Callable[[], str]],
    *,
    participants: int,
    warm_participants: int | None = None,
) -> FanOutRun:
    """Run ``starts`` (warm-up, timed, counted: each starts one job and returns its id) one after
    the other, each drained before the next; every job must complete over its participants."""
    from bench.event_cost import kind_of
    from scrip.domain.fanouts import FanOutStatus
    from scrip.services import fanouts
    from scrip.storage import fanouts as fanout_store
    from scrip_local.metering import DynamoMeter

    start_warm, start_timed, start_counted = starts
    warm = start_warm()
    stack.drain()  # cold starts and a first pass over the participants' items
    timed = start_timed()
    started = time.perf_counter()
    stack.drain()
    seconds = time.perf_counter() - started
    counted = start_counted()
    with DynamoMeter() as meter:
        stack.drain()
    expected = [warm_participants if warm_participants is not None else participants, participants, participants]
    for job_id, count in zip((warm, timed, counted), expected, strict=True):
        job = fanout_store.get(org, job_id)
        assert job is not None and job.status is FanOutStatus.COMPLETED, job
        assert job.participants_processed == count, job
    calls = [c for c in meter.select() if c.function == "StreamDispatchFunction"]
    kinds: dict[str, float] = defaultdict(float)
    for call in calls:
        for pk, sk, units in call.written_keys:
            kinds[kind_of(pk, sk)] += units
    return FanOutRun(
        participants=participants,
        pages=-(-participants // fanouts.PAGE_SIZE),
        seconds=seconds,
        write_units=sum(c.write_units for c in calls) / participants,
        read_units=sum(c.read_units for c in calls) / participants,
        calls=len(calls) / participants,
        by_item=[(k, v / participants) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])],
    )
