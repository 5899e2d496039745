"""Webhook endpoints and deliveries.

| item | PK | SK |
|---|---|---|
| endpoint (secret encrypted with KMS) | ``ORG#o#WEBHOOKENDPOINT#<id>`` | ``#`` |
| the organization's endpoints (fan-out reads them all) | ``ORG#o#WEBHOOKENDPOINTS`` | ``<created_at>#<id>`` |
| delivery (status, attempts; no body, so under 1 KB) | ``ORG#o#WEBHOOKDELIVERY#<id>`` | ``#`` |
| its envelope body, written once | ``ORG#o#WEBHOOKDELIVERY#<id>`` | ``BODY`` |
| an endpoint's deliveries, 16 shards | ``ORG#o#WEBHOOKENDPOINT#<id>#DELIVERIES#<n>`` | ``<created_at>#<id>`` |
| an endpoint's unfinished deliveries, 32 shards | ``ORG#o#WEBHOOKENDPOINT#<id>#PENDING#<n>`` | ``<created_at>#<id>`` |
| outcome counters per hour, 16 shards | ``ORG#o#WEBHOOKENDPOINT#<id>#STATS#<n>`` | ``<hour>`` |
| retries due, by hour, 8 shards | ``WEBHOOKDUE#<hour>#<n>`` | ``<due_at>#<org>#<delivery id>`` |

A delivery's id is derived from (notification, endpoint, resend sequence), so creating it is a
put-if-absent: a redelivered stream batch creates nothing twice. Delivery items and their list
entries expire after 30 days (TTL). Every shard is a partition key of its own, so no key of an
endpoint takes more than a tenth of a write unit per delivery.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from scrip.domain.errors import NotFound
from scrip.domain.webhooks import Delivery, DeliveryStatus, Endpoint, EndpointStatus
from scrip.storage import items, keys, listing, table, transactions

# Shards sized for 10,000 deliveries/s to one endpoint at 1,000 WU/s per partition key (at
# most 0.1 WU per delivery on any key): a delivery spends 1 WU on its list line (16 shards:
# 0.0625 WU each), 2 on its PENDING line (put, then deleted: 32 shards, 0.0625) and 1 per
# attempt on the outcome counters (16 shards, 0.0625). Readers of a whole list query every shard.
DELIVERY_SHARDS = 16
PENDING_SHARDS = 32
STATS_SHARDS = 16
DUE_SHARDS = 8
RETENTION = timedelta(days=30)


class StaleEndpoint(Exception):
    """The endpoint changed since it was read."""


class StaleDelivery(Exception):
    """The delivery changed since it was read (another attempt claimed it)."""


class DeliveryExists(Exception):
    """This (notification, endpoint, resend) delivery was already created."""


def _endpoint_key(org_id: str, endpoint_id: str) -> dict[str, str]:
    return {"PK": keys.webhook_endpoint(org_id, endpoint_id), "SK": keys.ENTITY_SK}


def _endpoint_list(org_id: str) -> str:
    return keys.webhook_endpoints(org_id)


def _delivery_key(org_id: str, delivery_id: str) -> dict[str, str]:
    return {"PK": keys.webhook_delivery(org_id, delivery_id), "SK": keys.ENTITY_SK}


def _endpoint_partition(org_id: str, endpoint_id: str, kind: str, shard: int | None = None) -> str:
    return keys.webhook_endpoint_list(org_id, endpoint_id, kind, shard)


def _due_partition(moment: datetime, shard: int) -> str:
    return keys.webhooks_due(moment.strftime("%Y-%m-%dT%H"), shard)


# ---------------------------------------------------------------- endpoints


def _endpoint_attributes(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "organization_id": endpoint.organization_id,
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": endpoint.enabled_events,
        # JSON text: DynamoDB stores no floats, nor numbers beyond 38 digits or its exponent range
        "metadata": None if endpoint.metadata is None else json.dumps(endpoint.metadata, separators=(",", ":")),
        "status": endpoint.status.value,
        "created_at": items.timestamp(endpoint.created_at),
        "updated_at": items.timestamp(endpoint.updated_at),
    }


def _endpoint(item: dict[str, Any]) -> Endpoint:
    created, updated = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created is not None and updated is not None
    return Endpoint(
        organization_id=item["organization_id"],
        id=item["id"],
        url=item["url"],
        description=item.get("description"),
        enabled_events=list(item.get("enabled_events") or []),
        metadata=json.loads(item["metadata"]) if item.get("metadata") is not None else None,
        status=EndpointStatus(item["status"]),
        created_at=created,
        updated_at=updated,
        version=int(item.get("version", 1)),
        consecutive_failures=int(item.get("consecutive_failures", 0)),
        circuit_opens=int(item.get("circuit_opens", 0)),
        circuit_broken_until=items.moment(item.get("circuit_broken_until")),
        rate_limited_until=items.moment(item.get("rate_limited_until")),
    )


def save_endpoint(endpoint: Endpoint, secret_ciphertext: bytes | None, *, previous: Endpoint | None) -> None:
    """Create (``previous`` None) or replace the endpoint, guarded by its version."""
    item: dict[str, Any] = {
        **_endpoint_key(endpoint.organization_id, endpoint.id),
        "entity": "WEBHOOK_ENDPOINT",
        **_endpoint_attributes(endpoint),
        "version": endpoint.version,
        "consecutive_failures": endpoint.consecutive_failures,
        "circuit_opens": endpoint.circuit_opens,
        "circuit_broken_until": items.timestamp(endpoint.circuit_broken_until),
        "rate_limited_until": items.timestamp(endpoint.rate_limited_until),
    }
    if secret_ciphertext is not None:
        item["secret_ciphertext"] = secret_ciphertext
    writes = []
    if previous is None:
        writes.append(transactions.put(item, proves_commit=True))
    else:
        # Only what the owner changes: the health fields (failures, circuit, rate limit) are
        # counted by delivery attempts with their own updates, which a PATCH must not undo.
        configured = {
            name: item[name]
            for name in ("url", "description", "enabled_events", "metadata", "status", "updated_at", "version")
        }
        if secret_ciphertext is not None:
            configured["secret_ciphertext"] = secret_ciphertext
        names = {f"#{n}": n for n in configured}
        values = {f":{n}": v for n, v in configured.items()}
        writes.append(
            transactions.Write(
                "Update",
                {
                    "Key": _endpoint_key(endpoint.organization_id, endpoint.id),
                    "UpdateExpression": "SET " + ", ".join(f"#{n} = :{n}" for n in configured),
                    "ConditionExpression": "#version = :previous_version",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {**values, ":previous_version": previous.version},
                },
                StaleEndpoint,
            )
        )
    list_key = {
        "PK": _endpoint_list(endpoint.organization_id),
        "SK": keys.list_sort_key(items.timestamp(endpoint.created_at), endpoint.id),
    }
    if endpoint.status is EndpointStatus.ARCHIVED:
        writes.append(transactions.delete(list_key))
    else:
        writes.append(transactions.put({**list_key, **_endpoint_attributes(endpoint)}))
    transactions.write(writes)


def get_endpoint(org_id: str, endpoint_id: str) -> Endpoint | None:
    found = get_endpoint_with_secret(org_id, endpoint_id)
    return found[0] if found else None


def get_endpoint_with_secret(org_id: str, endpoint_id: str) -> tuple[Endpoint, bytes] | None:
    """The endpoint and its secret's ciphertext in one read (what an attempt needs)."""
    got = (
        table.client()
        .get_item(TableName=table.table_name(), Key=_endpoint_key(org_id, endpoint_id), ConsistentRead=True)
        .get("Item")
    )
    if not got:
        return None
    value = got["secret_ciphertext"]
    return _endpoint(got), bytes(value.value if hasattr(value, "value") else value)


