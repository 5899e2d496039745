"""The emulator behaves like DynamoDB where the application depends on it.

Each test states a DynamoDB guarantee and checks it against the patched moto the local
stack runs (see ``scrip_local.moto_patches``).
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def dynamodb(stack) -> Any:  # type: ignore[no-untyped-def]
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table_name(dynamodb: Any) -> str:
    name = f"patch-test-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def _stream_records(table_name: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return list(streams.get_records(ShardIterator=iterator)["Records"])


def _put(pk: str, sk: str, table_name: str, **attributes: Any) -> dict[str, Any]:
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}
    return {"Put": {"TableName": table_name, "Item": item}}


def test_cancelled_transaction_leaves_no_items_and_no_stream_records(dynamodb: Any, table_name: str) -> None:
    dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "v": {"S": "original"}})
    before = _stream_records(table_name)
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                _put("a", "1", table_name, v="overwritten"),
                _put("b", "1", table_name, v="new"),
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": {"PK": {"S": "c"}, "SK": {"S": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "upserted"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table_name,
                        "Key": {"PK": {"S": "missing"}, "SK": {"S": "1"}},
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert (
        dynamodb.get_item(TableName=table_name, Key={"PK": {"S": "a"}, "SK": {"S": "1"}})["Item"]["v"]["S"]
        == "original"
    )
    assert "Item" not in dynamodb.get_item(TableName=table_name, Key={"PK": {"S": "b"}, "SK": {"S": "1"}})
    assert "Item" not in dynamodb.get_item(TableName=table_name, Key={"PK": {"S": "c"}, "SK": {"S": "1"}})
    assert _stream_records(table_name) == before


def test_committed_transaction_emits_one_record_per_item(dynamodb: Any, table_name: str) -> None:
    dynamodb.transact_write_items(TransactItems=[_put("x", "1", table_name, v="1"), _put("x", "2", table_name, v="2")])
    records = _stream_records(table_name)
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT"]


def test_put_that_changes_nothing_emits_no_record(dynamodb: Any, table_name: str) -> None:
    item = {"PK": {"S": "same"}, "SK": {"S": "1"}, "v": {"S": "x"}}
    dynamodb.put_item(TableName=table_name, Item=item)
    dynamodb.put_item(TableName=table_name, Item=item)
    dynamodb.put_item(TableName=table_name, Item={**item, "v": {"S": "y"}})
    assert [r["eventName"] for r in _stream_records(table_name)] == ["INSERT", "MODIFY"]


def _query_keys(dynamodb: Any, table_name: str, **kwargs: Any) -> list[str]:
    keys: list[str] = []
    while True:
        response = dynamodb.query(TableName=table_name, **kwargs)
        keys.extend(i["SK"]["S"] for i in response["Items"])
        if "LastEvaluatedKey" not in response:
            return keys
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("PK = :p", {}, lambda sks: sks),
        ("PK = :p AND SK = :a", {":a": "k05"}, lambda sks: ["k05"]),
        ("PK = :p AND SK < :a", {":a": "k05"}, lambda sks: [s for s in sks if s < "k05"]),
        ("PK = :p AND SK <= :a", {":a": "k05"}, lambda sks: [s for s in sks if s <= "k05"]),
        ("PK = :p AND SK > :a", {":a": "k05"}, lambda sks: [s for s in sks if s > "k05"]),
        ("PK = :p AND SK >= :a", {":a": "k05"}, lambda sks: [s for s in sks if s >= "k05"]),
        (
            "PK = :p AND SK BETWEEN :a AND :b",
            {":a": "k03", ":b": "k07"},
            lambda sks: [s for s in sks if "k03" <= s <= "k07"],
        ),
        ("PK = :p AND begins_with(SK, :a)", {":a": "k1"}, lambda sks: [s for s in sks if s.startswith("k1")]),
    ],
)
@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("limit", [None, 1, 3])
def test_query_reads_the_requested_range_in_order(
    dynamodb: Any,
    table_name: str,
    condition: str,
    values: dict[str, str],
    expected: Any,
    forward: bool,
    limit: int | None,
) -> None:
    sort_keys = [f"k{i:02d}" for i in range(20)] + ["j", "l"]
    for sk in sort_keys:
        dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "p"}, "SK": {"S": sk}})
        dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "other"}, "SK": {"S": sk}})
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": {":p": {"S": "p"}, **{k: {"S": v} for k, v in values.items()}},
        "ScanIndexForward": forward,
    }
    if limit:
        kwargs["Limit"] = limit
    wanted = expected(sorted(sort_keys))
    assert _query_keys(dynamodb, table_name, **kwargs) == (wanted if forward else list(reversed(wanted)))


def test_query_filter_applies_after_limit(dynamodb: Any, table_name: str) -> None:
    for i in range(6):
        dynamodb.put_item(
            TableName=table_name, Item={"PK": {"S": "f"}, "SK": {"S": f"{i}"}, "even": {"BOOL": i % 2 == 0}}
        )
    response = dynamodb.query(
        TableName=table_name,
        KeyConditionExpression="PK = :p",
        FilterExpression="even = :t",
        ExpressionAttributeValues={":p": {"S": "f"}, ":t": {"BOOL": True}},
        Limit=3,
    )
    assert [i["SK"]["S"] for i in response["Items"]] == ["0", "2"]
    assert response["ScannedCount"] == 3
    assert response["LastEvaluatedKey"]["SK"]["S"] == "2"


def test_numeric_sort_keys_sort_numerically(dynamodb: Any) -> None:
    name = f"patch-num-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in [10, 9, 100, 1]:
        dynamodb.put_item(TableName=name, Item={"PK": {"S": "n"}, "SK": {"N": str(n)}})
    response = dynamodb.query(
        TableName=name,
        KeyConditionExpression="PK = :p AND SK > :m",
        ExpressionAttributeValues={":p": {"S": "n"}, ":m": {"N": "5"}},
    )
    assert [i["SK"]["N"] for i in response["Items"]] == ["9", "10", "100"]


def test_item_reads_return_every_attribute_type_intact(dynamodb: Any, table_name: str) -> None:
    item = {
        "PK": {"S": "types"},
        "SK": {"S": "1"},
        "s": {"S": "text é"},
        "n": {"N": "12.500"},
        "b": {"B": b"\x00\xffbytes"},
        "bool": {"BOOL": False},
        "null": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"x"]},
        "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"S": "v"}}}]},
        "m": {"M": {"nested": {"L": []}}},
    }
    dynamodb.put_item(TableName=table_name, Item=item)
    got = dynamodb.get_item(TableName=table_name, Key={"PK": {"S": "types"}, "SK": {"S": "1"}})["Item"]
    queried = dynamodb.query(
        TableName=table_name, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "types"}}
    )
    batch = dynamodb.batch_get_item(RequestItems={table_name: {"Keys": [{"PK": {"S": "types"}, "SK": {"S": "1"}}]}})
    for found in (got, queried["Items"][0], batch["Responses"][table_name][0]):
        assert {k: v for k, v in found.items() if k not in ("ss", "ns", "bs")} == {
            k: v for k, v in item.items() if k not in ("ss", "ns", "bs")
        }
        assert (
            sorted(found["ss"]["SS"]) == ["a", "b"]
            and sorted(found["ns"]["NS"]) == ["1", "2.5"]
            and found["bs"]["BS"] == [b"x"]
        )
    assert queried["Count"] == 1 and queried["ScannedCount"] == 1


def _moto_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    from scrip_local.emulator import ACCOUNT_ID

    return dynamodb_backends[ACCOUNT_ID]["us-east-1"].get_table(name)


def test_deepcopy_stays_the_standard_librarys_while_a_transaction_runs(
    dynamodb: Any, table_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction's table backup is skipped for moto's own copy only: a handler thread that
    deep-copies meanwhile gets the standard library's function and a real copy."""
    import copy
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "a"}, "SK": {"S": "1"}})
    table = _moto_table(table_name)
    seen: dict[str, Any] = {}
    original_put = DynamoDBBackend.put_item

    def spying_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        def handler_thread() -> None:
            seen["handler deepcopy"] = copy.deepcopy
            seen["handler copy is live"] = copy.deepcopy(table) is table

        thread = threading.Thread(target=handler_thread)
        thread.start()
        thread.join()
        seen["transaction deepcopy"] = copy.deepcopy
        return original_put(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", spying_put)
    dynamodb.transact_write_items(TransactItems=[_put("b", "1", table_name, v="new")])

    for where in ("handler deepcopy", "transaction deepcopy"):
        assert (seen[where].__module__, seen[where].__qualname__) == ("copy", "deepcopy"), where
    assert seen["handler copy is live"] is False


def test_a_table_copied_outside_a_transaction_is_a_real_copy(dynamodb: Any, table_name: str) -> None:
    import copy

    dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "v": {"S": "x"}})
    table = _moto_table(table_name)
    clone = copy.deepcopy(table)
    assert clone is not table and clone.stream_shard.table is clone
    dynamodb.put_item(TableName=table_name, Item={"PK": {"S": "a"}, "SK": {"S": "2"}})
    assert len(list(clone.all_items())) == 1 and len(list(table.all_items())) == 2


