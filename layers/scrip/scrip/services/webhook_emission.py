"""Notifications derived from what committed (06 §2.6, §2.8), read from the table's stream.

A rolled-back operation leaves no stream record, so it never notifies; a committed one always
does, because the stream delivers every record at least once. A notification's id is derived
from the record it comes from, and each delivery's id from (notification, endpoint), so a
redelivered stream batch creates nothing twice and every endpoint sees the same id.

Most records notify nobody: an organization without an endpoint for a type must cost the
dispatcher no more than reading its endpoint list, once per stream batch (``Subscriptions``).
What a notification's data needs beyond the record (the participant's external id, the
enrolling program) is read only once an endpoint is known to want it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from scrip.domain import amounts, clock
from scrip.domain.ledger import ActionType, EntityType, JournalEntry, Posting
from scrip.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    Notification,
    WebhookType,
    delivery_id,
    notification_id,
)
from scrip.storage import items as item_values
from scrip.storage import keys as item_keys
from scrip.storage import ledger as ledger_store
from scrip.storage import participants as participant_store
from scrip.storage import redemptions as redemption_store
from scrip.storage import webhooks as webhook_store

_OWNER_TYPES = (EntityType.PARTICIPANT, EntityType.GROUP)
_BALANCE_TYPES = {
    ActionType.CREDIT: WebhookType.BALANCE_CREDITED,
    ActionType.MATURITY: WebhookType.BALANCE_CREDITED,
    ActionType.DEBIT: WebhookType.BALANCE_DEBITED,
    ActionType.FORFEIT: WebhookType.BALANCE_DEBITED,
    ActionType.VOID_HOLD: WebhookType.BALANCE_DEBITED,
    ActionType.REDEMPTION: WebhookType.BALANCE_DEBITED,  # the redeemer's debit (05 §2.4)
    ActionType.HOLD: WebhookType.BALANCE_HELD,
    ActionType.RELEASE: WebhookType.BALANCE_RELEASED,
    ActionType.EXPIRATION: WebhookType.BALANCE_EXPIRED,
}


def _owner(posting: Posting) -> dict[str, str]:
    account = posting.account
    key = "group_id" if account.entity_type is EntityType.GROUP else "participant_id"
    return {key: account.owner_id}


def _amount(value: Decimal, scale: int) -> str:
    return amounts.format_amount(value, scale)


class Subscriptions:
    """Each organization's endpoints, read once for a stream batch (of up to 100 records).

    An endpoint created or changed while the batch runs is seen from the next batch on, as it
    would be had the batch run a moment earlier.
    """

    def __init__(self) -> None:
        self._endpoints: dict[str, list[Endpoint]] = {}

    def subscribers(self, organization_id: str, webhook_type: str) -> list[Endpoint]:
        if organization_id not in self._endpoints:
            self._endpoints[organization_id] = webhook_store.endpoints(organization_id)
        return [e for e in self._endpoints[organization_id] if e.subscribes_to(webhook_type)]


Wanted = Callable[[WebhookType], bool]


def _entry_notifications(entry: JournalEntry, wanted: Wanted) -> list[tuple[str, str, dict[str, Any]]]:
    """(source, type, data) for a committed journal entry that some endpoint wants."""
    common = {
        "program_id": entry.program_id,
        "journal_entry_id": entry.id,
        "description": entry.description,
    }
    if entry.action_type in (ActionType.FUND, ActionType.BURN):
        wallet = next(p for p in entry.postings if p.account.entity_type is EntityType.PROGRAM)
        program_kind = (
            WebhookType.PROGRAM_FUNDED if entry.action_type is ActionType.FUND else WebhookType.PROGRAM_BURNED
        )
        if not wanted(program_kind):
            return []
        data = {**common, "asset_id": wallet.asset_id, "amount": _amount(abs(wallet.amount), entry.scale)}
        return [(entry.id, program_kind.value, data)]
    if entry.action_type is ActionType.TRANSFER:
        return _transfer_notifications(entry, common, wanted)
    kind = _BALANCE_TYPES.get(entry.action_type)
    if kind is None or not wanted(kind):
        return []
    owner_postings = [p for p in entry.postings if p.account.entity_type in _OWNER_TYPES]
    if not owner_postings:
        return []
    first = owner_postings[0]
    moved = max(abs(p.amount) for p in owner_postings)
    data = {
        **_owner(first),
        **common,
        "asset_id": first.asset_id,
        "amount": _amount(moved, entry.scale),
        "event_id": entry.event_id,
        "rule_id": entry.rule_id,
    }
    if kind in (WebhookType.BALANCE_CREDITED, WebhookType.BALANCE_DEBITED):
        credited = [p for p in owner_postings if (p.amount > 0) == (kind is WebhookType.BALANCE_CREDITED)]
        data["bucket"] = (credited or owner_postings)[0].bucket.value
    if entry.reference_id is not None or kind in (WebhookType.BALANCE_HELD, WebhookType.BALANCE_RELEASED):
        data["reference_id"] = entry.reference_id
    if first.account.entity_type is EntityType.PARTICIPANT:
        participant = participant_store.get(entry.organization_id, first.account.owner_id)
        data["external_id"] = participant.external_id if participant else None
    return [(entry.id, kind.value, data)]


def _transfer_notifications(
    entry: JournalEntry, common: dict[str, Any], wanted: Wanted
) -> list[tuple[str, str, dict[str, Any]]]:
    """``transfer.completed`` (05 §3.1: the response body plus ``program_id``, ``description`` and
    ``recipients``), ``balance.debited`` for the source and ``balance.credited`` for each recipient
    leg, all from the committed entry: its first posting is the source's debit, the others the
    recipients' credits in request order. Each balance notification's source is its posting, so
    a recipient listed twice is notified of each leg."""
    source, *received = entry.postings
    found: list[tuple[str, str, dict[str, Any]]] = []
    if wanted(WebhookType.TRANSFER_COMPLETED):
        data = {
            **common,
            "asset_id": source.asset_id,
            "source_id": source.account.owner_id,
            "recipient_count": len(received),
            "total_amount": _amount(-source.amount, entry.scale),
            "recipients": [{**_owner(p), "amount": _amount(p.amount, entry.scale)} for p in received],
        }
        found.append((entry.id, WebhookType.TRANSFER_COMPLETED.value, data))
    for posting, kind in [
        (source, WebhookType.BALANCE_DEBITED),
        *((p, WebhookType.BALANCE_CREDITED) for p in received),
    ]:
        if not wanted(kind):
            continue
        data = {
            **_owner(posting),
            **common,
            "asset_id": posting.asset_id,
            "amount": _amount(abs(posting.amount), entry.scale),
            "bucket": posting.bucket.value,
            "event_id": None,
            "rule_id": None,
        }
        if posting.account.entity_type is EntityType.PARTICIPANT:
            participant = participant_store.get(entry.organization_id, posting.account.owner_id)
            data["external_id"] = participant.external_id if participant else None
        found.append((f"{entry.id}#{posting.id}", kind.value, data))
    return found


def _event_notifications(
    new: dict[str, Any], old: dict[str, Any] | None, wanted: Wanted
) -> list[tuple[str, str, dict[str, Any]]]:
    status = new.get("status")
    if status not in ("COMPLETED", "FAILED") or (old or {}).get("status") == status:
        return []
    if not wanted(WebhookType.EVENT_COMPLETED if status == "COMPLETED" else WebhookType.EVENT_FAILED):
        return []
    data = {
        "event_id": new["id"],
        "program_id": new.get("program_id"),
        "participant_id": new.get("participant_id"),
        "external_id": new.get("external_id"),
        "idempotency_key": new.get("idempotency_key"),
        "status": status,
    }
    if status == "COMPLETED":
        kind = WebhookType.EVENT_COMPLETED
        data["processed_at"] = new.get("processed_at")
        data["rules_matched"] = len(new.get("matched_rule_ids") or [])
    else:
        kind = WebhookType.EVENT_FAILED
        data["error_message"] = new.get("error_message")
    return [(f"{new['id']}#{new.get('version')}", kind.value, data)]


def _participant_notifications(new: dict[str, Any], wanted: Wanted) -> list[tuple[str, str, dict[str, Any]]]:
    if not wanted(WebhookType.PARTICIPANT_CREATED):
        return []
    # The enrolling program: a participant is created with (at most) the one it enrolls in.
    enrollments = participant_store.enrollments(str(new["organization_id"]), str(new["id"]))
    first = min(enrollments.values(), key=lambda e: e.enrolled_at, default=None)
    data = {
        "participant_id": new["id"],
        "external_id": new.get("external_id"),
        "program_id": first.program_id if first else None,
        "status": new.get("status"),
        "created_at": new.get("created_at"),
    }
    return [(f"participant#{new['id']}", WebhookType.PARTICIPANT_CREATED.value, data)]


def _redemption_notifications(new: dict[str, Any], wanted: Wanted) -> list[tuple[str, str, dict[str, Any]]]:
    """``redemption.completed`` from the committed redemption: its data is the Redemption resource
    (05 §5 [inferred]); a replay commits nothing, so it never notifies again."""
    if not wanted(WebhookType.REDEMPTION_COMPLETED):
        return []
    from scrip.services.redemptions import resource  # only once an endpoint wants it

    redemption = redemption_store.from_item(new)
    return [(f"redemption#{redemption.id}", WebhookType.REDEMPTION_COMPLETED.value, resource(redemption))]


def _reversal_notifications(
    new: dict[str, Any], old: dict[str, Any] | None, wanted: Wanted
) -> list[tuple[str, str, dict[str, Any]]]:
    """``redemption.reversed`` from a redemption a reversal rewrote: the image carries that
    reversal, so data is ``{"redemption": Redemption, "reversal": Reversal}`` as committed (05 §5
    [inferred]), rebuilt identical on a redelivery; a replay commits nothing, so never twice."""
    reversal = redemption_store.last_reversal(new)
    if reversal is None or not wanted(WebhookType.REDEMPTION_REVERSED):
        return []
    previous = redemption_store.last_reversal(old) if old else None
    if previous is not None and previous.id == reversal.id:
        return []  # rewritten for another reason: this reversal was notified already
    from scrip.services.redemptions import resource  # only once an endpoint wants it
    from scrip.services.reversals import resource as reversal_resource

    data = {"redemption": resource(redemption_store.from_item(new)), "reversal": reversal_resource(reversal)}
    return [(f"reversal#{reversal.id}", WebhookType.REDEMPTION_REVERSED.value, data)]


def _tier_notifications(new: dict[str, Any], wanted: Wanted) -> list[tuple[str, str, dict[str, Any]]]:
    """``participant.tier_changed`` from the history line a level change writes (its id is the
    change's, so a redelivered record names the same notification). Data per 02 §5's
    recommendation; ``new_level`` is null when the level was removed. Group tiers have no
    notification type (02 §5 names none)."""
    if new.get("owner_type") != "PARTICIPANT" or not wanted(WebhookType.PARTICIPANT_TIER_CHANGED):
        return []
    data = {
        "participant_id": new["owner_id"],
        "program_id": new.get("program_id"),
        "tier_key": new["key"],
        "previous_level": new.get("old_value"),
        "previous_rank": int(new.get("previous_rank") or 0),
        "new_level": new.get("new_value"),
        "new_rank": int(new.get("new_rank") or 0),
        "source": new.get("source"),
        "event_id": new.get("event_id"),
    }
    return [(f"tier#{new['id']}", WebhookType.PARTICIPANT_TIER_CHANGED.value, data)]


def notifications_for(
    event_name: str, new: dict[str, Any], old: dict[str, Any] | None, subscriptions: Subscriptions | None = None
) -> list[Notification]:
    """The notifications a stream record stands for that some endpoint subscribes to (none for
    most records). ``subscriptions``: the batch's endpoints (read here when not given)."""
    entity = new.get("entity")
    # A tier change's history line (02 §5) is the one notifying item that is not an entity's own.
    tier_change = entity == "STATE_CHANGE" and new.get("state_type") == "tier" and event_name == "INSERT"
    if not item_keys.is_entity_item(new) and not tier_change:
        return []  # a list entry that copies its entity, not the entity
    org = str(new.get("organization_id") or "")
    known = subscriptions or Subscriptions()

    def wanted(kind: WebhookType) -> bool:
        return bool(known.subscribers(org, kind.value))

    found: list[tuple[str, str, dict[str, Any]]] = []
    if tier_change:
        found = _tier_notifications(new, wanted)
    elif entity == "JOURNAL_ENTRY" and event_name == "INSERT":
        found = _entry_notifications(ledger_store.entry_from_item(new), wanted)
    elif entity == "EVENT" and event_name in ("INSERT", "MODIFY"):
        found = _event_notifications(new, old, wanted)
    elif entity == "PARTICIPANT" and event_name == "INSERT":
        found = _participant_notifications(new, wanted)
    elif entity == "REDEMPTION" and event_name == "INSERT":
        found = _redemption_notifications(new, wanted)
    elif entity == "REDEMPTION" and event_name == "MODIFY":
        found = _reversal_notifications(new, old, wanted)
    # From the record, not the clock: a redelivered record rebuilds a byte-identical envelope.
    created = item_values.moment(new.get("updated_at") or new.get("created_at")) or clock.now()
    return [Notification(org, notification_id(source, kind), kind, created, data) for source, kind, data in found]


def envelope_body(notification: Notification) -> str:
    """The envelope's bytes, built once and sent identical on every attempt and resend."""
    envelope = notification.envelope(clock.to_rfc3339(notification.created_at))
    return json.dumps(envelope, separators=(",", ":"), sort_keys=False, default=str)


def emit(notification: Notification, subscriptions: Subscriptions | None = None) -> int:
    """One delivery per active endpoint subscribed to the type; the number created now."""
    endpoints = (subscriptions or Subscriptions()).subscribers(notification.organization_id, notification.type)
    if not endpoints:
        return 0
    body = envelope_body(notification)
    now = clock.now()
    created = 0
    for endpoint in endpoints:
        delivery = Delivery(
            organization_id=notification.organization_id,
            id=delivery_id(notification.id, endpoint.id),
            webhook_endpoint_id=endpoint.id,
            webhook_event_id=notification.id,
            event_type=notification.type,
            status=DeliveryStatus.PENDING,
            body=body,
            # The notification's time, not the clock's: a redelivered stream record must name the
            # same delivery lines (their sort keys start with it) as the first one did.
            created_at=notification.created_at,
            updated_at=max(now, notification.created_at),
        )
        try:
            webhook_store.create_delivery(delivery)
        except webhook_store.DeliveryExists:
            continue
        created += 1
    return created
