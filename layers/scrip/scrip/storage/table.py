"""The DynamoDB client the repositories share.

The resource-level client converts plain Python values (``str``, ``Decimal``, ``dict``) to
attribute values for every operation, transactions included, and builds expressions from
``boto3.dynamodb.conditions`` objects: the repositories never spell a type descriptor.

One client per thread: the resource's expression builder keeps its placeholder counters on
the client and resets them at every call, so two threads building expressions on one client
can swap each other's values (a query for one partition answered from another). Lambda runs
one thread per container, so this costs nothing there; the local stack serves containers from
threads of one process.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from scrip import settings

_local = threading.local()
_generation = 0


def client() -> Any:
    if getattr(_local, "generation", None) != _generation:
        # Fail fast and let callers retry: API Gateway gives a request 29 s, Lambda's default
        # retry budget of the SDK would spend it on one throttled call.
        config = Config(retries={"max_attempts": 4, "mode": "adaptive"}, connect_timeout=2, read_timeout=5)
        _local.client = boto3.resource("dynamodb", config=config).meta.client
        _local.generation = _generation
    return _local.client


def table_name() -> str:
    return settings.current().table_name


def reset() -> None:
    """Forget the clients (tests switch emulators between cases)."""
    global _generation
    _generation += 1


def error_code(error: BaseException) -> str | None:
    """DynamoDB's error code when ``error`` is an AWS error answer, for callers that keep out of botocore."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")) or None
    return None
