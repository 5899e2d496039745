"""The local stack delivers streams, queues and schedules with Lambda's shapes and semantics."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from scrip_local.stack import LocalStack
from tests.fixtures.delivery import recorder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "delivery" / "template.yaml"


@pytest.fixture
def delivery(stack: LocalStack) -> Iterator[LocalStack]:  # the session stack keeps the emulator up
    recorder.reset()
    local = LocalStack(FIXTURE, stack_name=f"delivery-{uuid.uuid4().hex[:8]}")
    yield local
    local.emulator.stop()
    recorder.reset()


def _put(local: LocalStack, *sort_keys: str) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    name = local.emulator.physical["RecordsTable"]["Ref"]
    for sk in sort_keys:
        client.put_item(TableName=name, Item={"PK": {"S": "p"}, "SK": {"S": sk}, "v": {"N": "1"}})


def _sent(local: LocalStack, queue: str, *bodies: str) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    for body in bodies:
        sqs.send_message(QueueUrl=local.emulator.physical[queue]["Ref"], MessageBody=body)


def _queue_bodies(local: LocalStack, queue: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=local.emulator.physical[queue]["Ref"], MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [m["Body"] for m in messages]


def _stream_keys(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["SK"]["S"] for r in event["Records"]]


def test_stream_records_arrive_in_order_in_lambda_shape_and_batches(delivery: LocalStack) -> None:
    _put(delivery, "a", "b", "c", "d")
    delivery.drain()
    batches = recorder.calls["stream"]
    assert [_stream_keys(e) for e in batches] == [["a", "b", "c"], ["d"]]
    record = batches[0]["Records"][0]
    assert record["eventSource"] == "aws:dynamodb" and record["eventName"] == "INSERT"
    assert record["eventSourceARN"] == delivery.emulator.physical["RecordsTable"]["StreamArn"]
    assert record["dynamodb"]["NewImage"]["v"] == {"N": "1"}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    json.dumps(batches)  # Lambda events are plain JSON


def test_stream_partial_failure_retries_from_the_failed_record(delivery: LocalStack) -> None:
    attempts: dict[str, int] = {}

    def fail_b_once(record: dict[str, Any]) -> bool:
        key = record["dynamodb"]["Keys"]["SK"]["S"]
        attempts[key] = attempts.get(key, 0) + 1
        return key == "b" and attempts[key] == 1

    recorder.fail["stream"] = fail_b_once
    _put(delivery, "a", "b", "c")
    delivery.drain()
    assert [_stream_keys(e) for e in recorder.calls["stream"]] == [["a", "b", "c"], ["b", "c"]]


def test_stream_batch_that_keeps_failing_goes_to_the_failure_destination(delivery: LocalStack) -> None:
    recorder.fail["stream"] = lambda record: record["dynamodb"]["Keys"]["SK"]["S"] == "poison"
    _put(delivery, "poison", "after")
    delivery.drain()
    # One try and two retries of the batch that starts at the poison record; then, as Lambda
    # does without BisectBatchOnFunctionError, the whole batch is reported and skipped.
    assert [_stream_keys(e) for e in recorder.calls["stream"]] == [["poison", "after"]] * 3
    failures = [json.loads(b) for b in _queue_bodies(delivery, "StreamFailureQueue")]
    assert len(failures) == 1
    assert failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failures[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_sqs_batches_delete_successes_and_keep_reported_failures(delivery: LocalStack) -> None:
    recorder.fail["queue"] = lambda record: record["body"] == "bad"
    _sent(delivery, "WorkQueue", "one", "bad", "two")
    delivery.drain()
    first = recorder.calls["queue"][0]["Records"]
    assert sorted(r["body"] for r in first) == ["bad", "one", "two"]
    record = first[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == delivery.emulator.physical["WorkQueue"]["Arn"]
    assert {"messageId", "receiptHandle", "attributes", "messageAttributes", "md5OfBody", "awsRegion"} <= set(record)
    # "bad" is redelivered until the redrive policy moves it to the dead-letter queue
    later = [r["body"] for call in recorder.calls["queue"][1:] for r in call["Records"]]
    assert later and set(later) == {"bad"}
    assert _queue_bodies(delivery, "WorkDeadLetterQueue") == ["bad"]
    assert _queue_bodies(delivery, "WorkQueue") == []


def test_sqs_crash_returns_the_whole_batch(delivery: LocalStack) -> None:
    crashes = {"left": 1}

    def crash_once(_: dict[str, Any]) -> bool:
        crashes["left"] -= 1
        return crashes["left"] >= 0

    recorder.fail["queue_crash"] = crash_once
    _sent(delivery, "WorkQueue", "x", "y")
    delivery.drain()
    deliveries = [sorted(r["body"] for r in call["Records"]) for call in recorder.calls["queue"]]
    assert deliveries[0] == ["x", "y"] and deliveries[-1] == ["x", "y"] and len(deliveries) == 2
    assert _queue_bodies(delivery, "WorkDeadLetterQueue") == []


def test_schedule_fires_with_an_eventbridge_event(delivery: LocalStack) -> None:
    assert delivery.fire_schedule("ScheduleFunction") == {"ran": True}
    event, function_name, remaining = recorder.calls["schedule"][0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/ScheduleFunction")
    assert function_name == "ScheduleFunction" and 0 < remaining <= 30_000


def test_drain_reads_past_records_the_filter_drops(stack: LocalStack) -> None:
    """A read that returns only filtered-out records still moves on: drain must keep reading."""
    recorder.reset()
    local = LocalStack(FIXTURE, stack_name=f"filtered-{uuid.uuid4().hex[:8]}")
    try:
        subscription = local.events.streams[0]
        subscription.patterns = [{"dynamodb": {"Keys": {"SK": {"S": ["wanted"]}}}}]
        _put(local, *[f"noise-{i:04d}" for i in range(1200)], "wanted")
        local.drain()
        assert [_stream_keys(e) for e in recorder.calls["stream"]] == [["wanted"]]
    finally:
        local.emulator.stop()
        recorder.reset()
