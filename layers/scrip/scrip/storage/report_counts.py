"""Counts the reports need that the ledger aggregates do not hold, kept from the table's stream.

* ``HOLDERS`` per asset: participants whose balance of the asset is not zero (ledger-summary's
  ``participant_count``). A balance item's change that crosses zero adds or removes one.
* ``EARNERS`` per program: distinct participants who earned or redeemed in the program
  (program-activity's ``unique_participants``).
* ``EVENTS`` per program and UTC day: events processed (program-activity's ``event_count``),
  with one line per event so that a period that starts or ends within a day is counted exactly.

Every counter is split in shards (chosen by the counted subject's id), so no item takes every
write of an organization, and read by summing the shards. Each change is counted exactly once
however often the stream delivers it: the same transaction puts a claim item conditioned on its
absence (a balance version, a program's participant, an event's line); a redelivery finds the
claim and the transaction is cancelled as a whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from scrip.domain.clock import to_rfc3339
from scrip.storage import keys, listing, table, transactions
from scrip.storage.rewards import BY_CREATED as REWARDS_BY_CREATED

HOLDERS = "HOLDERS"
EARNERS = "EARNERS"
EVENTS = "EVENTS"
COUNT_SHARDS = 8
# A balance version's claim has only to outlive the stream records that could bring the change
# again (24 hours); TTL removes it after a week. Earner claims and event lines stay: they are
# the set counted and the lines a period's first and last day are counted from.
CLAIM_RETENTION_SECONDS = 7 * 24 * 3600
_LAST = "\U0010ffff"
_FIRST = "0"  # below every timestamp and day (a key condition takes no empty string)


def is_participant_balance(image: dict[str, Any] | None) -> bool:
    """Whether a stream image is a participant's balance item."""
    return bool(image) and image.get("entity") == "BALANCE" and image.get("entity_type") == "PARTICIPANT"  # type: ignore[union-attr]


def is_event(image: dict[str, Any] | None) -> bool:
    """Whether a stream image is an event's own item."""
    return bool(image) and image.get("entity") == "EVENT" and image.get("SK") == keys.ENTITY_SK  # type: ignore[union-attr]


def organization_of(image: dict[str, Any]) -> str:
    """The organization of an item (every partition here is ``ORG#{org}#…``)."""
    return str(image["PK"]).split("#", 2)[1]


class AlreadyCounted(Exception):
    """The change was counted before (a redelivered stream record)."""


def _counter_key(
    org_id: str, counter: str, subject: str, shard_of: str, sort_key: str = keys.ENTITY_SK
) -> dict[str, str]:
    return {"PK": keys.report_count(org_id, counter, subject, keys.shard_of(shard_of, COUNT_SHARDS)), "SK": sort_key}


def _add(key: dict[str, str], delta: int) -> transactions.Write:
    return transactions.Write(
        "Update",
        {
            "Key": key,
            "UpdateExpression": "ADD #c :delta SET entity = :entity",
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": {":delta": delta, ":entity": "REPORT_COUNT"},
        },
    )


def _claim(org_id: str, claim: str, *, expires: bool) -> transactions.Write:
    item: dict[str, Any] = {
        "PK": keys.report_count_claim(org_id, claim),
        "SK": keys.ENTITY_SK,
        "entity": "REPORT_CLAIM",
    }
    if expires:
        item["expires_at_epoch"] = int(time.time()) + CLAIM_RETENTION_SECONDS
    return transactions.put(item, condition=Attr("PK").not_exists(), on_condition_failed=AlreadyCounted)


def count_holder_change(org_id: str, participant_id: str, asset_id: str, version: int, delta: int) -> None:
    """Count a participant's balance of an asset leaving (``+1``) or reaching (``-1``) zero, once
    per balance version (``AlreadyCounted`` if that version was counted)."""
    claim = keys.holder_change_claim(participant_id, asset_id, version)
    transactions.write(
        [_claim(org_id, claim, expires=True), _add(_counter_key(org_id, HOLDERS, asset_id, participant_id), delta)]
    )


def is_earner(org_id: str, program_id: str, participant_id: str) -> bool:
    """Whether the participant was counted in the program (a read that spares a refused write)."""
    key = {"PK": keys.report_count_claim(org_id, keys.earner_claim(program_id, participant_id)), "SK": keys.ENTITY_SK}
    return "Item" in table.client().get_item(TableName=table.table_name(), Key=key, ProjectionExpression="PK")


def count_earner(org_id: str, program_id: str, participant_id: str) -> None:
    """Count a participant in a program's distinct earners (``AlreadyCounted`` if counted)."""
    claim = keys.earner_claim(program_id, participant_id)
    transactions.write(
        [_claim(org_id, claim, expires=False), _add(_counter_key(org_id, EARNERS, program_id, participant_id), 1)]
    )


