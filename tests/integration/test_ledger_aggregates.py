"""The report aggregates (05 §4, issue 16): ``ledger_aggregates.movements`` read from the rows
the stream keeps equals the walk of the journal itself, for any range.

A month of operations (credits, debits, holds, releases, forfeits, lot expiries, redemptions to
the system and to a holder, their reversals, transfers, wallet funding) is written at moved
clocks, the stream delivered, and random ranges compared. Then what the stream has not applied
yet still counts (read from the journal), a redelivered batch adds nothing, a stream too far
behind is reported, and a holder posting no line explains fails the report.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.ledger import (
    ActionType,
    Bucket,
    EntityType,
    JournalEntry,
    Posting,
    SystemAccount,
    participant_account,
    seal,
    system_account,
)
from scrip.domain.organizations import Caller
from scrip.domain.programs import RedemptionTargetType
from scrip.domain.report_lines import AggregatesBehind, Level, Movement, UnclassifiedActivity, movements_of
from scrip.services import balances, ledger_aggregates, lot_jobs, totals
from scrip.storage import keys, table, transactions
from scrip.storage import ledger as ledger_store
from scrip.storage import programs as program_store
from scrip.storage import report_aggregates as aggregate_store
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import Ledger, make_ledger, ok
from tests.conftest import Api
from tests.integration import lot_checkpoints

MINUTE, HOUR, DAY = 60, 3600, 86400


def journal_walk(
    org: str, since: datetime | None, until: datetime, asset_id: str | None = None, program_id: str | None = None
) -> list[Movement]:
    return movements_of(
        ledger_aggregates.journal_tallies(
            org, since, until, end_inclusive=True, asset_id=asset_id, program_id=program_id
        )
    )


class World:
    """Two programs: ``main`` (points, cash, a LOT asset) redeeming to the system, and ``shop``
    whose redemptions credit a merchant participant (a holder target)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.main: Ledger = make_ledger(api)
        self.lots = api.create_asset(
            self.main.program["id"], name="Lots", symbol=f"L{uuid.uuid4().hex[:5]}", inventory_mode="LOT"
        )
        self.shop: Ledger = make_ledger(api)
        self.people = [self.main.participant() for _ in range(3)]
        self.merchant = self.main.participant()
        for person in self.people:  # enrolled in the shop too
            ok(self.shop.adjust(person, "1"))
        org = api.organization_id
        current = program_store.require(org, self.shop.program["id"])
        program_store.save(
            current,
            replace(
                current,
                redemption_target_type=RedemptionTargetType.LEDGER_ENTITY,
                redemption_target_entity_id=self.merchant,
                redemption_target_entity_type=EntityType.PARTICIPANT,
                version=current.version + 1,
            ),
        )
        self.caller = Caller(org, "test")
        self.redemptions: list[str] = []

    def redeem(self, ledger: Ledger, person: str, amount: str) -> None:
        body = {"program_id": ledger.program["id"], "asset_id": ledger.points["id"], "amount": amount}
        response = self.api.post(f"/v1/participants/{person}/redemptions", json={**body, "description": "gift"})
        self.redemptions.append(ok(response)["id"])

    def step(self, rng: random.Random) -> None:
        """A few operations, each on a random participant; amounts stay within what was credited."""
        alice, bob, carol = rng.sample(self.people, 3)
        main, shop = self.main, self.shop
        ok(main.adjust(alice, str(rng.randint(20, 60))))
        ok(main.adjust(alice, str(rng.randint(1, 3)), type="DEBIT"))
        ok(main.operation(alice, "hold", amount="4"))
        ok(main.operation(alice, "release", amount="2"))
        ok(main.operation(alice, "forfeit", bucket="AVAILABLE", amount="1"))
        transfer = {
            "program_id": main.program["id"],
            "asset_id": main.points["id"],
            "description": "split",
            "source_participant_id": alice,
            "recipients": [{"participant_id": bob, "amount": "3"}, {"participant_id": carol, "amount": "2"}],
        }
        ok(self.api.post("/v1/transfers", json=transfer))
        self.redeem(main, alice, "5")
        ok(shop.adjust(bob, "30"))
        self.redeem(shop, bob, "7")
        redemption = rng.choice(self.redemptions)
        reversal = self.api.post(f"/v1/redemptions/{redemption}/reverse", json={"reason": "returned", "amount": "1"})
        assert reversal.status_code in (201, 422), reversal.text  # 422: reversed in full before
        ok(main.fund("50"))
        ok(main.adjust(carol, "2.50", asset=main.cash))
        balances.credit(
            self.caller,
            balances.BalanceOwner(EntityType.PARTICIPANT, carol),
            program_id=main.program["id"],
            asset_id=self.lots["id"],
            amount=Decimal(rng.randint(1, 9)),
            description="expiring",
            expires_at=clock.now() + timedelta(minutes=30),
        )

    def holders(self) -> list[str]:
        return [*self.people, self.merchant]

    def liability(self) -> dict[str, Decimal]:
        """Per asset, the sum of every holder's buckets as the balances answer them."""
        found: dict[str, Decimal] = {}
        for person in self.holders():
            for row in ok(self.api.get(f"/v1/participants/{person}/balances"))["data"]:
                value = sum((Decimal(row[b]) for b in ("available", "held", "deferred")), Decimal(0))
                found[row["asset_id"]] = found.get(row["asset_id"], Decimal(0)) + value
        return found


