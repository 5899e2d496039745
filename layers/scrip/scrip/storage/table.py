"""The DynamoDB client the repositories share.

The resource-level client converts plain Python values (``str``, ``Decimal``, ``dict``) to
attribute values for every operation, transactions included, and builds expressions from
``boto3.dynamodb.conditions`` objects: the repositories never spell a type descriptor.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

TABLE_ENV = "SCRIP_TABLE_NAME"


@cache
def client() -> Any:
    # Fail fast and let callers retry: API Gateway gives a request 29 s, Lambda's default
    # retry budget of the SDK would spend it on one throttled call.
    config = Config(retries={"max_attempts": 4, "mode": "adaptive"}, connect_timeout=2, read_timeout=5)
    return boto3.resource("dynamodb", config=config).meta.client


def table_name() -> str:
    return os.environ[TABLE_ENV]


def reset() -> None:
    """Forget the cached client (tests switch emulators between cases)."""
    client.cache_clear()
