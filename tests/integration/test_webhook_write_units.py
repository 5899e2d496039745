"""What a webhook delivery costs in DynamoDB (P8, the webhook path), counted with ``DynamoMeter``.

Balance credits are committed first; the stream and the queues are then drained under the
meter, so what is counted is what the dispatcher and the delivery function write and read for
notifications on their way to a receiver on localhost (answering 200 at the first attempt).

The first four tests fail on the layout before P8: 25 WU per delivery, the delivery item (with
its body, 1.2 KB) written three times at 4 units in transactions and no body item, 0.75 WU per
delivery on each of 8 DELIVERIES shards and the STATS shards as sort keys of one partition, and
a participant read (GetItem) plus an endpoint-list query for every notification without an
endpoint. The others check that the cheaper, untransacted writes stay correct when a step stops
half-way or comes twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.ledger import EntityType
from scrip.domain.organizations import Caller
from scrip.domain.webhooks import Delivery, DeliveryStatus, Notification
from scrip.services import balances, webhook_delivery, webhook_emission, webhook_endpoints
from scrip.storage import webhooks as webhook_store
from scrip_local.metering import Call, DynamoMeter
from tests.api.webhook_receiver import Receiver, receiver
from tests.integration.ledger_world import make_world

DISPATCH, DELIVERY = "StreamDispatchFunction", "WebhookDeliveryFunction"
CREDITS = 12
# The path cost 25 WU per delivery (its 1.2 KB item written six times, x2 in transactions, its
# list and pending lines twice each); the goal was at least half of that. Now: body 1, PENDING
# line 1, item 1, list line 1, claim 1, result 1, PENDING line delete 1, outcome counter 1.
MAX_WU_PER_DELIVERY = 8
# 10,000 deliveries/s to one endpoint at 1,000 WU/s per partition key.
MAX_WU_PER_KEY_PER_DELIVERY = 0.1


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


def _credit(stack: Any, caller: Caller, program: str, asset: str, people: list[str], count: int) -> None:
    for n in range(count):
        balances.adjust(
            caller,
            balances.BalanceOwner(EntityType.PARTICIPANT, people[n % len(people)]),
            program_id=program,
            asset_id=asset,
            type="CREDIT",
            amount=Decimal(n + 1),
            description="webhook cost",
        )


def _drained(stack: Any) -> list[Call]:
    with DynamoMeter() as meter:
        stack.drain()
    return meter.select()


def _webhook_writes(calls: list[Call], org: str) -> list[tuple[str, str, int]]:
    """(PK, SK, WU) of this organization's writes by the dispatcher and the delivery function."""
    return [
        (pk, sk, units)
        for call in calls
        if call.function in (DISPATCH, DELIVERY)
        for pk, sk, units in call.written_keys
        if org in pk or org in sk
    ]


def _world(stack: Any, hooks: Receiver | None) -> tuple[Caller, str, str, list[str], str | None]:
    caller, program, asset, people = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.SIMPLE, participants=3)
    endpoint = None
    if hooks is not None:
        endpoint, _ = webhook_endpoints.create_endpoint(caller, url=hooks.url, enabled_events=["balance.credited"])
    stack.drain()  # the set-up's own records (participants, endpoint): not counted
    return caller, program, asset, people, endpoint.id if endpoint else None


def test_a_delivery_costs_at_most_half_of_what_it_did(stack: Any, hooks: Receiver) -> None:
    caller, program, asset, people, _ = _world(stack, hooks)
    _credit(stack, caller, program, asset, people, CREDITS)

    writes = _webhook_writes(_drained(stack), caller.organization_id)

    assert len(hooks.received) == CREDITS
    per_delivery = sum(units for _, _, units in writes) / CREDITS
    assert per_delivery <= MAX_WU_PER_DELIVERY, Counter({(pk.split("#")[-2], sk[:3]): u for pk, sk, u in writes})


def test_the_delivery_item_is_written_three_times_at_one_unit_and_the_body_once(stack: Any, hooks: Receiver) -> None:
    caller, program, asset, people, _ = _world(stack, hooks)
    _credit(stack, caller, program, asset, people, 3)

    writes = _webhook_writes(_drained(stack), caller.organization_id)

    deliveries = [(pk, sk, units) for pk, sk, units in writes if "#WEBHOOKDELIVERY#" in pk]
    per_item = Counter((pk, sk) for pk, sk, _ in deliveries)
    assert len({pk for pk, _ in per_item}) == 3
    bodies = {key: n for key, n in per_item.items() if key[1] != "#"}
    items = {key: n for key, n in per_item.items() if key[1] == "#"}
    assert set(bodies.values()) == {1}  # the envelope is stored once, never rewritten
    assert set(items.values()) == {3}  # created, claimed, result: one write each
    # Without its body the item stays under 1 KB, and no write of it is transactional: 1 unit each.
    assert sum(units for _, sk, units in deliveries if sk == "#") == 3 * 3


