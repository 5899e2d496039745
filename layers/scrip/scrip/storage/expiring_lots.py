"""The expiration schedule's index (04 §8.10): outstanding lot value by expiry month and day,
kept from the table's stream by ``services.expiring_lots``.

* **Month rows**: per (asset, program, expiry UTC month or ``NEVER``) the outstanding value
  (``outstanding``, the remainders of AVAILABLE, HELD and DEFERRED lots) and ``lot_count`` (lots
  with some outstanding), in ``DAY_SHARDS`` shards chosen by lot id: an "expires 31 Dec" policy
  files every credit under one month, and one item would take them all. A reader sums the
  shards, one Query each for the whole organization. Never-expiring value lives here only.
* **Day rows**: the same per expiry UTC day, for lots that expire, same shards; sorted by day
  first, so a reader asks one Query per shard for the days of the months it needs to the day.
  A month or day row that loses its last lot is deleted, so a reader reads the rows that hold
  value, not every one that ever did.
* **Lines**: one item per outstanding lot that expires, under its expiry day (``LINE_SHARDS``
  shards), so the two edge days of a window place each lot by its instant.
* **Claims**: a stream record's ``eventID``, put in the transaction that adds its deltas to the
  month and day rows (condition: absent). A redelivered record finds it and its transaction is
  cancelled as a whole (``AlreadyApplied``). TTL removes it after ``CLAIM_RETENTION_SECONDS``,
  longer than the stream keeps a record (24 hours).

Lines take no claim: a put carries the lot's state in the record's new image and a delete its
absence, so applying the records again in order leaves the same line.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from scrip.storage import items, keys, listing, table, transactions

DAY_SHARDS = 8
LINE_SHARDS = 8
CLAIM_RETENTION_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True)
class ExpiryDayRow:
    asset_id: str
    program_id: str | None
    day: date
    outstanding: Decimal
    lot_count: int


@dataclass(frozen=True)
class ExpiryMonthRow:
    asset_id: str
    program_id: str | None
    month: date | None  # its 1st; None: lots without expires_at (never expiring)
    outstanding: Decimal
    lot_count: int


@dataclass(frozen=True)
class ExpiringLot:
    lot_id: str
    asset_id: str
    program_id: str | None
    expires_at: datetime  # UTC
    remaining: Decimal


@dataclass(frozen=True)
class DayChange:
    """What one stream record adds to one day row (either may be negative); ``day`` None is the
    never-expiring value, which has no day row (only its month row)."""

    asset_id: str
    program_id: str | None
    day: date | None
    outstanding: Decimal
    lot_count: int


@dataclass(frozen=True)
class MonthChange:
    """What one stream record adds to one month row (``month``: its 1st, or None for never)."""

    asset_id: str
    program_id: str | None
    month: date | None
    outstanding: Decimal
    lot_count: int


class AlreadyApplied(Exception):
    """The stream record's claim exists: its row changes were applied before."""


def organization_of(image: dict[str, Any]) -> str:
    """The organization of a lot item (its partition is ``ORG#{org}#…``)."""
    return str(image["PK"]).split("#", 2)[1]


def expiry_day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _month_text(month: date | None) -> str:
    return month.strftime("%Y-%m") if month is not None else keys.NEVER_EXPIRES


def _day_key(org_id: str, lot_id: str, change: DayChange) -> dict[str, str]:
    assert change.day is not None
    return {
        "PK": keys.expiry_days(org_id, keys.shard_of(lot_id, DAY_SHARDS)),
        "SK": keys.expiry_day(change.day.isoformat(), change.asset_id, change.program_id),
    }


def _month_key(org_id: str, lot_id: str, change: MonthChange) -> dict[str, str]:
    return {
        "PK": keys.expiry_months(org_id, keys.shard_of(lot_id, DAY_SHARDS)),
        "SK": keys.expiry_month(change.asset_id, change.program_id, _month_text(change.month)),
    }