def require_endpoint(org_id: str, endpoint_id: str) -> Endpoint:
    found = get_endpoint(org_id, endpoint_id)
    if found is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return found


def endpoints(org_id: str) -> list[Endpoint]:
    """The organization's non-archived endpoints, oldest first (list entries carry what fan-out needs)."""
    found = listing.read_all(_endpoint_list(org_id))
    return [_endpoint({**i, "version": 1}) for i in found]


def endpoint_page(
    org_id: str, *, limit: int, after: str | None, status: EndpointStatus | None
) -> tuple[list[Endpoint], str | None]:
    item_filter = Attr("status").eq(status.value) if status else None
    found, more = listing.read_page(
        _endpoint_list(org_id), limit=limit, after=after, descending=True, item_filter=item_filter
    )
    return [_endpoint({**i, "version": 1}) for i in found], (str(found[-1]["SK"]) if found and more else None)


def record_failure(org_id: str, endpoint_id: str) -> int:
    """Count a failed attempt; the consecutive failures so far."""
    response = table.client().update_item(
        TableName=table.table_name(),
        Key=_endpoint_key(org_id, endpoint_id),
        UpdateExpression="ADD consecutive_failures :one",
        ConditionExpression=Attr("PK").exists(),
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["consecutive_failures"])


def open_circuit(org_id: str, endpoint_id: str, until: datetime) -> None:
    """Pause the endpoint. The failure count is kept: the first attempt after the pause is a
    probe, whose failure re-opens the circuit at once (06 §2.8); only a success resets it."""
    table.client().update_item(
        TableName=table.table_name(),
        Key=_endpoint_key(org_id, endpoint_id),
        UpdateExpression="SET circuit_broken_until = :until ADD circuit_opens :one",
        ExpressionAttributeValues={":until": items.timestamp(until), ":one": 1},
    )


