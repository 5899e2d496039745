"""Fan-out jobs: ``ORG#o#FANOUT#<id>`` / ``#``, one item per job.

The item's stream records drive it: its INSERT and every MODIFY that leaves it RUNNING ask the
stream dispatcher for the next page (``services/fanouts.py``). ``advance`` moves it on only from
the page it was read at, so a redelivered or stale record applies nothing twice, and only while
it is RUNNING, so ``cancel`` stops it between pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from scrip.domain.fanouts import FanOut, FanOutKind, FanOutStatus
from scrip.storage import items, keys, table, transactions

ENTITY = "FANOUT"


def _key(org_id: str, fanout_id: str) -> dict[str, str]:
    return {"PK": keys.fanout(org_id, fanout_id), "SK": keys.ENTITY_SK}


def start_writes(job: FanOut) -> list[transactions.Write]:
    """The job's item, put if absent: written in the transaction that decides the fan-out, so a
    job exists only if what asked for it committed."""
    item: dict[str, Any] = {
        **_key(job.organization_id, job.id),
        "entity": ENTITY,
        "organization_id": job.organization_id,
        "id": job.id,
        "kind": job.kind.value,
        "program_id": job.program_id,
        "payload": job.payload,
        "cursor": job.cursor,
        "page": job.page,
        "participants_processed": job.participants_processed,
        "status": job.status.value,
        "created_at": items.timestamp(job.created_at),
        "updated_at": items.timestamp(job.updated_at),
    }
    return [transactions.put(item, condition=Attr("PK").not_exists())]


def _from_item(item: dict[str, Any]) -> FanOut:
    created_at = items.moment(item["created_at"])
    updated_at = items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return FanOut(
        organization_id=str(item["organization_id"]),
        id=str(item["id"]),
        kind=FanOutKind(str(item["kind"])),
        program_id=str(item["program_id"]),
        payload=dict(item.get("payload") or {}),
        cursor=str(item["cursor"]) if item.get("cursor") is not None else None,
        page=int(item["page"]),
        participants_processed=int(item["participants_processed"]),
        status=FanOutStatus(str(item["status"])),
        created_at=created_at,
        updated_at=updated_at,
    )


def get(org_id: str, fanout_id: str) -> FanOut | None:
    response = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, fanout_id), ConsistentRead=True)
    item = response.get("Item")
    return _from_item(item) if item else None


def _conditional_update(org_id: str, fanout_id: str, **params: Any) -> bool:
    try:
        table.client().update_item(TableName=table.table_name(), Key=_key(org_id, fanout_id), **params)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def advance(job: FanOut, *, cursor: str | None, processed: int, finished: bool, now: datetime) -> bool:
    """Record one page done, from the page ``job`` was read at and only while RUNNING.

    False when another delivery of the same page advanced first or the job was cancelled: the
    caller then stops, and the page's count is not added twice.
    """
    names = {"#page": "page", "#status": "status", "#processed": "participants_processed", "#updated": "updated_at"}
    values: dict[str, Any] = {
        ":page": job.page,
        ":next": job.page + 1,
        ":n": processed,
        ":running": FanOutStatus.RUNNING.value,
        ":status": (FanOutStatus.COMPLETED if finished else FanOutStatus.RUNNING).value,
        ":now": items.timestamp(now),
    }
    expression = "SET #page = :next, #status = :status, #updated = :now"
    if cursor is not None:  # an empty last page keeps the position it started from
        names["#cursor"] = "cursor"
        values[":cursor"] = cursor
        expression += ", #cursor = :cursor"
    return _conditional_update(
        job.organization_id,
        job.id,
        UpdateExpression=f"{expression} ADD #processed :n",
        ConditionExpression="#page = :page AND #status = :running",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def restart(job: FanOut, *, payload: dict[str, Any], now: datetime) -> bool:
    """Run a finished job again from its start (cursor cleared, the next page, ``payload`` replaced),
    from the page and status it was read at: the update is the first page's stream record. False
    when it moved meanwhile (another restart won, or it is still RUNNING)."""
    return _conditional_update(
        job.organization_id,
        job.id,
        UpdateExpression="SET #page = :next, #status = :running, #payload = :payload, #updated = :now REMOVE #cursor",
        ConditionExpression="#page = :page AND #status <> :running",
        ExpressionAttributeNames={
            "#page": "page",
            "#status": "status",
            "#payload": "payload",
            "#updated": "updated_at",
            "#cursor": "cursor",
        },
        ExpressionAttributeValues={
            ":page": job.page,
            ":next": job.page + 1,
            ":running": FanOutStatus.RUNNING.value,
            ":payload": payload,
            ":now": items.timestamp(now),
        },
    )


def nudge(job: FanOut, now: datetime) -> bool:
    """Write the job again as it was read (RUNNING, same page), for a new stream record of its
    page: what drives a job whose record was lost. False when it moved meanwhile."""
    return _conditional_update(
        job.organization_id,
        job.id,
        UpdateExpression="SET #updated = :now",
        ConditionExpression="#page = :page AND #status = :running AND #updated = :seen",
        ExpressionAttributeNames={"#page": "page", "#status": "status", "#updated": "updated_at"},
        ExpressionAttributeValues={
            ":page": job.page,
            ":running": FanOutStatus.RUNNING.value,
            ":seen": items.timestamp(job.updated_at),
            ":now": items.timestamp(now),
        },
    )


def cancel_write(
    org_id: str, fanout_id: str, now: datetime, on_not_running: Callable[[], Exception]
) -> transactions.Write:
    """``cancel`` as one item of a transaction (an automation's cancel commits it with the
    automation's own state); ``on_not_running`` when the job already finished or stopped."""
    return transactions.Write(
        "Update",
        {
            "Key": _key(org_id, fanout_id),
            "UpdateExpression": "SET #status = :cancelled, updated_at = :now",
            "ConditionExpression": "#status = :running",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":running": FanOutStatus.RUNNING.value,
                ":cancelled": FanOutStatus.CANCELLED.value,
                ":now": items.timestamp(now),
            },
        },
        on_not_running,
    )


def cancel(org_id: str, fanout_id: str, now: datetime) -> bool:
    """RUNNING → CANCELLED; False when the job is missing or already finished."""
    return _conditional_update(
        org_id,
        fanout_id,
        UpdateExpression="SET #status = :cancelled, updated_at = :now",
        ConditionExpression="#status = :running",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":running": FanOutStatus.RUNNING.value,
            ":cancelled": FanOutStatus.CANCELLED.value,
            ":now": items.timestamp(now),
        },
    )