# Offsets from the wall clock at which the steps run: minutes, hours, days and months apart,
# some right at a boundary's either side. The last is older than the seal delay.
OFFSETS = [-75 * DAY, -44 * DAY + 59, -DAY - 7 * MINUTE, -3 * HOUR, -61 * MINUTE, -8 * MINUTE]


def test_aggregates_equal_the_journal_walk_for_random_ranges(
    api: Api, stack: LocalStack, at: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20261129)
    at(OFFSETS[0])
    world = World(api)
    org = api.organization_id
    for offset in OFFSETS:
        at(offset)
        world.step(rng)
        if offset == -61 * MINUTE:  # the lots credited within the job's look-back expire
            lot_checkpoints.forget()  # they were filed under hours the checkpoint may have passed
            lot_jobs.run_due(clock.now() + timedelta(hours=1))
    at(0)
    stack.drain()
    now = clock.now()
    entries = ledger_store.journal_entries_between(org, None, now, end_inclusive=True)
    kinds = {entry.action_type for entry in entries}
    assert kinds >= {
        ActionType.CREDIT,
        ActionType.DEBIT,
        ActionType.HOLD,
        ActionType.RELEASE,
        ActionType.FORFEIT,
        ActionType.EXPIRATION,
        ActionType.REDEMPTION,
        ActionType.REDEMPTION_REVERSAL,
        ActionType.TRANSFER,
        ActionType.FUND,
    }, kinds

    # The whole history is read from the aggregates: not one entry from the journal.
    read_from_journal: list[int] = []
    original = ledger_store.journal_entries_between

    def counting(*args: Any, **kwargs: Any) -> list[JournalEntry]:
        found = original(*args, **kwargs)
        read_from_journal.append(len(found))
        return found

    monkeypatch.setattr(ledger_aggregates.ledger_store, "journal_entries_between", counting)
    everything = ledger_aggregates.movements(org, until=now)
    assert sum(read_from_journal) == 0
    assert ledger_aggregates.sealed_point(org) > entries[-1].created_at
    assert everything == journal_walk(org, None, now)
    # ... and it is the liability: every holder's balances, per asset.
    liability: dict[str, Decimal] = {}
    for movement in everything:
        liability[movement.asset_id] = liability.get(movement.asset_id, Decimal(0)) + movement.net
    assert {a: v for a, v in liability.items() if v} == {a: v for a, v in world.liability().items() if v}
    for movement in everything:
        assert sum(movement.lines.values(), Decimal(0)) == movement.net

    # Random ranges: instants at entries (inclusive ends), just beside them, and anywhere.
    stamps = [entry.created_at for entry in entries]
    tiny = timedelta(microseconds=1)

    def instant() -> datetime:
        choice = rng.random()
        if choice < 0.6:
            return rng.choice(stamps) + rng.choice([-tiny, timedelta(0), tiny])
        return stamps[0] - timedelta(days=1) + (now - stamps[0] + timedelta(days=1)) * rng.random()

    scopes = [(None, None), (world.main.points["id"], None), (None, world.shop.program["id"])]
    for _ in range(15):
        first, second = sorted((instant(), instant()))
        since = None if rng.random() < 0.2 else first
        asset_id, program_id = rng.choice(scopes)
        found = ledger_aggregates.movements(org, since=since, until=second, asset_id=asset_id, program_id=program_id)
        assert found == journal_walk(org, since, second, asset_id, program_id), (since, second, asset_id, program_id)

    # A redelivered stream batch adds nothing (the last few: each refused one is a transaction).
    images = [_image(org, entry.id) for entry in entries[-6:]]
    assert totals.apply_committed_entries(images) == 0
    assert ledger_aggregates.movements(org, until=now) == everything