def close_circuit(org_id: str, endpoint_id: str) -> None:
    table.client().update_item(
        TableName=table.table_name(),
        Key=_endpoint_key(org_id, endpoint_id),
        UpdateExpression="SET consecutive_failures = :zero, circuit_opens = :zero REMOVE circuit_broken_until",
        ExpressionAttributeValues={":zero": 0},
    )


def rate_limit(org_id: str, endpoint_id: str, until: datetime) -> None:
    table.client().update_item(
        TableName=table.table_name(),
        Key=_endpoint_key(org_id, endpoint_id),
        UpdateExpression="SET rate_limited_until = :until",
        ExpressionAttributeValues={":until": items.timestamp(until)},
    )


# --------------------------------------------------------------- deliveries
#
# What one delivery writes (a first attempt that succeeds), and what each write buys:
#
#   body item, once (1 WU per KB)   what is sent, stored apart because it is never rewritten
#   PENDING line (1)                counted unfinished (stats, re-activation), before it exists
#   delivery item (1)               the delivery, put if absent (redelivered stream records)
#   DELIVERIES line, once (1)       the endpoint's list; no status (the filter reads the item)
#   claim: the delivery item (1)    SENDING under a lease: two messages never POST at once
#   result: the delivery item (1)   DELIVERED, FAILED, or the next attempt's time
#   PENDING line delete (1)         no longer counted unfinished
#   outcome counter (1)             the 24 h success rate of the stats
#
# None of them in a transaction (which would double each): the order of the writes makes a
# stop between two of them harmless, see ``create_delivery`` and ``save_delivery``.
# The delivery item holds no body, so it stays under 1 KB and each rewrite is one unit.


def _expiry(moment: datetime) -> int:
    return int((moment + RETENTION).timestamp())


def _delivery_item(delivery: Delivery) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_delivery_key(delivery.organization_id, delivery.id),
        "entity": "WEBHOOK_DELIVERY",
        "organization_id": delivery.organization_id,
        "id": delivery.id,
        "webhook_endpoint_id": delivery.webhook_endpoint_id,
        "webhook_event_id": delivery.webhook_event_id,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "created_at": items.timestamp(delivery.created_at),
        "updated_at": items.timestamp(delivery.updated_at),
        "attempt_count": delivery.attempt_count,
        "max_attempts": delivery.max_attempts,
        "next_attempt_at": items.timestamp(delivery.next_attempt_at),
        "last_attempt_at": items.timestamp(delivery.last_attempt_at),
        "delivered_at": items.timestamp(delivery.delivered_at),
        "last_response_status": delivery.last_response_status,
        "last_response_body": delivery.last_response_body,
        "last_error": delivery.last_error,
        "error_code": delivery.error_code,
        "resend_seq": delivery.resend_seq,
        "version": delivery.version,
        "lease_until": items.timestamp(delivery.lease_until),
        "expires_at_epoch": _expiry(delivery.created_at),
    }
    # Absent rather than null: every byte of this item is paid on each of its rewrites.
    return {name: value for name, value in item.items() if value is not None}


