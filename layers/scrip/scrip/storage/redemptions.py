"""Redemptions: the redemption item and its entry in the participant's redemptions list.

The item (``ORG#o#REDEMPTION#<id>``, ``#``) holds the whole record, the consumed lots
included; its partition is where its reversals go (``REVERSAL#<id>``), so a reversal reads
and rewrites one partition. The list entry copies every field the API returns and the list
filters on (not the consumed lots), so a page of ``GET /v1/participants/{id}/redemptions`` is
one query. Both are written in the transaction of the journal entry that moves the value, and
every later change (a reversal) rewrites both under the item's ``version``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.errors import NotFound
from scrip.domain.ledger import EntityType
from scrip.domain.programs import RedemptionTargetType
from scrip.domain.redemptions import (
    ConsumedLot,
    Redemption,
    RedemptionKind,
    RedemptionStatus,
    RedemptionTarget,
)
from scrip.domain.reversals import Reversal
from scrip.storage import items, keys, listing, table, transactions

ENTITY = "REDEMPTION"
LIST_ENTITY = "REDEMPTION_LIST"  # not ENTITY: a list entry never reaches the stream's consumers

# Short names inside a consumed lot: a redemption may consume dozens of lots.
_LOT, _CREATED, _AMOUNT = "l", "c", "a"


class StaleRedemption(Exception):
    """Another writer (a concurrent reversal) changed the redemption since it was read."""


def _key(org_id: str, redemption_id: str) -> dict[str, str]:
    return {"PK": keys.redemption(org_id, redemption_id), "SK": keys.ENTITY_SK}


def _listed(redemption: Redemption) -> dict[str, Any]:
    """The fields the API renders and the list filters on."""
    return {
        "organization_id": redemption.organization_id,
        "id": redemption.id,
        "participant_id": redemption.participant_id,
        "program_id": redemption.program_id,
        "asset_id": redemption.asset_id,
        "scale": redemption.scale,
        "kind": redemption.kind.value,
        "amount": redemption.amount,
        "description": redemption.description,
        "journal_entry_id": redemption.journal_entry_id,
        "target_type": redemption.target.type.value,
        "target_entity_id": redemption.target.entity_id,
        "target_entity_type": redemption.target.entity_type.value if redemption.target.entity_type else None,
        "reward_id": redemption.reward_id,
        "quantity": redemption.quantity,
        "unit_cost": redemption.unit_cost,
        "reversed_amount": redemption.reversed_amount,
        "reversed_quantity": redemption.reversed_quantity,
        "status": redemption.status.value,
        "created_at": items.timestamp(redemption.created_at),
        "updated_at": items.timestamp(redemption.updated_at),
        "version": redemption.version,
    }


def _attributes(redemption: Redemption) -> dict[str, Any]:
    return {
        "entity": ENTITY,
        **_listed(redemption),
        "consumed_lots": [
            {_LOT: lot.lot_id, _CREATED: items.timestamp(lot.created_at), _AMOUNT: lot.amount}
            for lot in redemption.consumed_lots
        ],
        "idempotency_key": redemption.idempotency_key,
        "request_fingerprint": redemption.request_fingerprint,
    }


def _list_entry(redemption: Redemption) -> transactions.Write:
    created_at = items.timestamp(redemption.created_at)
    assert created_at is not None
    return transactions.put(
        {
            "PK": keys.participant_redemptions(redemption.organization_id, redemption.participant_id),
            "SK": keys.chronological(created_at, redemption.id),
            **_listed(redemption),
            "entity": LIST_ENTITY,
        }
    )


def _moment(value: Any) -> datetime:
    moment = items.moment(value)
    assert moment is not None
    return moment


def from_item(item: dict[str, Any]) -> Redemption:
    """A redemption from its item, its list entry (no consumed lots) or a stream image."""
    entity_type = item.get("target_entity_type")
    quantity, reversed_quantity = item.get("quantity"), item.get("reversed_quantity")
    return Redemption(
        organization_id=str(item["organization_id"]),
        id=str(item["id"]),
        participant_id=str(item["participant_id"]),
        program_id=str(item["program_id"]),
        asset_id=str(item["asset_id"]),
        scale=int(item["scale"]),
        kind=RedemptionKind(item["kind"]),
        amount=Decimal(item["amount"]),
        description=str(item["description"]),
        journal_entry_id=str(item["journal_entry_id"]),
        target=RedemptionTarget(
            RedemptionTargetType(item["target_type"]),
            item.get("target_entity_id"),
            EntityType(entity_type) if entity_type else None,
        ),
        consumed_lots=tuple(
            ConsumedLot(str(lot[_LOT]), _moment(lot[_CREATED]), Decimal(lot[_AMOUNT]))
            for lot in item.get("consumed_lots") or []
        ),
        reward_id=item.get("reward_id"),
        quantity=int(quantity) if quantity is not None else None,
        unit_cost=items.decimal_or_none(item.get("unit_cost")),
        reversed_amount=Decimal(item["reversed_amount"]),
        reversed_quantity=int(reversed_quantity) if reversed_quantity is not None else None,
        status=RedemptionStatus(item["status"]),
        idempotency_key=item.get("idempotency_key"),
        request_fingerprint=item.get("request_fingerprint"),
        created_at=_moment(item["created_at"]),
        updated_at=_moment(item["updated_at"]),
        version=int(item["version"]),
    )


def is_redemption_item(item: dict[str, Any]) -> bool:
    return item.get("entity") == ENTITY and keys.is_entity_item(item)


def create_writes(redemption: Redemption) -> list[transactions.Write]:
    """The new redemption (under a fresh id: it proves its transaction committed) and its list entry."""
    return [
        transactions.put(
            {**_key(redemption.organization_id, redemption.id), **_attributes(redemption)}, proves_commit=True
        ),
        _list_entry(redemption),
    ]


def save_writes(previous: Redemption, updated: Redemption) -> list[transactions.Write]:
    """A changed redemption (a reversal), guarded by the version read, and its list entry."""
    return [
        transactions.put(
            {**_key(updated.organization_id, updated.id), **_attributes(updated)},
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleRedemption,
        ),
        _list_entry(updated),
    ]


def get(org_id: str, redemption_id: str) -> Redemption | None:
    got = table.client().get_item(TableName=table.table_name(), Key=_key(org_id, redemption_id), ConsistentRead=True)
    item = got.get("Item")
    return from_item(item) if item else None


def require(org_id: str, redemption_id: str) -> Redemption:
    redemption = get(org_id, redemption_id)
    if redemption is None:
        raise NotFound(f"redemption {redemption_id} not found")
    return redemption


def participant_page(
    org_id: str,
    participant_id: str,
    *,
    limit: int,
    after: str | None,
    status: RedemptionStatus | None,
    reward_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> tuple[list[Redemption], str | None]:
    """Newest first (05 §2.8); the filters run in DynamoDB."""
    conditions = listing.within("created_at", created_from, created_to)
    if status is not None:
        conditions.append(Attr("status").eq(status.value))
    if reward_id is not None:
        conditions.append(Attr("reward_id").eq(reward_id))
    found, more = listing.read_page(
        keys.participant_redemptions(org_id, participant_id),
        limit=limit,
        after=after,
        descending=True,
        item_filter=listing.all_of(conditions),
    )
    return [from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)


# ---------------------------------------------------------------- reversals (05 §2.9)

REVERSAL_ENTITY = "REVERSAL"


def _reversal_attributes(reversal: Reversal) -> dict[str, Any]:
    return {
        "organization_id": reversal.organization_id,
        "id": reversal.id,
        "redemption_id": reversal.redemption_id,
        "program_id": reversal.program_id,
        "scale": reversal.scale,
        "amount": reversal.amount,
        "quantity": reversal.quantity,
        "reason": reversal.reason,
        "journal_entry_id": reversal.journal_entry_id,
        "created_at": items.timestamp(reversal.created_at),
    }


def reversal_from_item(item: dict[str, Any]) -> Reversal:
    """A reversal from its item, or from the copy the redemption item keeps of its last one."""
    quantity = item.get("quantity")
    return Reversal(
        organization_id=str(item["organization_id"]),
        id=str(item["id"]),
        redemption_id=str(item["redemption_id"]),
        program_id=str(item["program_id"]),
        scale=int(item["scale"]),
        amount=Decimal(item["amount"]),
        quantity=int(quantity) if quantity is not None else None,
        reason=str(item["reason"]),
        journal_entry_id=str(item["journal_entry_id"]),
        created_at=_moment(item["created_at"]),
    )


def last_reversal(item: dict[str, Any]) -> Reversal | None:
    """The reversal a redemption item (or its stream image) was last rewritten by."""
    copied = item.get("last_reversal")
    return reversal_from_item(copied) if copied else None


def reversal_writes(previous: Redemption, updated: Redemption, reversal: Reversal) -> list[transactions.Write]:
    """A reversal: the redemption rewritten under the version read (two concurrent reversals
    never both pass the bounds they checked: ``StaleRedemption``, re-read), carrying a copy of
    the reversal so that the stream derives ``redemption.reversed`` from the one image; its list
    entry; and the reversal itself, in the redemption's partition (fresh id: proves the commit)."""
    created_at = items.timestamp(reversal.created_at)
    assert created_at is not None
    return [
        transactions.put(
            {
                **_key(updated.organization_id, updated.id),
                **_attributes(updated),
                "last_reversal": _reversal_attributes(reversal),
            },
            condition=Attr("version").eq(previous.version),
            on_condition_failed=StaleRedemption,
        ),
        _list_entry(updated),
        transactions.put(
            {
                "PK": keys.redemption(reversal.organization_id, reversal.redemption_id),
                "SK": keys.reversal(created_at, reversal.id),
                "entity": REVERSAL_ENTITY,
                **_reversal_attributes(reversal),
            },
            proves_commit=True,
        ),
    ]


def reversal_page(
    org_id: str, redemption_id: str, *, limit: int, after: str | None
) -> tuple[list[Reversal], str | None]:
    """A redemption's reversals, oldest first (05 §2.9.3): the sort keys after the item's (``#``)."""
    found, more = listing.read_page(
        keys.redemption(org_id, redemption_id),
        limit=limit,
        after=after or keys.REVERSAL_PREFIX,
        descending=False,
        item_filter=Attr("entity").eq(REVERSAL_ENTITY),
    )
    return [reversal_from_item(i) for i in found], (str(found[-1]["SK"]) if found and more else None)
