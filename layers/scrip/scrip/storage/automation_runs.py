"""An automation's current fan-out run, and the automation scheduler's checkpoint.

* ``ORG#o#AUTOMATION#<a>`` / ``RUN``: the run of a participants-scoped automation that started
  last: its fan-out job's id, its fire instant and ``counted``, the number of pages whose
  counters were added to the automation. A page adds its counters to the automation (a
  version-guarded save, ``storage/automations.py``) in one transaction with the move of
  ``counted`` from the page it read, so a page applied twice (a redelivered record, a crash
  before the job's cursor advance) counts once. It sits beside the automation rather than in
  it because the automation is saved whole by its API, which knows only the resource's fields.
* ``AUTODUE#CHECKPOINT`` / ``#``: the first hour of the due index (``AUTODUE#<hour>#<shard>``)
  the scheduler has not yet seen empty, as the lot job's checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scrip.storage import due_index, items, keys, table, transactions


class PageAlreadyCounted(Exception):
    """The page's counters were added by an earlier delivery, or the run was replaced."""


@dataclass(frozen=True)
class Run:
    automation_id: str
    fanout_id: str
    fire_at: datetime
    counted: int  # pages whose counters the automation holds


def _key(org_id: str, automation_id: str) -> dict[str, str]:
    return {"PK": keys.automation(org_id, automation_id), "SK": keys.AUTOMATION_RUN_SK}


def start_write(org_id: str, automation_id: str, fanout_id: str, fire_at: datetime) -> transactions.Write:
    """The new run, replacing the previous one: committed with the automation's move to
    ``pending`` (its version guard decides) and the job's put."""
    return transactions.put(
        {
            **_key(org_id, automation_id),
            "entity": "AUTOMATION_RUN",
            "organization_id": org_id,
            "automation_id": automation_id,
            "fanout_id": fanout_id,
            "fire_at": items.timestamp(fire_at),
            "counted": 0,
        }
    )


def get(org_id: str, automation_id: str) -> Run | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, automation_id), ConsistentRead=True)
    item = got.get("Item")
    if item is None:
        return None
    fire_at = items.moment(item["fire_at"])
    assert fire_at is not None
    return Run(str(item["automation_id"]), str(item["fanout_id"]), fire_at, int(item["counted"]))


def count_page_write(org_id: str, automation_id: str, fanout_id: str, page: int) -> transactions.Write:
    """``counted`` from ``page`` to ``page + 1``, only for this run's job and this page."""
    return transactions.Write(
        "Update",
        {
            "Key": _key(org_id, automation_id),
            "UpdateExpression": "SET #counted = :next",
            "ConditionExpression": "#fanout = :fanout AND #counted = :page",
            "ExpressionAttributeNames": {"#counted": "counted", "#fanout": "fanout_id"},
            "ExpressionAttributeValues": {":next": page + 1, ":page": page, ":fanout": fanout_id},
        },
        PageAlreadyCounted,
    )


def is_current_write(org_id: str, automation_id: str, fanout_id: str) -> transactions.Write:
    """A check that ``fanout_id`` is still the automation's current run."""
    return transactions.Write(
        "ConditionCheck",
        {
            "Key": _key(org_id, automation_id),
            "ConditionExpression": "#fanout = :fanout",
            "ExpressionAttributeNames": {"#fanout": "fanout_id"},
            "ExpressionAttributeValues": {":fanout": fanout_id},
        },
        PageAlreadyCounted,
    )


def delete_due_entry(key: dict[str, str]) -> transactions.Write:
    """A due index entry left by nothing current (the automation is gone or moved on)."""
    return transactions.delete(key)


def due_checkpoint() -> datetime | None:
    return due_index.checkpoint(keys.AUTOMATIONS_DUE_CHECKPOINT)


def save_due_checkpoint(hour: datetime) -> None:
    due_index.save_checkpoint(keys.AUTOMATIONS_DUE_CHECKPOINT, hour)
