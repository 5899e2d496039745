"""Idempotency records that commit in the same transaction as the work they protect.

A record is a conditional put (``attribute_not_exists``) added to the operation's own
``TransactWriteItems``: either the operation and its record commit together, or neither does.
Two concurrent requests with one key can therefore never both execute: the loser's
transaction is cancelled on the record's condition, and it answers from the winner's record.
Powertools' idempotency utility writes its record in a separate call before the work, which
cannot give that guarantee for ledger operations; it stays the tool for non-transactional
handlers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip import settings
from scrip.domain.errors import ApiError, IdempotencyConflict
from scrip.domain.idempotency import IdempotencyScope, IdempotentAnswer, StoredResponse
from scrip.storage import keys, table, transactions

RETENTION_ENV = settings.IDEMPOTENCY_RETENTION_SECONDS
DEFAULT_RETENTION_SECONDS = settings.DEFAULT_IDEMPOTENCY_RETENTION_SECONDS


def retention_seconds() -> int:
    return settings.current().idempotency_retention_seconds


class _KeyTaken(Exception):
    """The record's condition failed: another request with this key committed first."""


def _key(scope: IdempotencyScope) -> dict[str, str]:
    return {
        "PK": keys.idempotency(scope.organization_id, scope.program_id, scope.family, scope.key),
        "SK": keys.ENTITY_SK,
    }


def record_write(
    scope: IdempotencyScope, fingerprint: str, response: StoredResponse, *, expires: bool = True
) -> transactions.Write:
    """The conditional put that claims ``scope`` inside the operation's transaction."""
    item: dict[str, Any] = {
        **_key(scope),
        "entity": "IDEMPOTENCY",
        "idempotency_key": scope.key,
        "family": scope.family,
        "fingerprint": fingerprint,
        "response_status": response.status,
        "response_body": json.dumps(response.body, default=str, separators=(",", ":")),
    }
    if expires:
        item["expires_at_epoch"] = int(time.time()) + retention_seconds()
    return transactions.put(item, condition=Attr("PK").not_exists(), on_condition_failed=_KeyTaken)


def find(scope: IdempotencyScope) -> tuple[str, StoredResponse] | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(scope), ConsistentRead=True)
    item = got.get("Item")
    if item is None:
        return None
    # TTL deletion lags by up to days: an expired record is treated as gone.
    expires = item.get("expires_at_epoch")
    if expires is not None and int(expires) < time.time():
        return None
    status = item["response_status"]
    body = json.loads(item["response_body"], parse_float=Decimal)
    return item["fingerprint"], StoredResponse(int(status), body)


def _answer_from_record(scope: IdempotencyScope, fingerprint: str) -> IdempotentAnswer | None:
    found = find(scope)
    if found is None:
        return None
    stored_fingerprint, response = found
    if stored_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"idempotency_key {scope.key!r} was already used with a different payload",
            details={"idempotency_key": scope.key},
        )
    return IdempotentAnswer(response, replayed=True)


def run_once(
    scope: IdempotencyScope,
    fingerprint: str,
    prepare: Callable[[], tuple[Sequence[transactions.Write], StoredResponse]],
    *,
    expires: bool = True,
) -> IdempotentAnswer:
    """Execute an operation at most once per ``scope``.

    ``prepare`` reads what it needs and returns the writes of the operation and the response
    it will answer; the writes commit together with the idempotency record. A replay with the
    same fingerprint answers the stored response; a different fingerprint is ``409``.
    """
    existing = _answer_from_record(scope, fingerprint)
    if existing is not None:
        return existing
    writes, response = prepare()
    try:
        transactions.write([*writes, record_write(scope, fingerprint, response, expires=expires)])
    except _KeyTaken:
        raced = _answer_from_record(scope, fingerprint)
        if raced is None:  # the winner's record expired in between: vanishingly rare
            raise
        return raced
    return IdempotentAnswer(response, replayed=False)


def run_once_or_late_replay(
    scope: IdempotencyScope, digest: str, prepare: Callable[[], tuple[list[transactions.Write], StoredResponse]]
) -> IdempotentAnswer:
    """``run_once``, and the answer of a request with the same key that committed between the
    read of the key's record and the plan: what that request took makes this plan fail (a 422:
    insufficient balance, nothing left to reverse), yet this request is its replay (05 §6) and
    answers as one."""
    try:
        return run_once(scope, digest, prepare)
    except ApiError:
        found = find(scope)
        if found is None:
            raise
        stored_digest, response = found
        if stored_digest != digest:
            raise IdempotencyConflict(
                f"idempotency_key {scope.key!r} was already used with a different payload",
                details={"idempotency_key": scope.key},
            ) from None
        return IdempotentAnswer(response, replayed=True)