def test_no_key_of_the_endpoint_takes_more_than_a_tenth_of_a_unit_per_delivery(stack: Any, hooks: Receiver) -> None:
    caller, program, asset, people, endpoint = _world(stack, hooks)
    assert endpoint is not None
    _credit(stack, caller, program, asset, people, CREDITS)

    writes = _webhook_writes(_drained(stack), caller.organization_id)

    # Per key kind of the endpoint (its deliveries, unfinished deliveries, outcome counters): the
    # units one delivery spends on it, over the partitions it is spread across. Measured over a
    # dozen deliveries the shards are unevenly hit; on paper they are even (ids are random UUIDs).
    per_kind: Counter[str] = Counter()
    for pk, _, units in writes:
        if f"WEBHOOKENDPOINT#{endpoint}#" in pk:
            per_kind[pk.split(f"WEBHOOKENDPOINT#{endpoint}#", 1)[1].split("#", 1)[0]] += units
    shards = {
        "DELIVERIES": webhook_store.DELIVERY_SHARDS,
        "PENDING": webhook_store.PENDING_SHARDS,
        "STATS": webhook_store.STATS_SHARDS,
    }
    assert set(per_kind) == set(shards)
    for kind, units in per_kind.items():
        spread = units / CREDITS / shards[kind]
        assert spread <= MAX_WU_PER_KEY_PER_DELIVERY, (kind, units, shards[kind])
    # Every kind is sharded by partition key (not by sort key under one partition key).
    for kind in shards:
        partitions = {pk for pk, _, _ in writes if f"#{kind}#" in pk}
        assert len(partitions) > 1, kind


def test_the_dispatcher_reads_nothing_but_the_endpoint_list_without_an_endpoint(stack: Any) -> None:
    caller, program, asset, people, _ = _world(stack, None)
    _credit(stack, caller, program, asset, people, CREDITS)

    calls = [c for c in _drained(stack) if c.function == DISPATCH]

    operations = Counter(c.operation for c in calls)
    assert operations.get("GetItem", 0) == 0, operations  # no participant read for external_id
    assert operations.get("BatchGetItem", 0) == 0, operations
    # The endpoint list is read once per stream batch, not once per notification.
    batches = len({c.invocation for c in calls})
    assert operations["Query"] <= batches, (operations, batches)
    assert sum(c.read_units for c in calls) < CREDITS


# ----------------------------------------------------------- the cheaper writes stay correct


def _delivery(org: str, endpoint: str, n: int) -> Delivery:
    now = clock.now() + timedelta(milliseconds=n)
    return Delivery(
        organization_id=org,
        id=str(uuid.uuid4()),
        webhook_endpoint_id=endpoint,
        webhook_event_id=str(uuid.uuid4()),
        event_type="balance.credited",
        status=DeliveryStatus.PENDING,
        body=f'{{"n":{n}}}',
        created_at=now,
        updated_at=now,
    )


def _finish(delivery: Delivery, status: DeliveryStatus) -> Delivery:
    finished = replace(delivery, status=status, version=delivery.version + 1, updated_at=clock.now())
    webhook_store.save_delivery(delivery, finished)
    return finished


