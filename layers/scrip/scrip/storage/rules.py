"""Rules, their versions, and the order claims that keep orders unique within a program.

A rule is ``ORG#o#RULE#<id>`` with its immutable versions (``VERSION#<n>``: snapshot, change
type, changes) in the same partition. The program's rules are listed in evaluation order
(``ORG#o#PROGRAM#<p>#RULES``, sort key ``<order>#<id>``), which is what event processing reads;
``ORG#o#PROGRAM#<p>#RULEORDER#<order>`` claims an order for one non-archived rule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import NotFound
from scrip.domain.rules import OrderConflict, Rule, RuleStatus
from scrip.storage import items, keys, listing, read_cache, table, transactions

VERSION = keys.RULE_VERSION_PREFIX


def _key(org_id: str, rule_id: str) -> dict[str, str]:
    return {"PK": keys.rule(org_id, rule_id), "SK": keys.ENTITY_SK}


def _program_list(org_id: str, program_id: str) -> str:
    return keys.program_rules(org_id, program_id)


def _org_list(org_id: str) -> str:
    return keys.rules_by_created(org_id)


def _order_claim(org_id: str, program_id: str, order: int) -> dict[str, str]:
    return {"PK": keys.rule_order(org_id, program_id, order), "SK": keys.ENTITY_SK}


def _order_sort_key(rule: Rule) -> str:
    return keys.by_rule_order(rule.order, rule.id)


def snapshot(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "organization_id": rule.organization_id,
        "program_id": rule.program_id,
        "name": rule.name,
        "name_lower": rule.name.lower(),
        "description": rule.description,
        "condition": rule.condition,
        "actions": rule.actions,
        "order": rule.order,
        "stop_after_match": rule.stop_after_match,
        "active_from": items.timestamp(rule.active_from),
        "active_to": items.timestamp(rule.active_to),
        "budgets": rule.budgets,
        "status": rule.status.value,
        "created_at": items.timestamp(rule.created_at),
        "updated_at": items.timestamp(rule.updated_at),
        "deleted_at": items.timestamp(rule.deleted_at),
        "version": rule.version,
        "history_id": rule.history_id,
    }


def _plain(value: Any) -> Any:
    """Numbers inside maps come back as Decimal; actions and budgets keep what was written."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _from_item(item: dict[str, Any]) -> Rule:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    return Rule(
        organization_id=item["organization_id"],
        id=item["id"],
        program_id=item["program_id"],
        name=item["name"],
        description=item.get("description"),
        condition=item["condition"],
        actions=_plain(item["actions"]),
        order=int(item["order"]),
        stop_after_match=bool(item["stop_after_match"]),
        active_from=items.moment(item.get("active_from")),
        active_to=items.moment(item.get("active_to")),
        budgets=[
            {**b, "limit": Decimal(b["limit"]), "consumed": Decimal(b["consumed"])} for b in item.get("budgets", [])
        ],
        status=RuleStatus(item["status"]),
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=items.moment(item.get("deleted_at")),
        version=int(item["version"]),
        history_id=item.get("history_id"),
    )


class StaleRule(Exception):
    """Another writer changed the rule between our read and our write."""


def _claim(rule: Rule) -> transactions.Write:
    return transactions.put(
        {**_order_claim(rule.organization_id, rule.program_id, rule.order), "entity": "RULE_ORDER", "rule_id": rule.id},
        condition=Attr("PK").not_exists(),
        on_condition_failed=lambda: OrderConflict(rule.order),
    )


def _version(
    rule: Rule, change_type: str, changes: dict[str, Any], api_key_id: str | None, history_id: str
) -> transactions.Write:
    body = snapshot(rule)
    return transactions.put(
        {
            "PK": _key(rule.organization_id, rule.id)["PK"],
            "SK": keys.rule_version(rule.version),
            "entity": "RULE_VERSION",
            "id": history_id,
            "rule_id": rule.id,
            "program_id": rule.program_id,
            "change_type": change_type,
            "changed_at": body["updated_at"],
            "changed_by_api_key_id": api_key_id,
            "changes": changes,
            "snapshot": body,
        },
        condition=Attr("PK").not_exists(),
        on_condition_failed=StaleRule,
    )