def _body_item(delivery: Delivery) -> dict[str, Any]:
    # No ``entity``: the stream consumers' filters never see it.
    return {
        "PK": keys.webhook_delivery(delivery.organization_id, delivery.id),
        "SK": keys.WEBHOOK_BODY_SK,
        "body": delivery.body,
        "expires_at_epoch": _expiry(delivery.created_at),
    }


def _delivery(item: dict[str, Any], body: str | None = None) -> Delivery:
    created, updated = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created is not None and updated is not None
    status = item.get("last_response_status")
    return Delivery(
        organization_id=item["organization_id"],
        id=item["id"],
        webhook_endpoint_id=item["webhook_endpoint_id"],
        webhook_event_id=item["webhook_event_id"],
        event_type=item["event_type"],
        status=DeliveryStatus(item["status"]),
        # Deliveries stored before the body had its own item carry it inline.
        body=body if body is not None else item.get("body", ""),
        created_at=created,
        updated_at=updated,
        attempt_count=int(item.get("attempt_count", 0)),
        max_attempts=int(item.get("max_attempts", 8)),
        next_attempt_at=items.moment(item.get("next_attempt_at")),
        last_attempt_at=items.moment(item.get("last_attempt_at")),
        delivered_at=items.moment(item.get("delivered_at")),
        last_response_status=int(status) if status is not None else None,
        last_response_body=item.get("last_response_body"),
        last_error=item.get("last_error"),
        error_code=item.get("error_code"),
        resend_seq=int(item.get("resend_seq", 0)),
        version=int(item.get("version", 1)),
        lease_until=items.moment(item.get("lease_until")),
    )


def _list_line(delivery: Delivery) -> dict[str, Any]:
    shard = keys.shard_of(delivery.id, DELIVERY_SHARDS)
    return {
        "PK": _endpoint_partition(delivery.organization_id, delivery.webhook_endpoint_id, "DELIVERIES", shard),
        "SK": keys.list_sort_key(items.timestamp(delivery.created_at), delivery.id),
        "delivery_id": delivery.id,
        "expires_at_epoch": _expiry(delivery.created_at),
    }


def _pending_key(delivery: Delivery) -> dict[str, str]:
    shard = keys.shard_of(delivery.id, PENDING_SHARDS)
    return {
        "PK": _endpoint_partition(delivery.organization_id, delivery.webhook_endpoint_id, "PENDING", shard),
        "SK": keys.list_sort_key(items.timestamp(delivery.created_at), delivery.id),
    }


def _pending_line(delivery: Delivery) -> dict[str, Any]:
    # ``version``: the delivery's version when it became unfinished, so that removing the line
    # for an older finish never removes the line of a later retry.
    return {
        **_pending_key(delivery),
        "delivery_id": delivery.id,
        "version": delivery.version,
        "expires_at_epoch": _expiry(delivery.created_at),
    }


def _due_key(delivery: Delivery, due_at: datetime) -> dict[str, str]:
    return {
        "PK": _due_partition(due_at, keys.shard_of(delivery.id, DUE_SHARDS)),
        "SK": keys.due_entry(items.timestamp(due_at) or "", delivery.organization_id, delivery.id),
    }


def _unfinished(status: DeliveryStatus) -> bool:
    return status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def _put(item: dict[str, Any]) -> None:
    table.client().put_item(TableName=table.table_name(), Item=item)