def test_a_pending_line_left_by_a_crash_is_removed_when_the_message_comes_back(
    stack: Any, hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller, _, _, _, endpoint = _world(stack, hooks)
    assert endpoint is not None
    org = caller.organization_id
    delivery = _delivery(org, endpoint, 0)
    webhook_store.create_delivery(delivery)
    assert len(webhook_store.unfinished(org, endpoint)) == 1

    def crash(_: Delivery) -> None:
        raise RuntimeError("the function stopped here")

    with monkeypatch.context() as patch:
        patch.setattr(webhook_store, "clear_pending", crash)
        with pytest.raises(RuntimeError):
            webhook_delivery.attempt(org, delivery.id)
    assert webhook_store.require_delivery(org, delivery.id).status is DeliveryStatus.DELIVERED
    assert len(webhook_store.unfinished(org, endpoint)) == 1  # the leftover

    assert webhook_delivery.attempt(org, delivery.id) is webhook_delivery.AttemptOutcome.SKIPPED

    assert webhook_store.unfinished(org, endpoint) == []
    assert len(hooks.received) == 1
    assert hooks.received[0].body == delivery.body.encode()  # the body item, sent as stored


def test_an_older_finish_never_removes_the_line_of_a_later_retry(stack: Any) -> None:
    org, endpoint = str(uuid.uuid4()), str(uuid.uuid4())
    delivery = _delivery(org, endpoint, 0)
    webhook_store.create_delivery(delivery)
    failed = _finish(delivery, DeliveryStatus.FAILED)
    assert webhook_store.unfinished(org, endpoint) == []
    retried = replace(failed, status=DeliveryStatus.PENDING, version=failed.version + 1)
    webhook_store.save_delivery(failed, retried)
    assert len(webhook_store.unfinished(org, endpoint)) == 1

    webhook_store.clear_pending(failed)  # the first finish's removal, arriving late

    assert len(webhook_store.unfinished(org, endpoint)) == 1


def test_a_redelivered_create_changes_nothing_and_restores_a_missing_list_line(stack: Any) -> None:
    org, endpoint = str(uuid.uuid4()), str(uuid.uuid4())
    delivery = _delivery(org, endpoint, 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(webhook_store, "_list_line", lambda _: (_ for _ in ()).throw(RuntimeError("stopped")))
        with pytest.raises(RuntimeError):
            webhook_store.create_delivery(delivery)  # stopped before its list line
    assert webhook_store.delivery_page(org, endpoint, limit=10, after=None, status=None) == ([], None)

    with pytest.raises(webhook_store.DeliveryExists):
        webhook_store.create_delivery(replace(delivery, created_at=clock.now()))

    page, _ = webhook_store.delivery_page(org, endpoint, limit=10, after=None, status=None)
    assert [d.id for d in page] == [delivery.id]
    assert page[0].created_at == delivery.created_at
    assert len(webhook_store.unfinished(org, endpoint)) == 1


def test_a_create_redelivered_after_the_delivery_finished_leaves_it_finished_and_uncounted(stack: Any) -> None:
    org, endpoint = str(uuid.uuid4()), str(uuid.uuid4())
    delivery = _delivery(org, endpoint, 0)
    webhook_store.create_delivery(delivery)
    _finish(_finish(delivery, DeliveryStatus.SENDING), DeliveryStatus.DELIVERED)
    assert webhook_store.unfinished(org, endpoint) == []

    with pytest.raises(webhook_store.DeliveryExists):
        webhook_store.create_delivery(delivery)  # the stream record, delivered again

    assert webhook_store.unfinished(org, endpoint) == []
    assert webhook_store.require_delivery(org, delivery.id).status is DeliveryStatus.DELIVERED
    page, _ = webhook_store.delivery_page(org, endpoint, limit=10, after=None, status=None)
    assert [d.id for d in page] == [delivery.id]


def test_a_notification_emitted_twice_makes_one_delivery_with_one_line_of_each(stack: Any, hooks: Receiver) -> None:
    caller, _, _, _, endpoint = _world(stack, hooks)
    assert endpoint is not None
    org = caller.organization_id
    notification = Notification(
        org, str(uuid.uuid4()), "balance.credited", clock.now() - timedelta(seconds=3), {"amount": "1"}
    )

    assert webhook_emission.emit(notification) == 1
    assert webhook_emission.emit(notification) == 0  # the stream record, delivered again

    assert len(webhook_store.unfinished(org, endpoint)) == 1
    page, _ = webhook_store.delivery_page(org, endpoint, limit=10, after=None, status=None)
    assert len(page) == 1 and page[0].created_at == notification.created_at
    stack.drain()
    assert len(hooks.received) == 1
    assert webhook_store.unfinished(org, endpoint) == []


def test_the_status_filter_reads_the_items_page_after_page(stack: Any) -> None:
    org, endpoint = str(uuid.uuid4()), str(uuid.uuid4())
    created = [_delivery(org, endpoint, n) for n in range(7)]
    for each in created:
        webhook_store.create_delivery(each)
    delivered = {_finish(d, DeliveryStatus.DELIVERED).id for d in created[1::2]}

    def listed(status: DeliveryStatus | None) -> list[str]:
        return [i for page in pages(status) for i in page]

    def pages(status: DeliveryStatus | None) -> list[list[str]]:
        found, after = [], None
        while True:
            page, after = webhook_store.delivery_page(org, endpoint, limit=2, after=after, status=status)
            found.append([d.id for d in page])
            if after is None:
                return found

    newest_first = [d.id for d in reversed(created)]
    assert listed(DeliveryStatus.DELIVERED) == [i for i in newest_first if i in delivered]
    assert listed(DeliveryStatus.PENDING) == [i for i in newest_first if i not in delivered]
    assert listed(None) == newest_first
    assert [len(p) for p in pages(None)] == [2, 2, 2, 1]
