"""One place that runs ``TransactWriteItems`` and explains its cancellations.

Each item may carry the error to raise when its condition fails, so a cancelled transaction
becomes the domain's answer (``409 conflict``, ``422 insufficient_balance``) and not a
botocore exception. Transactions cancelled by a conflicting transaction are retried with
jitter: DynamoDB cancels rather than queues them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionExpressionBuilder
from botocore.exceptions import ClientError

from scrip.storage import table, unit_of_work

MAX_ITEMS = 100
_CONFLICT_RETRIES = 5


class TransactionCancelled(Exception):
    """Cancelled for a reason no item claimed (a bug, or a condition without a handler)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


@dataclass(frozen=True)
class Write:
    """One item of a transaction: ``kind`` is Put, Update, Delete or ConditionCheck."""

    kind: str
    params: dict[str, Any]
    on_condition_failed: Callable[[], Exception] | None = None

    def request(self) -> dict[str, Any]:
        params = dict(self.params)
        condition = params.get("ConditionExpression")
        if condition is not None and not isinstance(condition, str):
            # boto3 builds expressions from condition objects only for top-level parameters,
            # not inside TransactItems: build them here, one placeholder namespace per item.
            built = ConditionExpressionBuilder().build_expression(condition)
            params["ConditionExpression"] = built.condition_expression
            params["ExpressionAttributeNames"] = {
                **params.get("ExpressionAttributeNames", {}),
                **built.attribute_name_placeholders,
            }
            if built.attribute_value_placeholders:
                params["ExpressionAttributeValues"] = {
                    **params.get("ExpressionAttributeValues", {}),
                    **built.attribute_value_placeholders,
                }
        return {self.kind: {"TableName": table.table_name(), **params}}


def put(
    item: dict[str, Any], *, condition: Any = None, on_condition_failed: Callable[[], Exception] | None = None
) -> Write:
    params: dict[str, Any] = {"Item": {k: v for k, v in item.items() if v is not None}}
    if condition is not None:
        params["ConditionExpression"] = condition
    return Write("Put", params, on_condition_failed)


def delete(
    key: dict[str, str], *, condition: Any = None, on_condition_failed: Callable[[], Exception] | None = None
) -> Write:
    params: dict[str, Any] = {"Key": key}
    if condition is not None:
        params["ConditionExpression"] = condition
    return Write("Delete", params, on_condition_failed)


def condition_check(key: dict[str, str], condition: Any, on_condition_failed: Callable[[], Exception]) -> Write:
    return Write("ConditionCheck", {"Key": key, "ConditionExpression": condition}, on_condition_failed)


def write(writes: Sequence[Write]) -> None:
    """Commit ``writes`` atomically or raise the error of the first failed condition.

    Inside ``unit_of_work.collecting()`` the writes are staged instead, to commit with the
    rest of the unit.
    """
    unit = unit_of_work.current()
    if unit is not None:
        unit.stage(list(writes))
        return
    commit_now(writes)


def commit_now(writes: Sequence[Write]) -> None:
    """``TransactWriteItems`` now, whatever unit of work is collecting."""
    if not writes:
        return
    if len(writes) > MAX_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_ITEMS} items, got {len(writes)}")
    request = [w.request() for w in writes]
    for attempt in range(_CONFLICT_RETRIES + 1):
        try:
            table.client().transact_write_items(TransactItems=request)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            for w, reason in zip(writes, reasons, strict=False):
                if reason == "ConditionalCheckFailed" and w.on_condition_failed is not None:
                    raise w.on_condition_failed() from None
            if "TransactionConflict" in reasons and attempt < _CONFLICT_RETRIES:
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
                continue
            raise TransactionCancelled(reasons) from None
