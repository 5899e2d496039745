"""What the queue and stream consumers receive, parsed with models as HTTP bodies are.

A queue message's body is what a service sent (``follow_ups.dispatch`` and
``event_processing.sweep_overdue`` an event's, ``webhook_delivery`` a delivery's); a record
that does not parse is a failed record of the batch, as one whose processing raised.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
    SqsRecordModel,
)
from pydantic import BaseModel, Json


class EventMessage(BaseModel):
    """An event to process (03 §2)."""

    organization_id: str
    event_id: str


class DeliveryMessage(BaseModel):
    """A webhook delivery to attempt (06 §2.8)."""

    organization_id: str
    delivery_id: str


class _MessageRecord(SqsRecordModel):
    # Only the body is read: the system attributes are whatever SQS (or a replay) sent.
    attributes: dict[str, Any]  # type: ignore[assignment]


class EventMessageRecord(_MessageRecord):
    body: Json[EventMessage]  # type: ignore[assignment]


class DeliveryMessageRecord(_MessageRecord):
    body: Json[DeliveryMessage]  # type: ignore[assignment]


class ItemChange(DynamoDBStreamChangedRecordModel):
    """The item's images as plain Python values (numbers ``Decimal``), as storage reads them."""

    NewImage: dict[str, Any] | None = None  # type: ignore[assignment]
    OldImage: dict[str, Any] | None = None  # type: ignore[assignment]


class ItemChangeRecord(DynamoDBStreamRecordModel):
    dynamodb: ItemChange
