"""Threads never share a DynamoDB client's expression builder.

boto3's resource client builds ``Key``/``Attr`` expressions with one placeholder counter per
client and resets it at every call: two threads querying through one client number their
placeholders over each other, and a query of a program's rules can go out as
``PK = :v0 AND begins_with(SK, :v0)`` with ``:v0`` the prefix, which answers nothing (an event
that completed with no rule evaluations on a freshly started local stack). The local stack
serves many simulated containers from one process, so each thread must have its own client.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from botocore.awsrequest import AWSResponse

from scrip.storage import listing, table
from tests.interleaving import run_switching_often


def test_each_thread_has_its_own_client(stack: Any) -> None:
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(table.client()))
    thread.start()
    thread.join()
    assert seen[0] is not table.client()


def test_concurrent_queries_bind_their_own_values(stack: Any) -> None:
    """Each query leaves with its own partition and prefix bound (sent nowhere: answered empty)."""
    wrong: list[str] = []

    def answer_empty(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        request = json.loads(params["body"])
        values = {v["S"] for v in request["ExpressionAttributeValues"].values()}
        if values != {request["TableName"] + "#" + threading.current_thread().name, "ITEM#"}:
            wrong.append(request["KeyConditionExpression"] + " " + json.dumps(request["ExpressionAttributeValues"]))
        return AWSResponse("http://local", 200, {}, None), {"Items": [], "Count": 0}

    def read() -> None:
        client = table.client()
        client.meta.events.register("before-call.dynamodb.Query", answer_empty, unique_id=f"empty-{uuid.uuid4()}")
        partition = table.table_name() + "#" + threading.current_thread().name
        for _ in range(2000):
            listing.read_all(partition, prefix="ITEM#")

    threads = [threading.Thread(target=read, name=f"reader-{n}") for n in range(4)]
    run_switching_often(threads)
    assert wrong == []
