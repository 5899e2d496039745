"""Delivering DynamoDB stream records, SQS messages and schedules to their functions.

Each source follows the semantics of Lambda's event source mappings:

* **Streams**: records of a shard in order, in batches of ``BatchSize``. A failed batch is
  retried; with ``ReportBatchItemFailures`` the retry starts at the first failed record
  (everything before it counts as processed). After ``MaximumRetryAttempts`` the batch is
  described to the ``OnFailure`` destination and skipped.
* **SQS**: up to ``BatchSize`` messages a batch; a successful invocation deletes the batch,
  a failed one deletes nothing, and with ``ReportBatchItemFailures`` only the listed messages
  stay (they reappear after the visibility timeout; the redrive policy moves them to the
  dead-letter queue).
* **Schedules**: ``rate(...)`` expressions run on their period; every schedule can be fired
  on demand (``LocalStack.fire_schedule``), which is how tests drive time-based jobs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scrip_local.emulator import ACCOUNT_ID, Emulator
from scrip_local.runtime import Function
from scrip_local.template import EventSource

DEFAULT_STREAM_RETRIES = 3


def _failed_identifiers(response: Any) -> list[str] | None:
    """The ``batchItemFailures`` identifiers, or None when the response reports none."""
    if not isinstance(response, dict) or "batchItemFailures" not in response:
        return None
    return [str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []]


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """Lambda's event filtering (the equality subset): every pattern key must match; a list
    lists the values a leaf may take, a nested object matches a nested object."""
    if not isinstance(record, dict):
        return False
    for key, expected in pattern.items():
        if key not in record:
            return False
        value = record[key]
        if isinstance(expected, dict):
            if not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True


def _stream_record(record: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record.get("eventID", uuid.uuid4().hex),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": arn,
    }


@dataclass
class StreamSubscription:
    function: Function
    stream_arn: str
    batch_size: int
    report_item_failures: bool
    max_retries: int
    on_failure_arn: str | None
    starting_position: str
    patterns: list[dict[str, Any]] = field(default_factory=list)
    iterators: dict[str, str | None] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


@dataclass
class QueueSubscription:
    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    report_item_failures: bool


@dataclass
class ScheduleSubscription:
    function: Function
    name: str
    period_seconds: float | None
    payload: Any
    next_run: float = 0.0


def rate_seconds(expression: str) -> float | None:
    match = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        return None  # cron(...) runs only on demand locally
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


class EventSources:
    def __init__(self, emulator: Emulator, functions: dict[str, Function], sources: list[EventSource]) -> None:
        self.emulator = emulator
        self.streams: list[StreamSubscription] = []
        self.queues: list[QueueSubscription] = []
        self.schedules: dict[str, ScheduleSubscription] = {}
        self.dead_letters: list[dict[str, Any]] = []
        # Other sources' deliveries (log subscriptions): each returns True if it delivered anything.
        self.deliveries: list[Callable[[], bool]] = []
        for source in sources:
            function = functions[source.function]
            props = source.properties
            failure_types = props.get("FunctionResponseTypes") or []
            if source.kind == "DynamoDB":
                destination = (props.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
                retries = props.get("MaximumRetryAttempts", DEFAULT_STREAM_RETRIES)
                self.streams.append(
                    StreamSubscription(
                        function=function,
                        stream_arn=str(emulator.resolve(props["Stream"])),
                        batch_size=int(props.get("BatchSize", 100)),
                        report_item_failures="ReportBatchItemFailures" in failure_types,
                        max_retries=int(retries) if int(retries) >= 0 else DEFAULT_STREAM_RETRIES,
                        on_failure_arn=str(emulator.resolve(destination)) if destination else None,
                        starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
                        patterns=[
                            json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])
                        ],
                    )
                )
            elif source.kind == "SQS":
                arn = str(emulator.resolve(props["Queue"]))
                self.queues.append(
                    QueueSubscription(
                        function=function,
                        queue_url=self._queue_url(arn),
                        queue_arn=arn,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_item_failures="ReportBatchItemFailures" in failure_types,
                    )
                )
            elif source.kind in ("Schedule", "ScheduleV2"):
                expression = props.get("Schedule") or props.get("ScheduleExpression", "")
                payload = json.loads(props["Input"]) if props.get("Input") else None
                self.schedules[source.function] = ScheduleSubscription(
                    function=function, name=source.function, period_seconds=rate_seconds(expression), payload=payload
                )
        for subscription in self.streams:
            self._open_shards(subscription)

    def _queue_url(self, arn: str) -> str:
        for physical in self.emulator.physical.values():
            if physical.get("Arn") == arn and "QueueUrl" in physical:
                return physical["QueueUrl"]
        raise KeyError(f"no queue with ARN {arn}")

    # ------------------------------------------------------------------ streams
    def _open_shards(self, subscription: StreamSubscription) -> None:
        streams = self.emulator.client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=subscription.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in subscription.iterators:
                subscription.iterators[shard["ShardId"]] = streams.get_shard_iterator(
                    StreamArn=subscription.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=subscription.starting_position,
                )["ShardIterator"]

    def _read_stream(self, subscription: StreamSubscription) -> int:
        """Read what the shards hold past the iterators; the number of records read (filtered
        ones included: a read of only filtered records still moves the position on)."""
        streams = self.emulator.client("dynamodbstreams")
        read = 0
        for shard_id, iterator in list(subscription.iterators.items()):
            if iterator is None:
                continue
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            read += len(response.get("Records", []))
            for record in response.get("Records", []):
                # Filtered-out records are never delivered (they count as processed).
                shaped = _stream_record(record, subscription.stream_arn, self.emulator.region)
                if not subscription.patterns or any(matches(p, shaped) for p in subscription.patterns):
                    subscription.pending.append(record)
            subscription.iterators[shard_id] = response.get("NextShardIterator")
        return read

    def _deliver_stream_batch(self, subscription: StreamSubscription) -> bool:
        if not subscription.pending:
            return False
        batch = subscription.pending[: subscription.batch_size]
        event = {"Records": [_stream_record(r, subscription.stream_arn, self.emulator.region) for r in batch]}
        processed = 0
        try:
            response = subscription.function.invoke(event)
            failed = _failed_identifiers(response) if subscription.report_item_failures else None
            if not failed:
                processed = len(batch)
            else:
                sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
                first = min((sequence_numbers.index(f) for f in failed if f in sequence_numbers), default=0)
                processed = first
        except Exception:  # noqa: BLE001 - a failed invocation is retried like Lambda does
            processed = 0
        if processed == len(batch):
            del subscription.pending[: len(batch)]
            subscription.attempts = 0
            return True
        del subscription.pending[:processed]
        subscription.attempts += 1
        if subscription.attempts > subscription.max_retries:
            self._send_to_failure_destination(subscription, subscription.pending[: subscription.batch_size])
            del subscription.pending[: subscription.batch_size]
            subscription.attempts = 0
        return True

    def _send_to_failure_destination(self, subscription: StreamSubscription, records: list[dict[str, Any]]) -> None:
        detail = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": subscription.function.arn},
            "DDBStreamBatchInfo": {
                "streamArn": subscription.stream_arn,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"] if records else None,
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"] if records else None,
                "batchSize": len(records),
            },
        }
        self.dead_letters.append(detail)
        if subscription.on_failure_arn:
            url = self._queue_url(subscription.on_failure_arn)
            self.emulator.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(detail))

    # ------------------------------------------------------------------- queues
    def _deliver_queue_batch(self, subscription: QueueSubscription) -> bool:
        sqs = self.emulator.client("sqs")
        received = sqs.receive_message(
            QueueUrl=subscription.queue_url,
            MaxNumberOfMessages=min(10, subscription.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return False
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": a.get("StringValue"),
                        "binaryValue": a.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a["DataType"],
                    }
                    for name, a in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": subscription.queue_arn,
                "awsRegion": self.emulator.region,
            }
            for m in received
        ]
        try:
            response = subscription.function.invoke({"Records": records})
        except Exception:  # noqa: BLE001 - the whole batch returns to the queue
            return True
        failed = set(_failed_identifiers(response) or []) if subscription.report_item_failures else set()
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=subscription.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done[start : start + 10])
                ],
            )
        return True

    # ---------------------------------------------------------------- schedules
    def fire_schedule(self, name: str, at: datetime | None = None) -> Any:
        subscription = self.schedules[name]
        moment = at or datetime.now(UTC)
        event = (
            subscription.payload
            if subscription.payload is not None
            else {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT_ID,
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.emulator.region,
                "resources": [f"arn:aws:events:{self.emulator.region}:{ACCOUNT_ID}:rule/{name}"],
                "detail": {},
            }
        )
        return subscription.function.invoke(event)

    def _due_schedules(self) -> bool:
        now, fired = time.monotonic(), False
        for subscription in self.schedules.values():
            if subscription.period_seconds is None:
                continue
            if subscription.next_run == 0.0:
                subscription.next_run = now + subscription.period_seconds
            elif now >= subscription.next_run:
                subscription.next_run = now + subscription.period_seconds
                self.fire_schedule(subscription.name)
                fired = True
        return fired

    # -------------------------------------------------------------------- pump
    def pump_once(self) -> bool:
        """Read and deliver what is waiting; True if anything was delivered."""
        worked = False
        for stream in self.streams:
            read = self._read_stream(stream)
            worked = self._deliver_stream_batch(stream) or read > 0 or worked
        for queue in self.queues:
            worked = self._deliver_queue_batch(queue) or worked
        for deliver in self.deliveries:
            worked = deliver() or worked
        return worked

    def drain(self, max_rounds: int = 10_000) -> int:
        """Deliver until nothing is waiting (messages in their visibility timeout excepted)."""
        rounds = 0
        while rounds < max_rounds and self.pump_once():
            rounds += 1
        return rounds

    def tick(self) -> None:
        self._due_schedules()
        self.pump_once()
