"""The SQS queue between the table's stream and the event processor.

A message names an event; its delay is the backoff before the attempt (SQS holds at most
15 minutes, far above the 16 s the schedule reaches).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3

QUEUE_ENV = "SCRIP_EVENT_QUEUE_URL"
MAX_DELAY_SECONDS = 900


@cache
def _client() -> Any:
    return boto3.client("sqs")


def reset() -> None:
    _client.cache_clear()


def enqueue(messages: list[tuple[str, str, int]]) -> None:
    """(organization id, event id, delay in seconds) each; sent in batches of ten."""
    url = os.environ[QUEUE_ENV]
    for start in range(0, len(messages), 10):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps({"organization_id": org, "event_id": event_id}),
                "DelaySeconds": max(0, min(delay, MAX_DELAY_SECONDS)),
            }
            for index, (org, event_id, delay) in enumerate(messages[start : start + 10])
        ]
        response = _client().send_message_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} event messages were not queued: {response['Failed']}")
