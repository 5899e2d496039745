"""Request logs and daily usage counters (05 §4.7-4.8), written by the ingest function only.

Three kinds of item (docs/storage-design.md, "Request logs and usage"):

* the log itself, with its detail (bodies), in its own partition ``keys.request_log``: found by
  id (``GET /v1/logs/{id}``, the ``request_id`` filter), and the once-only claim of ingestion:
  its put is conditioned on its absence;
* a list line (the list fields) in one of ``REQUEST_LOG_SHARDS`` partitions of the
  organization's UTC day, sorted by ``created_at`` then id: a busy organization's writes spread
  over the shards, a day is a few queries, and old days expire with their lines;
* per organization and UTC day, counters (``request_count``, ``error_count``,
  ``duration_ms_total``) on one of ``USAGE_SHARDS`` partitions, each day an item of it: a
  usage report of any window is one query per shard.

Lines and logs expire ``LOG_RETENTION_SECONDS`` after the request (TTL); counters
``USAGE_RETENTION_SECONDS`` after their day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.domain.clock import parse_rfc3339, to_rfc3339
from scrip.domain.request_logs import RequestLog, UsageDay
from scrip.storage import keys, table, transactions

LOG_RETENTION_DAYS = 30
USAGE_RETENTION_DAYS = 400
LOG_RETENTION_SECONDS = LOG_RETENTION_DAYS * 86400
USAGE_RETENTION_SECONDS = USAGE_RETENTION_DAYS * 86400
LIST_SHARDS = keys.REQUEST_LOG_SHARDS
LOG_ENTITY = "REQUEST_LOG"
LINE_ENTITY = "REQUEST_LOG_LINE"
USAGE_ENTITY = "USAGE"

_LIST_FIELDS = (
    "id",
    "request_id",
    "method",
    "path",
    "route_pattern",
    "status_code",
    "duration_ms",
    "auth_type",
    "error_code",
    "created_at",
)
_DETAIL_FIELDS = ("ip_address", "user_agent", "request_body", "response_body")


_ADD_TO_USAGE = (
    "ADD request_count :count, error_count :errors, duration_ms_total :duration "
    "SET entity = :entity, expires_at_epoch = :expires"
)


class AlreadyStored(Exception):
    """A log of the transaction was stored before (its line was delivered again)."""


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _fields(log: RequestLog, names: Sequence[str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name in names:
        value = getattr(log, name)
        if name == "created_at":
            value = to_rfc3339(value)
        elif name == "duration_ms":
            value = Decimal(str(value))
        item[name] = value
    return item


def writes_for(logs: Sequence[RequestLog]) -> list[transactions.Write]:
    """Store ``logs`` (each with an organization) and add them to their days' usage counters.

    The transaction is cancelled (``AlreadyStored``) if any log was stored before; it then
    changes nothing. Counters go to one shard, chosen by the first log's id.
    """
    writes: list[transactions.Write] = []
    counters: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for log in logs:
        org_id = log.organization_id
        if org_id is None:
            raise ValueError("a request log without an organization cannot be stored")
        day = day_of(log.created_at)
        expires = _epoch(log.created_at) + LOG_RETENTION_SECONDS
        listed = _fields(log, _LIST_FIELDS)
        writes.append(
            transactions.put(
                {
                    "PK": keys.request_log(org_id, log.id),
                    "SK": keys.ENTITY_SK,
                    "entity": LOG_ENTITY,
                    "organization_id": org_id,
                    **listed,
                    **_fields(log, _DETAIL_FIELDS),
                    "expires_at_epoch": expires,
                },
                condition=Attr("PK").not_exists(),
                on_condition_failed=AlreadyStored,
            )
        )
        writes.append(
            transactions.put(
                {
                    "PK": keys.request_log_list(org_id, day, keys.shard_of(log.id, keys.REQUEST_LOG_SHARDS)),
                    "SK": keys.chronological(listed["created_at"], log.id),
                    "entity": LINE_ENTITY,
                    **listed,
                    "expires_at_epoch": expires,
                }
            )
        )
        counter = counters[(org_id, day)]
        counter[0] += 1
        counter[1] += 1 if log.is_error else 0
        counter[2] += Decimal(str(log.duration_ms))
    if logs:
        shard = keys.shard_of(logs[0].id, keys.USAGE_SHARDS)
        for (org_id, day), (count, errors, duration) in counters.items():
            day_started = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
            writes.append(
                transactions.Write(
                    "Update",
                    {
                        "Key": {"PK": keys.usage(org_id, shard), "SK": day},
                        "UpdateExpression": _ADD_TO_USAGE,
                        "ExpressionAttributeValues": {
                            ":count": count,
                            ":errors": errors,
                            ":duration": duration,
                            ":entity": USAGE_ENTITY,
                            ":expires": _epoch(day_started + timedelta(days=1)) + USAGE_RETENTION_SECONDS,
                        },
                    },
                )
            )
    return writes


def items_per_transaction(logs: int, counters: int) -> int:
    """How many items ``writes_for`` makes of ``logs`` logs spread over ``counters`` (organization, day) pairs."""
    return 2 * logs + counters


def store(logs: Sequence[RequestLog]) -> None:
    transactions.commit_now(writes_for(logs))


def _from_item(item: dict[str, Any]) -> RequestLog:
    return RequestLog(
        id=item["id"],
        organization_id=item.get("organization_id"),
        request_id=item["request_id"],
        method=item["method"],
        path=item["path"],
        route_pattern=item.get("route_pattern"),
        status_code=int(item["status_code"]),
        duration_ms=float(item["duration_ms"]),
        auth_type=item.get("auth_type"),
        error_code=item.get("error_code"),
        created_at=parse_rfc3339(item["created_at"]),
        ip_address=item.get("ip_address"),
        user_agent=item.get("user_agent"),
        request_body=item.get("request_body"),
        response_body=item.get("response_body"),
    )


def get(org_id: str, log_id: str) -> RequestLog | None:
    response = table.client().get_item(
        TableName=table.table_name(), Key={"PK": keys.request_log(org_id, log_id), "SK": keys.ENTITY_SK}
    )
    item = response.get("Item")
    return _from_item(item) if item else None


def window_bounds(start: datetime, end: datetime) -> tuple[str, str]:
    """The list positions of the first and last moment of a window (both inclusive)."""
    return to_rfc3339(start), keys.chronological_until(to_rfc3339(end))


def day_start(day: str) -> str:
    return keys.day_start(day)


def day_end(day: str) -> str:
    return keys.day_end(day)


def read_lines(
    org_id: str,
    day: str,
    shard: int,
    low: str,
    high: str,
    *,
    ascending: bool,
    limit: int,
    resume: dict[str, Any] | None = None,
) -> tuple[list[tuple[RequestLog, str]], dict[str, Any] | None]:
    """Up to ``limit`` lines of one day's shard between two positions (inclusive), each with its
    position; and where to resume (None when the range is read to its end)."""
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": Key("PK").eq(keys.request_log_list(org_id, day, shard))
        & Key("SK").between(low, high),
        "ScanIndexForward": ascending,
        "Limit": limit,
    }
    if resume is not None:
        params["ExclusiveStartKey"] = resume
    response = table.client().query(**params)
    lines = [(_from_item(item), str(item["SK"])) for item in response.get("Items", [])]
    return lines, response.get("LastEvaluatedKey")


def position_of(resume: dict[str, Any]) -> str:
    """The position of the last line read before ``resume``."""
    return str(resume["SK"])


def read_usage(org_id: str, first_day: str, last_day: str) -> dict[str, UsageDay]:
    """Each day's counters between two days (inclusive), summed over the shards; days without requests are absent."""
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for shard in range(keys.USAGE_SHARDS):
        params: dict[str, Any] = {
            "TableName": table.table_name(),
            "KeyConditionExpression": Key("PK").eq(keys.usage(org_id, shard)) & Key("SK").between(first_day, last_day),
        }
        while True:
            response = table.client().query(**params)
            for item in response.get("Items", []):
                total = totals[str(item["SK"])]
                total[0] += Decimal(item.get("request_count", 0))
                total[1] += Decimal(item.get("error_count", 0))
                total[2] += Decimal(item.get("duration_ms_total", 0))
            if "LastEvaluatedKey" not in response:
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return {
        day: UsageDay(date=day, request_count=int(count), error_count=int(errors), duration_ms_total=float(duration))
        for day, (count, errors, duration) in totals.items()
    }
