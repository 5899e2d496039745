"""What the hourly due indexes share: their run's checkpoint item.

A due index (lots' ``DUE#<kind>#<hour>``, tiers', automations' ``AUTODUE#<hour>#<shard>``,
subscriptions' ``DUE#SUBSCRIPTION#<hour>#<shard>``) files entries under the hour they fall due;
its scheduled run keeps, in one item ``<checkpoint key>`` / ``#``, the first hour it has not yet
seen empty (``domain/due_hours.py``), so the next run starts there.
"""

from __future__ import annotations

from datetime import datetime

from scrip.storage import items, keys, table


def checkpoint(partition: str) -> datetime | None:
    """The first hour of the index not yet known to be empty (None before the first run)."""
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": partition, "SK": keys.ENTITY_SK},
        ConsistentRead=True,
    )
    return items.moment(got.get("Item", {}).get("hour"))


def save_checkpoint(partition: str, hour: datetime) -> None:
    # A plain put: two overlapping runs may write it out of order, and an older checkpoint only
    # makes a run read more.
    table.client().put_item(
        TableName=table.table_name(),
        Item={"PK": partition, "SK": keys.ENTITY_SK, "hour": items.timestamp(hour)},
    )