def _lists(rule: Rule) -> list[transactions.Write]:
    body = snapshot(rule)
    created_at = body["created_at"]
    return [
        transactions.put(
            {"PK": _program_list(rule.organization_id, rule.program_id), "SK": _order_sort_key(rule), **body}
        ),
        transactions.put(
            {"PK": _org_list(rule.organization_id), "SK": keys.list_sort_key(created_at, rule.id), **body}
        ),
    ]


def create(rule: Rule, api_key_id: str | None, history_id: str) -> None:
    transactions.write(
        [
            transactions.put(
                {**_key(rule.organization_id, rule.id), "entity": "RULE", **snapshot(rule)}, proves_commit=True
            ),
            _claim(rule),
            *_lists(rule),
            _version(rule, "created", {}, api_key_id, history_id),
        ]
    )


def save(
    previous: Rule, updated: Rule, change_type: str, changes: dict[str, Any], api_key_id: str | None, history_id: str
) -> None:
    writes = [
        transactions.put(
            {**_key(updated.organization_id, updated.id), "entity": "RULE", **snapshot(updated)},
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleRule,
        ),
        *_lists(updated),
        _version(updated, change_type, changes, api_key_id, history_id),
    ]
    if previous.order != updated.order:
        writes.append(
            transactions.delete(
                {"PK": _program_list(previous.organization_id, previous.program_id), "SK": _order_sort_key(previous)}
            )
        )
    holds_claim = previous.status is not RuleStatus.ARCHIVED
    needs_claim = updated.status is not RuleStatus.ARCHIVED
    if holds_claim and (not needs_claim or previous.order != updated.order):
        writes.append(transactions.delete(_order_claim(previous.organization_id, previous.program_id, previous.order)))
    if needs_claim and (not holds_claim or previous.order != updated.order):
        writes.append(_claim(updated))
    transactions.write(writes)


def get(org_id: str, rule_id: str) -> Rule | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, rule_id), ConsistentRead=True)
    item = got.get("Item")
    return _from_item(item) if item else None


def require(org_id: str, rule_id: str) -> Rule:
    rule = get(org_id, rule_id)
    if rule is None:
        raise NotFound(f"rule {rule_id} not found")
    return rule


def program_rules(org_id: str, program_id: str) -> list[Rule]:
    """Every rule of a program, in evaluation order."""
    return [_from_item(i) for i in read_cache.partition_items(_program_list(org_id, program_id))]


def list_page(
    org_id: str,
    *,
    program_id: str | None,
    statuses: list[RuleStatus] | None,
    search: str | None,
    descending: bool,
    limit: int,
    after: str | None,
) -> tuple[list[Rule], str | None]:
    conditions = []
    if statuses is not None:
        conditions.append(Attr("status").is_in([s.value for s in statuses]))
    if search:
        conditions.append(Attr("name_lower").contains(search.lower()))
    partition = _program_list(org_id, program_id) if program_id else _org_list(org_id)
    found, more = listing.read_page(
        partition, limit=limit, after=after, descending=descending, item_filter=listing.all_of(conditions)
    )
    return [_from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)


def history_page(
    org_id: str, rule_id: str, *, limit: int, after: str | None, change_type: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    conditions = [Attr("entity").eq("RULE_VERSION")]
    if change_type:
        conditions.append(Attr("change_type").eq(change_type))
    found, more = listing.read_page(
        _key(org_id, rule_id)["PK"],
        limit=limit,
        after=after or VERSION + "\uffff",
        descending=True,
        item_filter=listing.all_of(conditions),
    )
    return [_plain(i) for i in found], (str(found[-1]["SK"]) if found and more else None)
