"""Messages to the SQS queues between the table's stream and the workers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3

MAX_DELAY_SECONDS = 900


@cache
def _client() -> Any:
    return boto3.client("sqs")


def reset() -> None:
    _client.cache_clear()


def send(url: str, messages: list[tuple[dict[str, Any], int]]) -> None:
    """(body, delay in seconds) each, to the queue at ``url``; batches of ten."""
    for start in range(0, len(messages), 10):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(body),
                "DelaySeconds": max(0, min(delay, MAX_DELAY_SECONDS)),
            }
            for index, (body, delay) in enumerate(messages[start : start + 10])
        ]
        response = _client().send_message_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} messages were not queued: {response['Failed']}")