def _row_update(
    key: dict[str, str], change: DayChange | MonthChange, entity: str, period: tuple[str, str]
) -> transactions.Write:
    names = {"#o": "outstanding", "#n": "lot_count", "#a": "asset_id", "#d": period[0], "#e": "entity"}
    values: dict[str, Any] = {
        ":o": change.outstanding,
        ":n": change.lot_count,
        ":a": change.asset_id,
        ":d": period[1],
        ":e": entity,
    }
    update = "ADD #o :o, #n :n SET #a = :a, #d = :d, #e = :e"
    if change.program_id is not None:
        names["#p"], values[":p"] = "program_id", change.program_id
        update += ", #p = :p"
    return transactions.Write(
        "Update",
        {
            "Key": key,
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        },
    )


def add_to_rows(
    org_id: str, event_id: str, lot_id: str, days: Sequence[DayChange], months: Sequence[MonthChange]
) -> None:
    """Add a stream record's changes to the day and month rows in one transaction, once per
    ``event_id`` (``AlreadyApplied`` when its claim exists). Day changes of ``day`` None (never
    expiring) write no day row: that value lives in the month rows. ``months`` name each row once
    (a transaction may not touch one item twice)."""
    claim = transactions.put(
        {
            "PK": keys.expiring_lots_claim(org_id, event_id),
            "SK": keys.ENTITY_SK,
            "entity": "EXPIRY_CLAIM",
            "expires_at_epoch": int(time.time()) + CLAIM_RETENTION_SECONDS,
        },
        condition=Attr("PK").not_exists(),
        on_condition_failed=AlreadyApplied,
    )
    dated = [change for change in days if change.day is not None]
    transactions.write(
        [
            claim,
            *(
                _row_update(_day_key(org_id, lot_id, change), change, "EXPIRY_DAY", ("day", str(change.day)))
                for change in dated
            ),
            *(
                _row_update(
                    _month_key(org_id, lot_id, change), change, "EXPIRY_MONTH", ("month", _month_text(change.month))
                )
                for change in months
            ),
        ]
    )
    # Rows that may have lost their last lot.
    for day_change in dated:
        if day_change.lot_count < 0:
            _drop_if_empty(_day_key(org_id, lot_id, day_change))
    for month_change in months:
        if month_change.lot_count < 0:
            _drop_if_empty(_month_key(org_id, lot_id, month_change))


def _drop_if_empty(key: dict[str, str]) -> None:
    """Delete a day or month row left with nothing, so that a reader reads the rows that still
    hold value, not every one that ever did. A concurrent ``ADD`` either makes the condition fail
    or, after the delete, recreates the row from nothing, which is the same sum. A crash before it
    leaves a zero row, which readers skip."""
    try:
        table.client().delete_item(
            TableName=table.table_name(),
            Key=key,
            ConditionExpression="#o = :zero AND #n = :zero",
            ExpressionAttributeNames={"#o": "outstanding", "#n": "lot_count"},
            ExpressionAttributeValues={":zero": 0},
        )
    except ClientError as error:
        if table.error_code(error) != "ConditionalCheckFailedException":
            raise


def _line_key(org_id: str, lot_id: str, asset_id: str, expires_at: datetime) -> dict[str, str]:
    return {
        "PK": keys.expiring_lots(org_id, expiry_day_of(expires_at).isoformat(), keys.shard_of(lot_id, LINE_SHARDS)),
        "SK": keys.expiring_lot(asset_id, lot_id),
    }


def put_line(org_id: str, lot: ExpiringLot) -> None:
    item = {
        **_line_key(org_id, lot.lot_id, lot.asset_id, lot.expires_at),
        "entity": "EXPIRING_LOT",
        "lot_id": lot.lot_id,
        "asset_id": lot.asset_id,
        "program_id": lot.program_id,
        "expires_at": items.timestamp(lot.expires_at),
        "remaining": lot.remaining,
    }
    table.client().put_item(TableName=table.table_name(), Item={k: v for k, v in item.items() if v is not None})


def delete_line(org_id: str, lot_id: str, asset_id: str, expires_at: datetime) -> None:
    table.client().delete_item(TableName=table.table_name(), Key=_line_key(org_id, lot_id, asset_id, expires_at))


def _program_filter(program_id: str | None) -> Any:
    return Attr("program_id").eq(program_id) if program_id is not None else None


