"""Set-up shared by the automation integration tests (test_automation_runs.py,
test_subscriptions.py): batch writes and deletes of fixtures, automations written straight to
the table, and the stream records DynamoDB would emit for an item."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from scrip.domain import clock
from scrip.domain.automations import Automation, AutomationSource, AutomationStatus, ExecutionStatus, Scope
from scrip.storage import automations as automation_store
from scrip.storage import table, transactions


def _batch_write(requests: list[dict[str, Any]]) -> None:
    """25 requests per BatchWriteItem, retried until none is left unprocessed."""
    client = table.client()
    for start in range(0, len(requests), 25):
        request: dict[str, Any] = {table.table_name(): requests[start : start + 25]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def batch_put(items: Iterable[dict[str, Any]]) -> None:
    """Write fixture items in batches: the services' upserts would make set-up take minutes."""
    _batch_write([{"PutRequest": {"Item": i}} for i in items])


def batch_delete(item_keys: Iterable[dict[str, str]]) -> None:
    """Delete items (the generated events) so no later test's drain or sweep inherits them."""
    _batch_write([{"DeleteRequest": {"Key": k}} for k in item_keys])


def new_automation(org: str, program: str, made: list[str], **fields: Any) -> Automation:
    """A participants-scoped, ACTIVE, idle automation written straight to the table (no API
    validation), with ``fields`` (name, event_name, trigger_type at least) over the defaults;
    its id noted in ``made`` for ``archive``."""
    now = clock.now()
    automation = Automation(
        **{
            "id": str(uuid.uuid4()),
            "program_id": program,
            "organization_id": org,
            "scope": Scope.PARTICIPANTS,
            "status": AutomationStatus.ACTIVE,
            "source": AutomationSource.API,
            "created_at": now,
            "updated_at": now,
            "timezone": "UTC",
            "execution_status": ExecutionStatus.IDLE,
            "participants_total": 0,
            "participants_processed": 0,
            **fields,
        }
    )
    automation_store.create(automation)
    made.append(automation.id)
    return automation


def archive(org: str, automation_ids: Iterable[str]) -> None:
    """Archive a test's automations, so no later test's scheduler run fires them."""
    now = clock.now()
    for automation_id in automation_ids:
        current = automation_store.get(org, automation_id)
        if current is not None and current.status is not AutomationStatus.ARCHIVED:
            archived = replace(current, status=AutomationStatus.ARCHIVED, updated_at=now, version=current.version + 1)
            transactions.write(automation_store.save_writes(current, archived))


def stream_record(event_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """The stream record DynamoDB emits (NEW_AND_OLD_IMAGES) when ``item`` is written."""
    image = {k: TypeSerializer().serialize(v) for k, v in item.items()}
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"PK": image["PK"], "SK": image["SK"]},
            "NewImage": image,
            "SequenceNumber": str(uuid.uuid4().int)[:20],
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
    }
