"""Budget consumption per (rule, asset): ``ORG#o#RULE#r`` / ``BUDGET#<asset>``.

Consumption is added with ``ADD`` on condition that the window is still the one read and that
the sum stays within the limit, so concurrent events of one rule never overspend and never
conflict on a version; an event that loses the race is re-planned and its credit suppressed.
This item is written by every budgeted credit of its rule: one rule's budgeted credits are
bounded by one item's write rate (about 1,000 a second), see docs/storage-design.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.budgets import BudgetState
from scrip.storage import items, keys, table, transactions


class BudgetRace(Exception):
    """Another event consumed the budget or rolled its window since we read it."""


def _key(org_id: str, rule_id: str, asset_id: str) -> dict[str, str]:
    return {"PK": keys.rule(org_id, rule_id), "SK": keys.budget(asset_id)}


def read(org_id: str, rule_id: str, asset_id: str) -> BudgetState:
    got = (
        table.client()
        .get_item(TableName=table.table_name(), Key=_key(org_id, rule_id, asset_id), ConsistentRead=True)
        .get("Item")
    )
    if not got:
        return BudgetState()
    return BudgetState(str(got["window"]), Decimal(got["consumed"]), items.moment(got.get("anchor")))


def consume(
    org_id: str, rule_id: str, asset_id: str, state: BudgetState, window: str, amount: Decimal, limit: Decimal
) -> transactions.Write:
    """Add ``amount`` to the window's consumption, within ``limit``."""
    key = _key(org_id, rule_id, asset_id)
    if state.window == window:
        return transactions.Write(
            "Update",
            {
                "Key": key,
                "UpdateExpression": "ADD #consumed :amount",
                "ConditionExpression": "#window = :window AND #consumed <= :ceiling",
                "ExpressionAttributeNames": {"#window": "window", "#consumed": "consumed"},
                "ExpressionAttributeValues": {":amount": amount, ":window": window, ":ceiling": limit - amount},
            },
            BudgetRace,
        )
    # A new window starts at this credit; the put is guarded by the window it replaces.
    condition: Any = Attr("PK").not_exists() if state.window is None else Attr("window").eq(state.window)
    return transactions.put(
        {**key, "entity": "BUDGET", "window": window, "consumed": amount, "anchor": items.timestamp(state.anchor)},
        condition=condition,
        on_condition_failed=BudgetRace,
    )


def reset(org_id: str, rule_id: str, asset_id: str, state: BudgetState) -> None:
    """Manual reset: the new window starts now (``state`` carries the new window and anchor)."""
    transactions.write(
        [
            transactions.put(
                {
                    **_key(org_id, rule_id, asset_id),
                    "entity": "BUDGET",
                    "window": state.window,
                    "consumed": state.consumed,
                    "anchor": items.timestamp(state.anchor),
                }
            )
        ]
    )