def month_rows(org_id: str, *, asset_id: str | None = None, program_id: str | None = None) -> list[ExpiryMonthRow]:
    """Every month row of the organization (never-expiring included), summed over shards, one per
    (asset, program, month); rows whose outstanding and lot_count are both 0 are left out.
    ``program_id=None`` means any program. One Query per shard."""
    prefix = keys.expiry_month_prefix(asset_id, program_id) if asset_id is not None else None
    # Without an asset the program is not a key prefix: a filter on the rows read.
    item_filter = _program_filter(program_id) if asset_id is None else None
    sums: dict[tuple[str, str | None, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for shard in range(DAY_SHARDS):
        for item in listing.query_all(keys.expiry_months(org_id, shard), prefix=prefix, item_filter=item_filter):
            summed = sums[(str(item["asset_id"]), item.get("program_id"), str(item["month"]))]
            summed[0] += Decimal(item.get("outstanding", 0))
            summed[1] += int(item.get("lot_count", 0))
    return [
        ExpiryMonthRow(
            asset_id=asset,
            program_id=program,
            month=None if month == keys.NEVER_EXPIRES else date.fromisoformat(f"{month}-01"),
            outstanding=outstanding,
            lot_count=count,
        )
        for (asset, program, month), (outstanding, count) in sorted(sums.items(), key=lambda each: str(each[0]))
        if outstanding != 0 or count != 0
    ]


def day_rows(
    org_id: str, first_day: date, last_day: date, *, asset_id: str | None = None, program_id: str | None = None
) -> list[ExpiryDayRow]:
    """The day rows of ``first_day`` to ``last_day`` (inclusive), summed over shards, one per
    (asset, program, day); rows whose outstanding and lot_count are both 0 are left out.
    ``program_id=None`` means any program. One Query per shard: the days are the key range, the
    asset and program a filter."""
    low, high = keys.expiry_day_range(first_day.isoformat(), last_day.isoformat())
    conditions = [Attr("asset_id").eq(asset_id)] if asset_id is not None else []
    if program_id is not None:
        conditions.append(_program_filter(program_id))
    item_filter = listing.all_of(conditions)
    sums: dict[tuple[str, str | None, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for shard in range(DAY_SHARDS):
        params: dict[str, Any] = {
            "TableName": table.table_name(),
            "KeyConditionExpression": Key("PK").eq(keys.expiry_days(org_id, shard)) & Key("SK").between(low, high),
            "ConsistentRead": True,
        }
        if item_filter is not None:
            params["FilterExpression"] = item_filter
        for item in listing.every_page(params):
            summed = sums[(str(item["asset_id"]), item.get("program_id"), str(item["day"]))]
            summed[0] += Decimal(item.get("outstanding", 0))
            summed[1] += int(item.get("lot_count", 0))
    return [
        ExpiryDayRow(
            asset_id=asset,
            program_id=program,
            day=date.fromisoformat(day),
            outstanding=outstanding,
            lot_count=count,
        )
        for (asset, program, day), (outstanding, count) in sorted(sums.items(), key=lambda each: str(each[0]))
        if outstanding != 0 or count != 0
    ]


def lots_expiring_on(
    org_id: str, day: date, *, asset_id: str | None = None, program_id: str | None = None
) -> list[ExpiringLot]:
    """The outstanding lots whose expires_at falls on ``day`` (UTC); ``program_id=None`` means
    any program. One Query per shard."""
    prefix = keys.expiring_lot(asset_id, "") if asset_id is not None else None
    found: list[ExpiringLot] = []
    for shard in range(LINE_SHARDS):
        partition = keys.expiring_lots(org_id, day.isoformat(), shard)
        for item in listing.query_all(partition, prefix=prefix, item_filter=_program_filter(program_id)):
            expires_at = items.moment(item["expires_at"])
            assert expires_at is not None
            found.append(
                ExpiringLot(
                    lot_id=str(item["lot_id"]),
                    asset_id=str(item["asset_id"]),
                    program_id=item.get("program_id"),
                    expires_at=expires_at.astimezone(UTC),
                    remaining=Decimal(item["remaining"]),
                )
            )
    return sorted(found, key=lambda lot: (lot.expires_at, lot.lot_id))
