"""The local stack runs each function under what its role allows on DynamoDB (scrip_local.iam)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scrip_local import iam
from scrip_local.stack import DEFAULT_TEMPLATE, LocalStack
from scrip_local.template import load


def test_the_template_roles_are_read_with_their_leading_keys_conditions() -> None:
    functions = load(DEFAULT_TEMPLATE).functions
    read = functions["ParticipantsIdRedemptionsGetFunction"].dynamodb_grants
    ledger_read = functions["ParticipantsIdBalancesGetFunction"].dynamodb_grants
    assert read is not None and ledger_read is not None
    assert iam.refused(read, "Query", {}) is None
    assert iam.refused(read, "PutItem", {"Item": {"PK": {"S": "PARTICIPANT#o#p"}}}) == "PutItem"
    assert iam.refused(ledger_read, "PutItem", {"Item": {"PK": {"S": "PARTICIPANT#o#p"}}}) is None
    assert iam.refused(ledger_read, "DeleteItem", {"Key": {"PK": {"S": "PARTICIPANT#o#p"}}}) == "DeleteItem"


def test_a_leading_keys_condition_allows_only_its_partitions() -> None:
    grants = (iam.Grant(frozenset({"GetItem"})), iam.Grant(frozenset({"PutItem"}), ("ORG#*#SEALED",)))
    assert iam.refused(grants, "PutItem", {"Item": {"PK": {"S": "ORG#o1#SEALED"}}}) is None
    assert iam.refused(grants, "PutItem", {"Item": {"PK": {"S": "ORG#o1#OTHER"}}}) == "PutItem"
    both: dict[str, Any] = {
        "TransactItems": [
            {"Put": {"Item": {"PK": {"S": "ORG#o1#SEALED"}}}},
            {"Update": {"Key": {"PK": {"S": "BALANCE#x"}}}},
        ]
    }
    assert iam.refused(grants, "TransactWriteItems", both) == "UpdateItem"


@pytest.mark.usefixtures("stack")
def test_a_write_inside_a_read_only_invocation_is_access_denied(stack: LocalStack) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = stack.emulator.physical["Table"]["Ref"]
    item = {"PK": {"S": "IAM-TEST"}, "SK": {"S": "A"}}
    with iam.running_as((iam.Grant(frozenset({"GetItem", "Query"})),)):
        with pytest.raises(ClientError) as refused:
            client.put_item(TableName=table, Item=item)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "Item" not in client.get_item(TableName=table, Key=item)
    client.put_item(TableName=table, Item=item)  # outside an invocation: not restricted
