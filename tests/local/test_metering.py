"""The meter that the write-cost tests and ``bench/event_cost.py`` count with bills as DynamoDB does."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scrip.storage import table
from scrip_local.metering import DynamoMeter, attribute_size, item_size
from scrip_local.stack import LocalStack


@pytest.fixture
def client(stack: LocalStack) -> Any:
    return table.client()


def _key() -> dict[str, str]:
    return {"PK": f"METER#{uuid.uuid4()}", "SK": "#"}


def test_sizes_follow_dynamodbs_formula() -> None:
    assert attribute_size("abc") == 3
    assert attribute_size(Decimal("12345")) == 4  # 5 significant digits: ceil(5 / 2) + 1
    assert attribute_size(True) == 1
    assert attribute_size({"a": "xy"}) == 3 + 1 + 2 + 1
    assert item_size({"PK": "ab", "n": Decimal("1")}) == 2 + 2 + 1 + 2


def test_a_transactional_write_costs_twice_its_kilobytes(client: Any) -> None:
    key = _key()
    with DynamoMeter() as meter:
        client.put_item(TableName=table.table_name(), Item={**key, "body": "x" * 500})
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": table.table_name(), "Item": {**key, "body": "x" * 1500}}}]
        )
    plain, transactional = meter.select(this_thread=True)
    assert (plain.write_units, transactional.write_units) == (1, 4)
    assert transactional.written_keys == [(key["PK"], "#", 4)]


def test_a_write_is_billed_for_the_larger_of_its_images(client: Any) -> None:
    key = _key()
    client.put_item(TableName=table.table_name(), Item={**key, "body": "x" * 3000})
    with DynamoMeter() as meter:
        client.put_item(TableName=table.table_name(), Item={**key, "body": "small"})
        client.delete_item(TableName=table.table_name(), Key=key)
    assert [c.write_units for c in meter.select(this_thread=True)] == [3, 1]


def test_a_refused_write_is_billed_and_still_raised(client: Any) -> None:
    key = _key()
    client.put_item(TableName=table.table_name(), Item=key)
    with DynamoMeter() as meter, pytest.raises(ClientError):
        client.put_item(TableName=table.table_name(), Item=key, ConditionExpression="attribute_not_exists(PK)")
    (call,) = meter.select(this_thread=True)
    assert (call.ok, call.write_units) == (False, 1)


def test_reads_cost_a_unit_per_4_kb_and_half_when_eventually_consistent(client: Any) -> None:
    key = _key()
    client.put_item(TableName=table.table_name(), Item={**key, "body": "x" * 5000})
    with DynamoMeter() as meter:
        client.get_item(TableName=table.table_name(), Key=key, ConsistentRead=True)
        client.get_item(TableName=table.table_name(), Key=key)
    assert [c.read_units for c in meter.select(this_thread=True)] == [2, 1]


def test_calls_are_told_apart_by_thread(client: Any) -> None:
    import threading

    key = _key()
    with DynamoMeter() as meter:
        worker = threading.Thread(target=lambda: table.client().get_item(TableName=table.table_name(), Key=key))
        worker.start()
        worker.join()
        client.get_item(TableName=table.table_name(), Key=key)
    assert len(meter.select(operation="GetItem")) == 2
    assert len(meter.select(operation="GetItem", this_thread=True)) == 1