def test_the_patches_refuse_an_untested_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.responses import DynamoHandler

    from scrip_local import moto_patches

    monkeypatch.setattr(moto_patches, "_applied", False)
    monkeypatch.setattr(moto_patches, "_installed_moto", lambda: "5.3.0")
    before = DynamoHandler.call_action
    with pytest.raises(moto_patches.UnsupportedMoto, match=r"5\.2\.5.*5\.3\.0"):
        moto_patches.apply()
    assert DynamoHandler.call_action is before


def test_the_installed_moto_is_the_tested_one() -> None:
    from importlib import metadata

    from scrip_local import moto_patches

    assert metadata.version("moto") == moto_patches.TESTED_MOTO_VERSION


def test_a_sparse_index_query_pages_in_order_and_sees_every_write(dynamodb: Any) -> None:
    """Index queries are answered from a per-partition grouping: in index order, sparse, paged
    by ``ExclusiveStartKey``, and never from a grouping older than the last write."""
    name = f"patch-gsi-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "gp", "gs")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByG",
                "KeySchema": [{"AttributeName": "gp", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def put(pk: str, **attributes: str) -> None:
        item = {"PK": {"S": pk}, "SK": {"S": "#"}, **{k: {"S": v} for k, v in attributes.items()}}
        dynamodb.put_item(TableName=name, Item=item)

    def query(**extra: Any) -> dict[str, Any]:
        return dynamodb.query(  # type: ignore[no-any-return]
            TableName=name,
            IndexName="ByG",
            KeyConditionExpression="gp = :p AND gs > :after",
            ExpressionAttributeValues={":p": {"S": "p"}, ":after": {"S": "b"}},
            **extra,
        )

    for pk, sort in (("1", "c"), ("2", "e"), ("3", "d"), ("4", "a")):
        put(pk, gp="p", gs=sort, data="x")
    put("5", gp="other", gs="z")
    put("6", data="not indexed")

    first = query(Limit=2)
    assert [i["gs"]["S"] for i in first["Items"]] == ["c", "d"]
    assert set(first["Items"][0]) == {"PK", "SK", "gp", "gs"}  # keys only
    rest = query(Limit=2, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["gs"]["S"] for i in rest["Items"]] == ["e"]
    assert [i["gs"]["S"] for i in query(ScanIndexForward=False)["Items"]] == ["e", "d", "c"]

    put("1", gp="p", gs="f")  # moves within the index
    dynamodb.update_item(TableName=name, Key={"PK": {"S": "2"}, "SK": {"S": "#"}}, UpdateExpression="REMOVE gs")
    assert [i["gs"]["S"] for i in query()["Items"]] == ["d", "f"]