def _image(org: str, entry_id: str) -> dict[str, Any]:
    key = {"PK": keys.journal_entry(org, entry_id), "SK": keys.ENTITY_SK}
    return dict(table.client().get_item(TableName=table.table_name(), Key=key)["Item"])


def test_an_entry_the_stream_has_not_applied_still_counts(
    api: Api, stack: LocalStack, at: Callable[[float], None]
) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    org = api.organization_id
    at(-2 * HOUR)
    ok(ledger.adjust(alice, "10"))
    stack.drain()
    at(-30 * MINUTE)
    late = ok(ledger.adjust(alice, "7"))["journal_entry_id"]  # its stream record waits
    at(0)
    now = clock.now()
    (movement,) = ledger_aggregates.movements(org, until=now)
    assert movement.net == 17 and movement.entry_count == 2
    created = ledger_store.get_entry(org, late).created_at
    sealed = ledger_aggregates.sealed_point(org)
    assert created - timedelta(minutes=1) < sealed <= created  # up to the unapplied entry's minute
    assert ledger_aggregates.movements(org, until=now) == journal_walk(org, None, now)
    # A future end reads no more: no entry is created after now.
    assert ledger_aggregates.movements(org, until=now + timedelta(days=2)) == [movement]
    stack.drain()
    assert ledger_aggregates.sealed_point(org) > created  # applied: sealed past it
    assert ledger_aggregates.movements(org, until=now) == [movement]


def test_a_stream_batch_delivered_twice_adds_nothing(api: Api, stack: LocalStack, at: Callable[[float], None]) -> None:
    ledger = make_ledger(api)
    alice, bob = ledger.participant(), ledger.participant()
    org = api.organization_id
    stack.drain()
    at(-HOUR)
    ids = [
        ok(ledger.adjust(alice, "40"))["journal_entry_id"],
        ok(ledger.operation(alice, "hold", amount="5"))["journal_entry_id"],  # no system posting
        ok(ledger.adjust(bob, "3"))["journal_entry_id"],
    ]
    at(0)
    images = [_image(org, entry_id) for entry_id in ids]
    assert totals.apply_committed_entries(images[:2]) == 2
    assert totals.apply_committed_entries(images) == 1  # the first two were claimed
    assert totals.apply_committed_entries(images) == 0
    stack.drain()  # the stream brings all three again
    rows = aggregate_store.read_rows(org, Level.MONTH, "0000", "9999")
    assert sum(tally.entry_count for _, tally in rows) == 3
    (movement,) = ledger_aggregates.movements(org, until=clock.now())
    assert movement.net == 43 and movement.buckets == {Bucket.AVAILABLE: Decimal(38), Bucket.HELD: Decimal(5)}
    assert movement.entry_count == 3


