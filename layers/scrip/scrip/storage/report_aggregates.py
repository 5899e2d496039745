"""The report aggregates: holders' movements per (period, asset, program), kept by the stream.

* A row item per level (month, day, hour, minute), period, asset and program, in one of
  ``keys.REPORT_SHARDS`` partitions per level (the shard a stream transaction picks from its
  first entry): a reader sums the shards. It holds the bucket sums (``b_<BUCKET>``), the line
  sums (``l_<line>``), ``entry_count``, ``journal_count``, ``unclassified`` (all ``ADD``ed in
  the transaction that claims the entries) and ``last_entry_at`` (raised to a maximum outside
  it: a maximum is idempotent, a condition inside the transaction would cancel it).
* A count item per minute in one of ``keys.REPORT_COUNT_SHARDS`` partitions: how many entries
  of the organization the aggregates hold for that minute, compared with the journal's list
  lines to tell that a minute is complete.
* One checkpoint item per organization: the instant up to which that comparison held, moved
  forward by the reports that verify it (a version condition), never by a posting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from scrip.domain.ledger import Bucket
from scrip.domain.report_lines import Level, Line, RowKey, Tally
from scrip.storage import items, keys, listing, table, transactions

# (level, period, asset id, program id or None)
AggregateKey = tuple[Level, str, str, str | None]

_LINE_PREFIX, _BUCKET_PREFIX = "l_", "b_"


def _row_key(org_id: str, shard: int, key: AggregateKey) -> dict[str, str]:
    level, period, asset_id, program_id = key
    return {
        "PK": keys.report_aggregates(org_id, level.value, shard),
        "SK": keys.report_row(period, asset_id, program_id),
    }


def row_writes(
    org_id: str, shard: int, rows: Mapping[AggregateKey, Tally], counts: Mapping[str, int]
) -> list[transactions.Write]:
    """The updates that add ``rows`` and the per-minute ``counts`` (for the claiming transaction)."""
    writes = []
    for key, tally in rows.items():
        values: dict[str, Any] = {
            ":entity": "REPORT_AGGREGATE",
            ":asset": key[2],
            ":period": key[1],
            ":entries": tally.entry_count,
            ":journal": tally.journal_count,
        }
        names = {"#entity": "entity", "#asset": "asset_id", "#period": "period"}
        adds = ["entry_count :entries", "journal_count :journal"]
        amounts = [(_BUCKET_PREFIX + b.value, a) for b, a in tally.buckets.items()]
        amounts += [(_LINE_PREFIX + line.value, a) for line, a in tally.lines.items()]
        if tally.unclassified:
            amounts.append(("unclassified", Decimal(tally.unclassified)))
        for index, (name, amount) in enumerate(amounts):
            if amount != 0:
                names[f"#a{index}"] = name
                values[f":a{index}"] = amount
                adds.append(f"#a{index} :a{index}")
        sets = "#entity = :entity, #asset = :asset, #period = :period"
        if key[3] is not None:
            names["#program"] = "program_id"
            values[":program"] = key[3]
            sets += ", #program = :program"
        writes.append(
            transactions.Write(
                "Update",
                {
                    "Key": _row_key(org_id, shard, key),
                    "UpdateExpression": f"ADD {', '.join(adds)} SET {sets}",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                },
            )
        )
    count_shard = shard % keys.REPORT_COUNT_SHARDS
    for minute, count in counts.items():
        writes.append(
            transactions.Write(
                "Update",
                {
                    "Key": {"PK": keys.report_counts(org_id, count_shard), "SK": minute},
                    "UpdateExpression": "ADD entries :n SET entity = :entity",
                    "ExpressionAttributeValues": {":n": count, ":entity": "REPORT_COUNT"},
                },
            )
        )
    return writes


def raise_last_entry_at(org_id: str, shard: int, latest: Mapping[AggregateKey, datetime]) -> None:
    """Raise each row's ``last_entry_at`` to at least ``latest`` (one conditional update each;
    a row already later is left as it is)."""
    for key, moment in latest.items():
        stamp = items.timestamp(moment)
        # The row's identity too: the update may create the item (its sums come with the claim).
        values: dict[str, Any] = {":at": stamp, ":entity": "REPORT_AGGREGATE", ":asset": key[2], ":period": key[1]}
        sets = "last_entry_at = :at, entity = :entity, asset_id = :asset, #period = :period"
        if key[3] is not None:
            values[":program"] = key[3]
            sets += ", program_id = :program"
        try:
            table.client().update_item(
                TableName=table.table_name(),
                Key=_row_key(org_id, shard, key),
                UpdateExpression=f"SET {sets}",
                ConditionExpression=Attr("last_entry_at").not_exists() | Attr("last_entry_at").lt(stamp),
                ExpressionAttributeNames={"#period": "period"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if table.error_code(error) != "ConditionalCheckFailedException":
                raise


def _tally(item: dict[str, Any]) -> Tally:
    tally = Tally(
        entry_count=int(item.get("entry_count", 0)),
        journal_count=int(item.get("journal_count", 0)),
        last_entry_at=items.moment(item.get("last_entry_at")),
        unclassified=int(item.get("unclassified", 0)),
    )
    for name, value in item.items():
        if name.startswith(_BUCKET_PREFIX):
            tally.buckets[Bucket(name[len(_BUCKET_PREFIX) :])] = Decimal(value)
        elif name.startswith(_LINE_PREFIX):
            tally.lines[Line(name[len(_LINE_PREFIX) :])] = Decimal(value)
    return tally


def read_rows(
    org_id: str,
    level: Level,
    first_period: str,
    last_period: str,
    *,
    asset_id: str | None = None,
    program_id: str | None = None,
) -> list[tuple[RowKey, Tally]]:
    """Every row of ``level`` from ``first_period`` to ``last_period`` (inclusive), every shard;
    one pair per stored item (a caller sums them)."""
    conditions = []
    if asset_id is not None:
        conditions.append(Attr("asset_id").eq(asset_id))
    if program_id is not None:
        conditions.append(Attr("program_id").eq(program_id))
    found: list[tuple[RowKey, Tally]] = []
    for shard in range(keys.REPORT_SHARDS):
        params: dict[str, Any] = {
            "TableName": table.table_name(),
            "KeyConditionExpression": Key("PK").eq(keys.report_aggregates(org_id, level.value, shard))
            & Key("SK").between(keys.report_rows_from(first_period), keys.report_rows_to(last_period)),
            "ConsistentRead": True,
        }
        if conditions:
            combined = conditions[0]
            for condition in conditions[1:]:
                combined = combined & condition
            params["FilterExpression"] = combined
        for item in listing.every_page(params):
            found.append(((str(item["asset_id"]), item.get("program_id")), _tally(item)))
    return found


def counts_by_minute(org_id: str, first_minute: str, last_minute: str) -> dict[str, int]:
    """Entries aggregated per minute from ``first_minute`` to ``last_minute`` (inclusive)."""
    counts: dict[str, int] = {}
    for shard in range(keys.REPORT_COUNT_SHARDS):
        params: dict[str, Any] = {
            "TableName": table.table_name(),
            "KeyConditionExpression": Key("PK").eq(keys.report_counts(org_id, shard))
            & Key("SK").between(first_minute, last_minute),
            "ConsistentRead": True,
        }
        for item in listing.every_page(params):
            counts[str(item["SK"])] = counts.get(str(item["SK"]), 0) + int(item["entries"])
    return counts


@dataclass(frozen=True)
class Checkpoint:
    sealed_until: datetime | None  # None: nothing verified yet
    version: int


def read_checkpoint(org_id: str) -> Checkpoint:
    got = table.client().get_item(
        TableName=table.table_name(),
        Key={"PK": keys.report_checkpoint(org_id), "SK": keys.ENTITY_SK},
        ConsistentRead=True,
    )
    item = got.get("Item")
    if item is None:
        return Checkpoint(None, 0)
    return Checkpoint(items.moment(item["sealed_until"]), int(item["version"]))


def save_checkpoint(org_id: str, previous: Checkpoint, sealed_until: datetime) -> bool:
    """Move the checkpoint to ``sealed_until`` unless another reader moved it since ``previous``
    (then False: its value was verified too, and a later read uses it)."""
    condition = Attr("PK").not_exists() if previous.version == 0 else Attr("version").eq(previous.version)
    try:
        table.client().put_item(
            TableName=table.table_name(),
            Item={
                "PK": keys.report_checkpoint(org_id),
                "SK": keys.ENTITY_SK,
                "entity": "REPORT_CHECKPOINT",
                "sealed_until": items.timestamp(sealed_until),
                "version": previous.version + 1,
            },
            ConditionExpression=condition,
        )
    except ClientError as error:
        if table.error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
