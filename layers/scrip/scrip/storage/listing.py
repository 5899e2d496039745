"""Reading one page of a list partition with keyset pagination.

List partitions hold one small item per listed entity, sorted by a key that ends with the
entity id (see ``keys.chronological``). A page resumes strictly after the cursor's sort key,
so concurrent inserts and deletes never move items across the page boundary. Filters run in
DynamoDB; the loop keeps reading until the page is full or the partition ends, because
DynamoDB's ``Limit`` counts items before the filter.

A list may also be a global secondary index (``Index``: its name and key attributes). Its
reads are eventually consistent (DynamoDB offers no other on an index), and the keyset works
the same when the index's sort keys are unique, as the event lists' are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.storage import items, table, unit_of_work


@dataclass(frozen=True)
class Index:
    """A global secondary index read as a list: its name and its key attributes."""

    name: str
    partition_key: str
    sort_key: str


_TABLE = Index("", "PK", "SK")


def _query_params(index: Index | None) -> dict[str, Any]:
    if index is None:
        return {"TableName": table.table_name(), "ConsistentRead": True}
    return {"TableName": table.table_name(), "IndexName": index.name}


def read_items(item_keys: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """The items at these keys that exist, read consistently: 100 keys per ``BatchGetItem``
    (its limit; repeated keys asked once), unprocessed keys asked again."""
    wanted = list({(k["PK"], k["SK"]): k for k in item_keys}.values())
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {table.table_name(): {"Keys": wanted[start : start + 100], "ConsistentRead": True}}
        while request:
            response = table.client().batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table.table_name(), []))
            request = response.get("UnprocessedKeys") or {}
    return found


def every_page(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a ``Query`` (``params`` as boto3 takes them), every page of it."""
    found: list[dict[str, Any]] = []
    while True:
        response = table.client().query(**params)
        found.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return found
        params = {**params, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def count_every_page(params: dict[str, Any]) -> int:
    """How many items a ``Query`` (with ``Select: COUNT``) matches, every page of it."""
    counted = 0
    while True:
        response = table.client().query(**params)
        counted += int(response["Count"])
        if "LastEvaluatedKey" not in response:
            return counted
        params = {**params, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def read_up_to(partition: str, last_sort_key: str, *, index: Index | None = None) -> list[dict[str, Any]]:
    """Every item of a partition whose sort key is at most ``last_sort_key`` (a due index's hour)."""
    names = index or _TABLE
    params: dict[str, Any] = {
        **_query_params(index),
        "KeyConditionExpression": Key(names.partition_key).eq(partition) & Key(names.sort_key).lte(last_sort_key),
    }
    return every_page(params)


def read_all(partition: str, *, prefix: str | None = None, item_filter: Any = None) -> list[dict[str, Any]]:
    """Every item of a partition (or of its sort keys starting with ``prefix``), all pages, with
    the collecting unit of work's staged items applied when no filter is given."""
    found = query_all(partition, prefix=prefix, item_filter=item_filter)
    unit = unit_of_work.current()
    if unit is not None and item_filter is None:
        return unit.overlay(partition, found, prefix)
    return found


def query_all(partition: str, *, prefix: str | None = None, item_filter: Any = None) -> list[dict[str, Any]]:
    """Every item of a partition as the table holds it (nothing staged applied), all pages."""
    condition = Key("PK").eq(partition)
    if prefix is not None:
        condition &= Key("SK").begins_with(prefix)
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": condition,
        "ConsistentRead": True,
    }
    if item_filter is not None:
        params["FilterExpression"] = item_filter
    return every_page(params)


def within(attribute: str, start: datetime | None, end: datetime | None) -> list[Any]:
    """Filter conditions for an inclusive time window on an RFC 3339 attribute (decision 19)."""
    conditions = []
    if start is not None:
        conditions.append(Attr(attribute).gte(items.timestamp(start)))
    if end is not None:
        conditions.append(Attr(attribute).lte(items.timestamp(end)))
    return conditions


def all_of(conditions: list[Any]) -> Any:
    """The conjunction of filter conditions, or None when there are none."""
    combined: Any = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def read_page(
    partition: str,
    *,
    limit: int,
    after: str | None,
    descending: bool,
    item_filter: Any = None,
    index: Index | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` items after the sort key ``after`` and whether more exist."""
    names = index or _TABLE
    condition = Key(names.partition_key).eq(partition)
    if after is not None:
        position = Key(names.sort_key)
        condition = condition & (position.lt(after) if descending else position.gt(after))
    params: dict[str, Any] = {
        **_query_params(index),
        "KeyConditionExpression": condition,
        "ScanIndexForward": not descending,
        "Limit": limit + 1,
    }
    if item_filter is not None:
        params["FilterExpression"] = item_filter
    found: list[dict[str, Any]] = []
    while True:
        response = table.client().query(**params)
        found.extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if len(found) > limit or last is None:
            break
        params["ExclusiveStartKey"] = last
        # The filter dropped items: read further ahead each round, so that a selective
        # filter costs a few round trips, while an unselective one reads no more than needed.
        params["Limit"] = min(1000, params["Limit"] * 2)
    return found[:limit], len(found) > limit


def read_merged_page(
    partitions: list[str],
    *,
    limit: int,
    after: str | None,
    descending: bool,
    item_filter: Any = None,
    index: Index | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """One page across sharded list partitions that share one sort order.

    Sort keys are unique across shards (they end with the entity id), so one keyset position
    resumes every shard: each shard contributes up to ``limit`` items after it, and the page is
    the first ``limit`` of their merge.
    """
    merged: list[dict[str, Any]] = []
    more = False
    for partition in partitions:
        found, has_more = read_page(
            partition, limit=limit, after=after, descending=descending, item_filter=item_filter, index=index
        )
        merged.extend(found)
        more = more or has_more
    sort_key = (index or _TABLE).sort_key
    merged.sort(key=lambda item: str(item[sort_key]), reverse=descending)
    return merged[:limit], more or len(merged) > limit
