"""What a function's role lets it do to DynamoDB, enforced while the function runs.

In AWS a read route runs under ``ApiReadRole`` (GetItem, BatchGetItem, Query,
ConditionCheckItem): a write from it is ``AccessDeniedException``, a 500 for the client. moto
checks no IAM, so a GET that wrote (a reader finishing a committed staged transfer) passed every
local test and would have failed in AWS. Here each invocation runs with what its role's
policies allow (read from the template: the DynamoDB actions, and a statement's
``dynamodb:LeadingKeys`` condition when it has one), and a request for anything else is refused
the way DynamoDB refuses it. Functions whose role the template does not spell out (SAM policy
templates, no ``Role``) run unrestricted, and so does code outside an invocation (tests
arranging data, the stack's own pumps).
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Grant:
    """One Allow statement: these actions, on any partition or on those matching the patterns."""

    actions: frozenset[str]
    leading_keys: tuple[str, ...] | None = None  # ForAllValues:StringLike patterns; None: any

    def allows(self, action: str, partition: str | None) -> bool:
        if action not in self.actions:
            return False
        if self.leading_keys is None:
            return True
        return partition is not None and any(fnmatch.fnmatchcase(partition, p) for p in self.leading_keys)


Grants = tuple[Grant, ...]

# The grants of the role of the invocation this thread runs; None: not restricted. Per thread,
# not a context variable: the code runs some work in a fresh context on purpose (a reader
# finishing a staged transfer leaves its unit of work behind), and that work is still the
# invocation's, under its role. A container serves one invocation at a time, in one thread.
_invocation = threading.local()
_applied = False

# IAM authorises a transaction's items by their own actions (there is no TransactWriteItems action).
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_PARTITION_KEY = "PK"
# The item operations a role's statements govern here. Control-plane calls (DescribeTable) are
# the local stack's own, made inside an invocation by its metering.
_DATA_ACTIONS = frozenset(
    {
        "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
        "BatchWriteItem", "TransactWriteItems", "TransactGetItems",
    }
)  # fmt: skip


def role_grants(template_resources: dict[str, dict[str, Any]], role: Any) -> Grants | None:
    """What a function's ``Role`` allows on DynamoDB, or None if it is not restricted here."""
    if not isinstance(role, dict) or "Fn::GetAtt" not in role:
        return None
    resource = template_resources.get(str(role["Fn::GetAtt"][0]), {})
    if resource.get("Type") != "AWS::IAM::Role":
        return None
    grants: list[Grant] = []
    for policy in resource.get("Properties", {}).get("Policies", []):
        for statement in policy.get("PolicyDocument", {}).get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            listed = statement.get("Action", [])
            named = [str(a) for a in ([listed] if isinstance(listed, str) else listed)]
            actions = {a.partition(":")[2] for a in named if a.startswith("dynamodb:")}
            if not actions:
                continue
            if "*" in actions:
                return None
            patterns = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            grants.append(Grant(frozenset(actions), tuple(patterns) if patterns else None))
    return tuple(grants)


@contextmanager
def running_as(grants: Grants | None) -> Iterator[None]:
    outer = getattr(_invocation, "grants", None)
    _invocation.grants = grants
    try:
        yield
    finally:
        _invocation.grants = outer


def _partition(key_or_item: dict[str, Any] | None) -> str | None:
    value = (key_or_item or {}).get(_PARTITION_KEY, {})
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def requested(action: str, body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(IAM action, partition key or None) of each part of a request."""
    if action == "TransactWriteItems":
        return [
            (_TRANSACT_ACTIONS[kind], _partition(op.get("Item") or op.get("Key")))
            for item in body.get("TransactItems", [])
            for kind, op in item.items()
        ]
    if action == "TransactGetItems":
        return [("GetItem", _partition(item.get("Get", {}).get("Key"))) for item in body.get("TransactItems", [])]
    if action == "BatchWriteItem":
        return [
            ("PutItem", _partition(r["PutRequest"].get("Item")))
            if "PutRequest" in r
            else ("DeleteItem", _partition(r.get("DeleteRequest", {}).get("Key")))
            for requests in body.get("RequestItems", {}).values()
            for r in requests
        ]
    if action in ("PutItem", "UpdateItem", "DeleteItem", "GetItem"):
        return [(action, _partition(body.get("Item") or body.get("Key")))]
    return [(action, None)]


def refused(grants: Grants, action: str, body: dict[str, Any]) -> str | None:
    """The first action of the request no grant allows, or None."""
    for wanted, partition in requested(action, body):
        if not any(grant.allows(wanted, partition) for grant in grants):
            return wanted
    return None


def apply() -> None:
    """Refuse, inside an invocation, the DynamoDB requests its role does not allow."""
    global _applied
    if _applied:
        return
    _applied = True
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        grants = getattr(_invocation, "grants", None)
        action = self._get_action()
        if grants is not None and action in _DATA_ACTIONS:
            denied = refused(grants, action, json.loads(self.body or "{}"))
            if denied:
                raise JsonRESTError(
                    "AccessDeniedException", f"the function's role is not authorized to perform dynamodb:{denied}"
                )
        return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