def _day(moment: datetime) -> str:
    return to_rfc3339(moment)[:10]


def count_event(org_id: str, program_id: str, event_id: str, processed_at: datetime) -> None:
    """Count a processed event on its program's day (``AlreadyCounted`` if its line exists)."""
    day = _day(processed_at)
    shard = keys.shard_of(event_id, COUNT_SHARDS)
    line = {
        "PK": keys.program_events_processed(org_id, program_id, day, shard),
        "SK": keys.event_processed_line(to_rfc3339(processed_at), event_id),
        "entity": "REPORT_EVENT_LINE",
    }
    transactions.write(
        [
            transactions.put(line, condition=Attr("PK").not_exists(), on_condition_failed=AlreadyCounted),
            _add(_counter_key(org_id, EVENTS, program_id, event_id, sort_key=day), 1),
        ]
    )


def _sum_counts(items: list[dict[str, Any]]) -> int:
    return sum(int(item.get("count", 0)) for item in items)


def _shards(org_id: str, counter: str, subject: str) -> list[str]:
    return [keys.report_count(org_id, counter, subject, shard) for shard in range(COUNT_SHARDS)]


def total(org_id: str, counter: str, subject: str) -> int:
    """``HOLDERS`` of an asset or ``EARNERS`` of a program: the sum of its shards (one BatchGet)."""
    return _sum_counts(
        listing.read_items([{"PK": pk, "SK": keys.ENTITY_SK} for pk in _shards(org_id, counter, subject)])
    )


def _query(partition: str, low: str, high: str, *, count_only: bool) -> list[dict[str, Any]] | int:
    params: dict[str, Any] = {
        "TableName": table.table_name(),
        "KeyConditionExpression": Key("PK").eq(partition) & Key("SK").between(low, high),
    }
    if count_only:
        params["Select"] = "COUNT"
    return listing.count_every_page(params) if count_only else listing.every_page(params)


def _count_query(partition: str, low: str, high: str) -> int:
    counted = _query(partition, low, high, count_only=True)
    assert isinstance(counted, int)
    return counted


def _day_counters(org_id: str, program_id: str, first_day: str, last_day: str) -> int:
    counted = 0
    for partition in _shards(org_id, EVENTS, program_id):
        found = _query(partition, first_day, last_day, count_only=False)
        assert isinstance(found, list)
        counted += _sum_counts(found)
    return counted


def _lines(org_id: str, program_id: str, day: str, low: str, high: str) -> int:
    return sum(
        _count_query(keys.program_events_processed(org_id, program_id, day, shard), low, high)
        for shard in range(COUNT_SHARDS)
    )


def events_processed(org_id: str, program_id: str, start: datetime | None = None, end: datetime | None = None) -> int:
    """Events of a program processed at ``start <= processed_at <= end`` (all time when no
    ``start``): whole days from the per-day counters, the first and last day from their lines."""
    if start is None or end is None:
        return _day_counters(org_id, program_id, _FIRST, _LAST)
    first, last = _day(start), _day(end)
    low, high = to_rfc3339(start), to_rfc3339(end) + "#" + _LAST
    if first == last:
        return _lines(org_id, program_id, first, low, high)
    counted = _lines(org_id, program_id, first, low, _LAST) + _lines(org_id, program_id, last, _FIRST, high)
    inner_first = date.fromisoformat(first) + timedelta(days=1)
    inner_last = date.fromisoformat(last) - timedelta(days=1)
    if inner_first <= inner_last:
        counted += _day_counters(org_id, program_id, inner_first.isoformat(), inner_last.isoformat())
    return counted


@dataclass(frozen=True)
class ProgramConfiguration:
    asset_count: int
    reward_count: int
    rule_count: int
    tier_count: int


def _count_partition(partition: str, item_filter: Any = None) -> int:
    params: dict[str, Any] = {"TableName": table.table_name(), "KeyConditionExpression": Key("PK").eq(partition)}
    params["Select"] = "COUNT"
    if item_filter is not None:
        params["FilterExpression"] = item_filter
    return listing.count_every_page(params)


def program_configuration(org_id: str, program_id: str) -> ProgramConfiguration:
    """What a program holds, counted over its own lists (a Query each, bounded by the program's size):
    linked assets, rewards, rules and tiers, the archived ones left out."""
    not_archived = Attr("status").ne("ARCHIVED")
    return ProgramConfiguration(
        asset_count=_count_partition(keys.program_assets(org_id, program_id)),
        reward_count=_count_partition(keys.program_rewards(org_id, program_id, REWARDS_BY_CREATED), not_archived),
        rule_count=_count_partition(keys.program_rules(org_id, program_id), not_archived),
        tier_count=_count_partition(keys.program_tiers(org_id, program_id), not_archived),
    )