def _delete(key: dict[str, str], condition: Any = None) -> bool:
    """Delete the item; False when ``condition`` did not hold (nothing deleted)."""
    params: dict[str, Any] = {"TableName": table.table_name(), "Key": key}
    if condition is not None:
        params["ConditionExpression"] = condition
    try:
        table.client().delete_item(**params)
    except ClientError as error:
        if table.error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def create_delivery(delivery: Delivery) -> None:
    """Store a new delivery unless its id exists (``DeliveryExists``).

    Four single writes, no transaction, in an order where stopping after any of them is safe
    (the stream redelivers the record until it is done, and the ids are derived from it):

    1. the body: byte-identical on a redelivery, so putting it again changes nothing;
    2. the PENDING line, if absent: before the delivery exists, so no attempt can finish it
       (and remove the line) before the line is there;
    3. the delivery, if absent;
    4. its line in the endpoint's list, which says only that the delivery exists.

    A redelivered create (the same creation time: ``emit`` takes the notification's) finds
    the delivery existing at 3: it puts the list line again (the first create may have
    stopped before it), and if the delivery has finished meanwhile it removes the PENDING line
    its step 2 may have put back. A finish that comes after its read removes that line itself
    (its removal follows its write, which follows the read). A create that loses a race for
    the id under another creation time (two resends at once) removes the line it put. A
    create that stops after 2 for good leaves a line with no delivery, which expires with the
    TTL.
    """
    _put(_body_item(delivery))
    try:
        table.client().put_item(
            TableName=table.table_name(), Item=_pending_line(delivery), ConditionExpression=Attr("PK").not_exists()
        )
    except ClientError as error:
        # The line exists: put by this delivery's first create, or by a retry (POST …/retry)
        # whose line must keep its own version.
        if table.error_code(error) != "ConditionalCheckFailedException":
            raise
    try:
        table.client().put_item(
            TableName=table.table_name(), Item=_delivery_item(delivery), ConditionExpression=Attr("PK").not_exists()
        )
    except ClientError as error:
        if table.error_code(error) != "ConditionalCheckFailedException":
            raise
        existing = get_delivery(delivery.organization_id, delivery.id)
        if existing is not None:
            _put(_list_line(existing))
            if _pending_key(existing) != _pending_key(delivery):
                _delete(_pending_key(delivery))  # put at 2 under another creation time: not its line
            elif not _unfinished(existing.status):
                clear_pending(existing)
        raise DeliveryExists from None
    _put(_list_line(delivery))


def save_delivery(previous: Delivery, updated: Delivery) -> None:
    """Replace the delivery if it is still the version read (else ``StaleDelivery``), with the
    lines that follow its status.

    One conditional write of the delivery item in the common case (a claim, a result). Around
    it, in an order where stopping between two writes leaves only what is harmless: a new due
    entry before the item (a due entry for a delivery that is not due is skipped by the
    attempt it queues); the PENDING line in the item's transaction when the delivery becomes
    unfinished again (a retry); the old due entry and, once finished, the PENDING line after
    it. A crash before those last deletes fails the attempt's message, whose redelivery finds
    the delivery finished and removes the line (``clear_pending``).
    """
    if updated.status is DeliveryStatus.PENDING and updated.next_attempt_at is not None:
        _put(
            {
                **_due_key(updated, updated.next_attempt_at),
                "organization_id": updated.organization_id,
                "delivery_id": updated.id,
            }
        )
    guarded = transactions.put(
        _delivery_item(updated), condition=Attr("version").eq(previous.version), on_condition_failed=StaleDelivery
    )
    if _unfinished(updated.status) and not _unfinished(previous.status):
        transactions.write([guarded, transactions.put(_pending_line(updated))])
    else:
        try:
            table.client().put_item(TableName=table.table_name(), **guarded.params)
        except ClientError as error:
            if table.error_code(error) == "ConditionalCheckFailedException":
                raise StaleDelivery from None
            raise
    if previous.next_attempt_at and previous.next_attempt_at != updated.next_attempt_at:
        _delete(_due_key(previous, previous.next_attempt_at))
    if _unfinished(previous.status) and not _unfinished(updated.status):
        clear_pending(updated)


def clear_pending(finished: Delivery) -> None:
    """Remove a finished delivery's PENDING line, unless a later retry put it back."""
    _delete(_pending_key(finished), Attr("version").lt(finished.version))


def has_pending_line(delivery: Delivery) -> bool:
    """Whether the delivery's PENDING line exists (eventually consistent: a leftover is old)."""
    got = table.client().get_item(TableName=table.table_name(), Key=_pending_key(delivery), ConsistentRead=False)
    return "Item" in got


def get_delivery(org_id: str, delivery_id: str, *, with_body: bool = False) -> Delivery | None:
    """The delivery; its ``body`` only ``with_body`` (one query reads both items)."""
    key = _delivery_key(org_id, delivery_id)
    if not with_body:
        got = table.client().get_item(TableName=table.table_name(), Key=key, ConsistentRead=True).get("Item")
        return _delivery(got) if got else None
    found = {str(i["SK"]): i for i in listing.read_all(key["PK"])}
    item = found.get(keys.ENTITY_SK)
    if item is None:
        return None
    body = found.get(keys.WEBHOOK_BODY_SK)
    return _delivery(item, str(body["body"]) if body else None)


