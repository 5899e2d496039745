"""Organizations and API keys.

Keys are found by the hash of the raw key (``APIKEY#<sha256>``): authentication is one
consistent ``GetItem``. A reference item in the organization's partition lists its keys and
lets an operator revoke one by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import NotFound
from scrip.domain.organizations import ApiKey, KeyStatus, Organization
from scrip.storage import items, keys, listing, table, transactions


def _organization_key(org_id: str) -> dict[str, str]:
    return {"PK": keys.organization(org_id), "SK": keys.ENTITY_SK}


def create_organization(organization: Organization) -> None:
    transactions.write(
        [
            transactions.put(
                {
                    **_organization_key(organization.id),
                    "entity": "ORGANIZATION",
                    "id": organization.id,
                    "name": organization.name,
                    "status": organization.status,
                    "created_at": items.timestamp(organization.created_at),
                },
                condition=Attr("PK").not_exists(),
            )
        ]
    )


def created_at(org_id: str) -> datetime | None:
    """When the organization was created (None: no organization item, as for data written
    directly by some tests). Consistent: a report may follow the creation within a second."""
    got = table.client().get_item(
        TableName=table.table_name(),
        Key=_organization_key(org_id),
        ProjectionExpression="created_at",
        ConsistentRead=True,
    )
    item = got.get("Item")
    return items.moment(item.get("created_at")) if item else None


def _key_item(key: ApiKey) -> dict[str, Any]:
    return {
        "entity": "API_KEY",
        "id": key.id,
        "organization_id": key.organization_id,
        "name": key.name,
        "key_hash": key.key_hash,
        "display_prefix": key.display_prefix,
        "status": key.status.value,
        "created_at": items.timestamp(key.created_at),
        "revoked_at": items.timestamp(key.revoked_at),
    }


def _key_from_item(item: dict[str, Any]) -> ApiKey:
    created_at = items.moment(item["created_at"])
    assert created_at is not None
    return ApiKey(
        id=item["id"],
        organization_id=item["organization_id"],
        name=item["name"],
        key_hash=item["key_hash"],
        display_prefix=item["display_prefix"],
        status=KeyStatus(item["status"]),
        created_at=created_at,
        revoked_at=items.moment(item.get("revoked_at")),
    )


def add_api_key(key: ApiKey) -> None:
    body = _key_item(key)
    transactions.write(
        [
            transactions.condition_check(
                _organization_key(key.organization_id),
                Attr("PK").exists(),
                lambda: NotFound(f"organization {key.organization_id} not found"),
            ),
            transactions.put(
                {"PK": keys.api_key(key.key_hash), "SK": keys.ENTITY_SK, **body}, condition=Attr("PK").not_exists()
            ),
            transactions.put({"PK": keys.organization(key.organization_id), "SK": keys.api_key_ref(key.id), **body}),
        ]
    )


def find_api_key_by_hash(key_hash: str) -> ApiKey | None:
    got = table.client().get_item(
        TableName=table.table_name(), Key={"PK": keys.api_key(key_hash), "SK": keys.ENTITY_SK}, ConsistentRead=True
    )
    item = got.get("Item")
    return _key_from_item(item) if item else None


def list_api_keys(org_id: str) -> list[ApiKey]:
    return [_key_from_item(i) for i in listing.read_all(keys.organization(org_id), prefix=keys.API_KEY_PREFIX)]


def revoke_api_key(key: ApiKey) -> None:
    """Mark both copies revoked in one transaction: the lookup item is what auth reads."""
    assert key.revoked_at is not None
    update = {
        "UpdateExpression": "SET #s = :revoked, revoked_at = :at",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":revoked": KeyStatus.REVOKED.value, ":at": items.timestamp(key.revoked_at)},
    }
    transactions.write(
        [
            transactions.Write("Update", {"Key": {"PK": keys.api_key(key.key_hash), "SK": keys.ENTITY_SK}, **update}),
            transactions.Write(
                "Update",
                {"Key": {"PK": keys.organization(key.organization_id), "SK": keys.api_key_ref(key.id)}, **update},
            ),
        ]
    )