def test_a_stream_too_far_behind_is_reported(api: Api, stack: LocalStack, at: Callable[[float], None]) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    org = api.organization_id
    stack.drain()
    at(-8 * HOUR)
    entry_id = ok(ledger.adjust(alice, "10"))["journal_entry_id"]
    at(0)
    created = ledger_store.get_entry(org, entry_id).created_at
    with pytest.raises(AggregatesBehind) as raised:
        ledger_aggregates.movements(org, until=clock.now())
    assert (raised.value.status, raised.value.code, raised.value.retry_after_seconds) == (503, "aggregates_behind", 60)
    # A period within reach of the sealed point is still answered, from the journal.
    (movement,) = ledger_aggregates.movements(org, until=created + timedelta(hours=1))
    assert movement.net == 10
    stack.drain()
    (movement,) = ledger_aggregates.movements(org, until=clock.now())
    assert movement.net == 10


def test_a_holder_posting_no_line_explains_fails_the_report(
    api: Api, stack: LocalStack, at: Callable[[float], None]
) -> None:
    """A FUND entry never credits a participant: one that does (a bug, or a kind of entry this
    code does not know) fails the report, read from the journal and from the aggregates alike,
    and does not stop the stream consumer."""
    ledger = make_ledger(api)
    alice = ledger.participant()
    org = api.organization_id
    stack.drain()
    at(-HOUR)
    asset = ledger.points
    postings = (
        Posting(
            str(uuid.uuid4()),
            participant_account(alice),
            asset["id"],
            asset["symbol"],
            Bucket.AVAILABLE,
            Decimal(5),
            None,
        ),
        Posting(
            str(uuid.uuid4()),
            system_account(SystemAccount.SYSTEM_ISSUANCE),
            asset["id"],
            asset["symbol"],
            Bucket.AVAILABLE,
            Decimal(-5),
            None,
        ),
    )
    entry = JournalEntry(
        id=str(uuid.uuid4()),
        organization_id=org,
        action_type=ActionType.FUND,
        description="odd",
        program_id=None,
        program_name=None,
        event_id=None,
        rule_id=None,
        reference_id=None,
        created_by_api_key_id=None,
        created_at=clock.now(),
        postings=postings,
    )
    transactions.write(ledger_store.entry_writes(seal(entry, "0" * 64)))
    at(0)
    with pytest.raises(UnclassifiedActivity) as raised:
        ledger_aggregates.movements(org, until=clock.now())
    assert (raised.value.status, raised.value.code) == (500, "unclassified_activity")
    assert totals.apply_committed_entries([_image(org, entry.id)]) == 1
    stack.drain()
    assert ledger_aggregates.sealed_point(org) > entry.created_at
    with pytest.raises(UnclassifiedActivity):
        ledger_aggregates.movements(org, until=clock.now())


def test_a_batch_mixing_organizations_keeps_each_ones_rows(
    api: Api, other_api: Api, stack: LocalStack, at: Callable[[float], None]
) -> None:
    """A stream batch holds every organization's entries: each one's rows go to its own partitions."""
    ours, theirs = make_ledger(api), make_ledger(other_api)
    alice, bob = ours.participant(), theirs.participant()
    stack.drain()
    at(-HOUR)
    ids = [
        (api.organization_id, ok(ours.adjust(alice, "5"))["journal_entry_id"]),
        (other_api.organization_id, ok(theirs.adjust(bob, "9"))["journal_entry_id"]),
        (api.organization_id, ok(ours.adjust(alice, "6"))["journal_entry_id"]),
    ]
    at(0)
    assert totals.apply_committed_entries([_image(org, entry_id) for org, entry_id in ids]) == 3
    for org, net in ((api.organization_id, 11), (other_api.organization_id, 9)):
        rows = aggregate_store.read_rows(org, Level.DAY, "0000", "9999")
        assert sum(tally.buckets.get(Bucket.AVAILABLE, Decimal(0)) for _, tally in rows) == net
        assert [m.net for m in ledger_aggregates.movements(org, until=clock.now())] == [net]
    stack.drain()