def require_delivery(org_id: str, delivery_id: str, *, with_body: bool = False) -> Delivery:
    found = get_delivery(org_id, delivery_id, with_body=with_body)
    if found is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return found


def _get_deliveries(org_id: str, delivery_ids: list[str]) -> dict[str, Delivery]:
    found = listing.read_items([_delivery_key(org_id, i) for i in delivery_ids])
    return {str(i["id"]): _delivery(i) for i in found}


def delivery_page(
    org_id: str, endpoint_id: str, *, limit: int, after: str | None, status: DeliveryStatus | None
) -> tuple[list[Delivery], str | None]:
    """Newest first. The list lines carry no status (they are written once), so the status
    filter runs on the delivery items, reading further until the page is full."""
    partitions = [_endpoint_partition(org_id, endpoint_id, "DELIVERIES", s) for s in range(DELIVERY_SHARDS)]
    page: list[tuple[str, Delivery]] = []
    position = after
    while True:
        lines, more = listing.read_merged_page(partitions, limit=limit + 1, after=position, descending=True)
        deliveries = _get_deliveries(org_id, [str(i["delivery_id"]) for i in lines])
        for line in lines:
            position = str(line["SK"])
            found = deliveries.get(str(line["delivery_id"]))
            if found is not None and (status is None or found.status is status):
                page.append((position, found))
            if len(page) > limit:
                return [d for _, d in page[:limit]], page[limit - 1][0]
        if not more:
            return [d for _, d in page], None


def unfinished(org_id: str, endpoint_id: str) -> list[str]:
    """Sort keys (``<created_at>#<id>``) of the endpoint's PENDING and SENDING deliveries."""
    found: list[str] = []
    for shard in range(PENDING_SHARDS):
        found += [str(i["SK"]) for i in listing.read_all(_endpoint_partition(org_id, endpoint_id, "PENDING", shard))]
    return sorted(found)


def existing_deliveries(org_id: str, delivery_ids: list[str]) -> set[str]:
    return set(_get_deliveries(org_id, delivery_ids))


# ------------------------------------------------------------------- stats


def count_outcome(org_id: str, endpoint_id: str, moment: datetime, *, success: bool, shard: int) -> None:
    """One attempt's outcome in its hour's counter, on one of ``STATS_SHARDS`` partitions (a
    burst to one endpoint spreads over them: each takes 1/16 of a unit per attempt)."""
    table.client().update_item(
        TableName=table.table_name(),
        Key={
            "PK": _endpoint_partition(org_id, endpoint_id, "STATS", shard),
            "SK": keys.hour_bucket(moment.strftime("%Y-%m-%dT%H")),
        },
        UpdateExpression="ADD #field :one SET last_attempt_at = :at, expires_at_epoch = :expiry",
        ExpressionAttributeNames={"#field": "success" if success else "fail"},
        ExpressionAttributeValues={
            ":one": 1,
            ":at": items.timestamp(moment),
            ":expiry": int(time.time()) + 2 * 86400,
        },
    )


def outcomes_since(org_id: str, endpoint_id: str, since: datetime) -> tuple[int, int, datetime | None]:
    """(successful, failed attempts, last attempt) over the hour buckets from ``since``'s hour on."""
    first = keys.hour_bucket(since.strftime("%Y-%m-%dT%H"))
    rows = [
        i
        for shard in range(STATS_SHARDS)
        for i in listing.read_all(_endpoint_partition(org_id, endpoint_id, "STATS", shard))
        if str(i["SK"]) >= first
    ]
    last = max((str(i["last_attempt_at"]) for i in rows if i.get("last_attempt_at")), default=None)
    return (
        sum(int(i.get("success", 0)) for i in rows),
        sum(int(i.get("fail", 0)) for i in rows),
        items.moment(last),
    )


# --------------------------------------------------------------------- due


def due(hour: datetime, until: datetime) -> list[dict[str, Any]]:
    """Retries of one hour (every shard) due at or before ``until``."""
    last = (items.timestamp(until) or "") + "\uffff"
    return [entry for shard in range(DUE_SHARDS) for entry in listing.read_up_to(_due_partition(hour, shard), last)]
