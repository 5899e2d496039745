"""One place that runs ``TransactWriteItems``, explains its cancellations, and makes a lost
answer harmless.

Each item may carry the error to raise when its condition fails, so a cancelled transaction
becomes the domain's answer (``409 conflict``, ``422 insufficient_balance``) and not a
botocore exception. Transactions cancelled by a conflicting transaction are retried with
jitter: DynamoDB cancels rather than queues them; one that keeps conflicting is ``409``.
An item or transaction over DynamoDB's size limits is ``413 payload_too_large``.

Exactly once when an answer is lost. DynamoDB can commit a transaction whose answer never
arrives (a timeout, a reset connection, a 500 after the write); botocore then sends the same
call again, and without a defence the re-send fails the balance's version condition, the
caller re-plans and the operation is applied twice. Two defences:

* Every call carries a ``ClientRequestToken``, kept by the SDK's re-sends, so AWS answers a
  re-send of a committed transaction with success and applies nothing (for 10 minutes). The
  token is random per commit rather than a hash of the items: two distinct requests may send
  identical items (a tag set, removed, set again), and AWS would swallow the later as a replay.
* The token cannot help when the SDK's retries run out on an ambiguous error, nor under an
  emulator that ignores it (moto). So a caller marks one put as the commit's *proof*
  (``put(..., proves_commit=True)``): an item under a freshly generated id, conditioned on its
  absence (a balance operation's journal entry, a create's resource). When the transaction is
  cancelled on that put's condition, or its outcome is unknown, one consistent read of the
  item tells whether this very transaction committed; if so the call succeeds and the caller
  answers from the plan it committed: one journal entry, one resource. The success path
  costs no extra request, and neither does an ordinary cancellation (the proof's own
  condition held, so it did not commit).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder
from botocore.exceptions import ClientError, HTTPClientError

from scrip.domain.errors import Conflict, PayloadTooLarge
from scrip.storage import table

MAX_ITEMS = 100
_CONFLICT_RETRIES = 5
_IN_PROGRESS_RETRIES = 5
# Cancellation reasons that say "try again later", not "your transaction is wrong".
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# Errors after which the transaction may or may not have committed.
_AMBIGUOUS_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "RequestTimeout", "TransactionInProgressException"}
)


class TransactionCancelled(Exception):
    """Cancelled for a reason no item claimed (a bug, or a condition without a handler)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


@dataclass(frozen=True)
class Write:
    """One item of a transaction: ``kind`` is Put, Update, Delete or ConditionCheck.

    ``proves_commit`` marks a Put whose item exists only if this transaction committed (see the
    module's docstring).
    """

    kind: str
    params: dict[str, Any]
    on_condition_failed: Callable[[], Exception] | None = None
    proves_commit: bool = False

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
    item: dict[str, Any],
    *,
    condition: Any = None,
    on_condition_failed: Callable[[], Exception] | None = None,
    proves_commit: bool = False,
) -> Write:
    """A put; ``proves_commit`` needs an item keyed by a fresh id, and conditions it on its absence."""
    params: dict[str, Any] = {"Item": {k: v for k, v in item.items() if v is not None}}
    if proves_commit:
        condition = Attr("PK").not_exists() if condition is None else condition
    if condition is not None:
        params["ConditionExpression"] = condition
    return Write("Put", params, on_condition_failed, proves_commit)


def delete(
    key: dict[str, str], *, condition: Any = None, on_condition_failed: Callable[[], Exception] | None = None
) -> Write:
    params: dict[str, Any] = {"Key": key}
    if condition is not None:
        params["ConditionExpression"] = condition
    return Write("Delete", params, on_condition_failed)


def condition_check(key: dict[str, str], condition: Any, on_condition_failed: Callable[[], Exception]) -> Write:
    return Write("ConditionCheck", {"Key": key, "ConditionExpression": condition}, on_condition_failed)


class Staging(Protocol):
    def stage(self, writes: list[Write]) -> None: ...


