"""The expiration schedule's index (``storage.expiring_lots``) from the ledger totals stream
consumer, with the records DynamoDB emits: after credits, spends, holds, releases and expiry the
month rows, day rows and expiring lines say what the lots themselves say; a redelivered batch changes
nothing (the claim per record); a failure reports the records from the first one not applied."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from scrip.domain import clock, due_hours
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.ledger import ActionType, EntityType, participant_account
from scrip.domain.lots import Lot, LotStatus
from scrip.services import assets as asset_service
from scrip.services import balances, lot_jobs
from scrip.services import programs as program_service
from scrip.storage import expiring_lots as store
from scrip.storage import keys, listing
from scrip.storage import lots as lot_store
from scrip_local.metering import DynamoMeter
from scrip_local.stack import LocalStack
from tests import stream_deliveries
from tests.integration.automation_helpers import stream_record
from tests.integration.ledger_world import make_assets

FUNCTION = "LedgerTotalsFunction"
LIVE = (LotStatus.AVAILABLE, LotStatus.HELD, LotStatus.DEFERRED)

Rows = dict[tuple[str, str | None, date | None], tuple[Decimal, int]]  # month or day rows (month: its 1st)
Lines = dict[date, set[tuple[str, str, str | None, datetime, Decimal]]]
Index = tuple[Rows, Rows, Lines]  # month rows, day rows, lines


def _outstanding(lot: Lot) -> Decimal:
    return lot.remaining if lot.status in LIVE else Decimal(0)


def _from_lots(lots: list[Lot]) -> Index:
    """The month rows, day rows and lines the lots themselves imply."""
    months: dict[tuple[str, str | None, date | None], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    days: dict[tuple[str, str | None, date | None], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    lines: Lines = defaultdict(set)
    for lot in lots:
        day = lot.expires_at.astimezone(UTC).date() if lot.expires_at else None
        outstanding = _outstanding(lot)
        if outstanding > 0:
            month = months[(lot.asset_id, lot.program_id, day.replace(day=1) if day is not None else None)]
            month[0] += outstanding
            month[1] += 1
            if lot.expires_at is not None and day is not None:
                days[(lot.asset_id, lot.program_id, day)][0] += outstanding
                days[(lot.asset_id, lot.program_id, day)][1] += 1
                lines[day].add((lot.id, lot.asset_id, lot.program_id, lot.expires_at.astimezone(UTC), outstanding))
    return (
        {key: (amount, count) for key, (amount, count) in months.items()},
        {key: (amount, count) for key, (amount, count) in days.items()},
        dict(lines),
    )


def _indexed(org: str, days: set[date], **filters: str) -> Index:
    months = {
        (row.asset_id, row.program_id, row.month): (row.outstanding, row.lot_count)
        for row in store.month_rows(org, **filters)
    }
    rows: Rows = {
        (row.asset_id, row.program_id, row.day): (row.outstanding, row.lot_count)
        for row in store.day_rows(org, date.min, date.max, **filters)
    }
    lines: Lines = {}
    for day in days:
        found = {
            (lot.lot_id, lot.asset_id, lot.program_id, lot.expires_at, lot.remaining)
            for lot in store.lots_expiring_on(org, day, **filters)
        }
        if found:
            lines[day] = found
    return months, rows, lines


class _World:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.caller, self.program, (self.x, self.y), (self.alice, self.bob) = make_assets(
            stack, [(IssuancePolicy.UNLIMITED, InventoryMode.LOT)] * 2, participants=2
        )
        self.other = program_service.create_program(self.caller, name="Other").id
        asset_service.link_asset(self.caller, self.other, self.x)
        self.days: set[date] = set()
        self.delivered: list[dict[str, Any]] = []

    @property
    def org(self) -> str:
        return self.caller.organization_id

    def owner(self, participant: str) -> balances.BalanceOwner:
        return balances.BalanceOwner(EntityType.PARTICIPANT, participant)

    def credit(self, participant: str, asset: str, amount: int, expires_at: datetime | None, program: str = "") -> Lot:
        if expires_at is not None:
            self.days.add(expires_at.astimezone(UTC).date())
        _, (lot,) = balances.credit(
            self.caller,
            self.owner(participant),
            program_id=program or self.program,
            asset_id=asset,
            amount=Decimal(amount),
            expires_at=expires_at,
        )
        return lot

    def lots(self) -> list[Lot]:
        return [
            lot
            for person in (self.alice, self.bob)
            for asset in (self.x, self.y)
            for lot in lot_store.read(self.org, participant_account(person), asset)
        ]

    def drain(self) -> None:
        """Deliver the stream, keeping the batches this organization's lot records came in."""
        with stream_deliveries.recorded(self.stack, FUNCTION) as delivered:
            self.stack.drain()
        mine = f"ORG#{self.org}#"
        for event in delivered:
            records = [r for r in event["Records"] if str(r["dynamodb"]["Keys"]["PK"]["S"]).startswith(mine)]
            if records:
                self.delivered.append({"Records": records})

    def check(self, **filters: str) -> None:
        """The index says what the lots say (with the filters the service will pass)."""
        expected = _from_lots(
            [
                lot
                for lot in self.lots()
                if lot.asset_id == filters.get("asset_id", lot.asset_id)
                and lot.program_id == filters.get("program_id", lot.program_id)
            ]
        )
        assert _indexed(self.org, self.days, **filters) == expected


