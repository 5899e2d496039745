"""Reading one page of a list partition with keyset pagination.

List partitions hold one small item per listed entity, sorted by a key that ends with the
entity id (see ``keys.chronological``). A page resumes strictly after the cursor's sort key,
so concurrent inserts and deletes never move items across the page boundary. Filters run in
DynamoDB; the loop keeps reading until the page is full or the partition ends, because
DynamoDB's ``Limit`` counts items before the filter.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from scrip.storage import table


def read_page(
    partition: str,
    *,
    limit: int,
    after: str | None,
    descending: bool,
    item_filter: Any = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` items after the sort key ``after`` and whether more exist."""
    condition = Key("PK").eq(partition)
    if after is not None:
        condition = condition & (Key("SK").lt(after) if descending else Key("SK").gt(after))
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": condition,
        "ScanIndexForward": not descending,
        "ConsistentRead": True,
        "Limit": limit + 1,
    }
    if item_filter is not None:
        params["FilterExpression"] = item_filter
        # A selective filter would otherwise cost one round trip per `limit` items scanned.
        params["Limit"] = max(limit + 1, 200)
    found: list[dict[str, Any]] = []
    while True:
        response = table.client().query(**params)
        found.extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if len(found) > limit or last is None:
            break
        params["ExclusiveStartKey"] = last
    return found[:limit], len(found) > limit