# The unit of work builds on this module (it commits through ``commit_now``), so this module
# knows it only as something that stages writes: the dependency runs one way.
_staging: ContextVar[Staging | None] = ContextVar("scrip_staging", default=None)


@contextmanager
def staging_into(staging: Staging) -> Iterator[None]:
    """Inside the block, ``write`` stages into ``staging`` instead of committing."""
    token = _staging.set(staging)
    try:
        yield
    finally:
        _staging.reset(token)


def write(writes: Sequence[Write]) -> None:
    """Commit ``writes`` atomically or raise the error of the first failed condition.

    Inside ``unit_of_work.collecting()`` the writes are staged instead, to commit with the
    rest of the unit.
    """
    staging = _staging.get()
    if staging is not None:
        staging.stage(list(writes))
        return
    commit_now(writes)


def commit_now(writes: Sequence[Write]) -> None:
    """``TransactWriteItems`` now, whatever unit of work is collecting."""
    if not writes:
        return
    if len(writes) > MAX_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_ITEMS} items, got {len(writes)}")
    request = [w.request() for w in writes]
    proof = next((index for index, w in enumerate(writes) if w.proves_commit), None)
    for attempt in range(_CONFLICT_RETRIES + 1):
        try:
            _send(request, writes, proof)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            cancelled = error.response.get("CancellationReasons", [])
            reasons = [r.get("Code", "None") for r in cancelled]
            if proof is not None and _proof_may_exist(reasons, proof) and _committed(writes[proof]):
                return  # a re-send of our own committed transaction
            for w, reason in zip(writes, reasons, strict=False):
                if reason == "ConditionalCheckFailed" and w.on_condition_failed is not None:
                    raise w.on_condition_failed() from None
            if any(r.get("Code") == "ValidationError" and _too_large(r.get("Message", "")) for r in cancelled):
                raise _payload_too_large() from None
            if _TRANSIENT_REASONS & set(reasons) and attempt < _CONFLICT_RETRIES:
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not a secret
                continue
            if _TRANSIENT_REASONS & set(reasons):
                raise Conflict("the change conflicted with concurrent changes too often; retry the request") from None
            raise TransactionCancelled(reasons) from None


def _send(request: list[dict[str, Any]], writes: Sequence[Write], proof: int | None) -> None:
    """One transaction, its outcome made definite: returns once committed, raises if not."""
    token = str(uuid.uuid4())
    for attempt in range(_IN_PROGRESS_RETRIES + 1):
        try:
            table.client().transact_write_items(TransactItems=request, ClientRequestToken=token)
            return
        except ClientError as error:
            code, message = error.response["Error"].get("Code"), error.response["Error"].get("Message", "")
            if code == "TransactionInProgressException" and attempt < _IN_PROGRESS_RETRIES:
                # The first send with this token is still running: the same token waits for its outcome.
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
                continue
            if code == "ValidationException" and _too_large(message):
                raise _payload_too_large() from None
            if code in _AMBIGUOUS_CODES and proof is not None and _committed(writes[proof]):
                return
            raise
        except HTTPClientError:
            # A timeout or a reset connection: the request may have reached DynamoDB.
            if proof is not None and _committed(writes[proof]):
                return
            raise


def _proof_may_exist(reasons: list[str], proof: int) -> bool:
    """Whether the proof item may exist: its own condition failed, or DynamoDB did not say."""
    return proof >= len(reasons) or reasons[proof] == "ConditionalCheckFailed"


def _committed(proof: Write) -> bool:
    """Whether the proof's item is in the table, as this transaction wrote it."""
    item = proof.params["Item"]
    got = table.client().get_item(
        TableName=table.table_name(), Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True
    )
    found = got.get("Item")
    return found is not None and found.get("id") == item.get("id")


def _too_large(message: str) -> bool:
    text = message.lower()
    return "size" in text and ("exceeded" in text or "larger than" in text)


def _payload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        "the change is larger than one item (400 KB) or one transaction (4 MB) can hold; shorten the request"
    )