def test_the_index_follows_the_lots_through_spends_holds_releases_and_expiry(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _World(stack)
    stack.drain()  # whatever other tests left in the stream
    now = clock.now()
    soon = now + timedelta(minutes=5)
    in_three_days = (now + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    world.credit(world.alice, world.x, 10, in_three_days)
    world.credit(world.alice, world.x, 5, None)
    world.credit(world.alice, world.x, 6, in_three_days + timedelta(hours=6), program=world.other)
    world.credit(world.bob, world.x, 7, in_three_days)
    world.credit(world.bob, world.y, 4, now + timedelta(days=10))
    world.credit(world.bob, world.y, 2, soon)
    world.drain()
    world.check()
    months, rows, _ = _indexed(world.org, world.days)
    assert rows[(world.x, world.program, in_three_days.date())] == (Decimal(17), 2)
    assert rows[(world.x, world.other, in_three_days.date())] == (Decimal(6), 1)
    assert months[(world.x, world.program, None)] == (Decimal(5), 1)
    assert (world.x, world.program, None) not in rows  # never-expiring value lives in the month rows only

    balances.adjust(
        world.caller,
        world.owner(world.alice),
        program_id=world.program,
        asset_id=world.x,
        type="DEBIT",
        amount=Decimal(12),
        description="spend",
    )
    balances.balance_operation(
        world.caller,
        world.owner(world.bob),
        ActionType.HOLD,
        program_id=world.program,
        asset_id=world.x,
        description="hold",
        amount=Decimal(3),
    )
    world.drain()
    world.check()
    world.check(asset_id=world.x)
    world.check(asset_id=world.x, program_id=world.other)
    world.check(program_id=world.program)

    balances.balance_operation(
        world.caller,
        world.owner(world.bob),
        ActionType.RELEASE,
        program_id=world.program,
        asset_id=world.x,
        description="release",
        amount=Decimal(1),
    )
    # The lot job reads from the hour this test filed its lot in, not the whole look-back (a
    # session's first run reads 1,568 Queries), and leaves the shared checkpoints alone.
    monkeypatch.setattr(lot_store, "due_checkpoint", lambda kind: due_hours.hour_of(now))
    monkeypatch.setattr(lot_store, "save_due_checkpoint", lambda kind, hour: None)
    report = lot_jobs.run_due(soon + timedelta(seconds=1))
    assert report.expired >= 1
    world.drain()
    world.check()
    expired = [lot for lot in world.lots() if lot.status is LotStatus.EXPIRED]
    assert [lot.amount for lot in expired] == [Decimal(2)]
    assert expired[0].id not in {line.lot_id for line in store.lots_expiring_on(world.org, soon.date())}

    # Every batch again, in order (a stream redelivering): the claims keep the rows as they are.
    before = _indexed(world.org, world.days)
    function = stack.functions[FUNCTION]
    for event in world.delivered:
        assert function.invoke(event) == {"batchItemFailures": []}
    assert _indexed(world.org, world.days) == before
    world.check()


# ---------------------------------------------------------------- synthetic records


def _lot(org: str, lot_id: str, asset: str, remaining: int, status: str, expires_at: str | None) -> dict[str, Any]:
    participant = "p-" + lot_id
    item: dict[str, Any] = {
        "PK": keys.participant_lots(org, participant, asset),
        "SK": keys.chronological("2026-01-01T00:00:00.000000Z", lot_id),
        "entity": "LOT",
        "id": lot_id,
        "asset_id": asset,
        "amount": Decimal(10),
        "remaining": Decimal(remaining),
        "status": status,
        "created_at": "2026-01-01T00:00:00.000000Z",
        "origin": "CREDIT",
        "program_id": "prog",
        "owner_type": "PARTICIPANT",
        "owner_id": participant,
    }
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def _record(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    record = stream_record("INSERT" if old is None else "MODIFY", new)
    if old is not None:
        record["dynamodb"]["OldImage"] = {k: TypeSerializer().serialize(v) for k, v in old.items()}
    return record


EXPIRES = "2031-05-04T10:00:00.000000Z"
DAY = date(2031, 5, 4)


@contextmanager
def _failing_once_at(call: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = store.add_to_rows
    calls: list[str] = []

    def failing(org_id: str, event_id: str, lot_id: str, days: Any, months: Any) -> None:
        calls.append(event_id)
        if len(calls) == call:
            raise RuntimeError("throttled")
        real(org_id, event_id, lot_id, days, months)

    with monkeypatch.context() as patch:
        patch.setattr(store, "add_to_rows", failing)
        yield


def test_a_failed_record_is_reported_from_it_on_and_a_retry_applies_it_once(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, asset = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [_record(None, _lot(org, str(uuid.uuid4()), asset, 10, "AVAILABLE", EXPIRES)) for _ in range(3)]
    function = stack.functions[FUNCTION]
    with _failing_once_at(2, monkeypatch):
        answer = function.invoke({"Records": batch})
    assert answer == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in batch[1:]]}
    assert [(row.outstanding, row.lot_count) for row in store.day_rows(org, DAY, DAY)] == [(Decimal(10), 1)]
    assert [(row.outstanding, row.lot_count) for row in store.month_rows(org)] == [(Decimal(10), 1)]
    assert len(store.lots_expiring_on(org, DAY)) == 1
    # Lambda retries from the first failed record; a whole redelivery applies nothing twice either.
    assert function.invoke({"Records": batch}) == {"batchItemFailures": []}
    assert function.invoke({"Records": batch[1:]}) == {"batchItemFailures": []}
    assert [(row.outstanding, row.lot_count) for row in store.day_rows(org, DAY, DAY)] == [(Decimal(30), 3)]
    assert [(row.outstanding, row.lot_count) for row in store.month_rows(org)] == [(Decimal(30), 3)]
    assert len(store.lots_expiring_on(org, DAY)) == 3


def test_a_lot_change_costs_a_claim_its_rows_and_a_line(stack: LocalStack) -> None:
    org, asset, lot_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    created = _lot(org, lot_id, asset, 10, "AVAILABLE", EXPIRES)
    spent = _lot(org, lot_id, asset, 4, "AVAILABLE", EXPIRES)
    held = _lot(org, lot_id, asset, 4, "HELD", EXPIRES)
    consumed = _lot(org, lot_id, asset, 0, "CONSUMED", EXPIRES)
    never = _lot(org, str(uuid.uuid4()), asset, 5, "AVAILABLE", None)
    function = stack.functions[FUNCTION]
    units = []
    for old, new in ((None, created), (created, spent), (spent, held), (held, consumed), (None, never)):
        with DynamoMeter() as meter:
            assert function.invoke({"Records": [_record(old, new)]}) == {"batchItemFailures": []}
        # By what the calls wrote, not by the function's name: the function runs in a thread of its own.
        units.append(sum(unit for call in meter.calls for pk, _, unit in call.written_keys if f"#{org}#" in pk))
    # A transactional write of a small item is 2 units: claim + day row + month row = 6, the
    # line's put or delete 1. HELD with the same remainder moves nothing and writes nothing; the
    # lot consumed leaves its day and month rows empty, and both are deleted (1 more each). A lot
    # that never expires has a month row (NEVER) and no day row or line: 4.
    assert units == [7, 7, 0, 9, 4]
    day_rows_left = [
        item for shard in range(store.DAY_SHARDS) for item in listing.query_all(keys.expiry_days(org, shard))
    ]
    month_rows_left = [
        item for shard in range(store.DAY_SHARDS) for item in listing.query_all(keys.expiry_months(org, shard))
    ]
    assert day_rows_left == []
    assert [(item["asset_id"], item["month"]) for item in month_rows_left] == [(asset, keys.NEVER_EXPIRES)]
    assert [(row.month, row.outstanding, row.lot_count) for row in store.month_rows(org, asset_id=asset)] == [
        (None, Decimal(5), 1)
    ]
    assert store.lots_expiring_on(org, DAY) == []
