"""When outstanding LOT value will expire (04 §8.10): one schedule per LOT asset in scope.

The schedule is read from the stream-kept expiry index (``storage.expiring_lots``), never from
the lots themselves: per asset, its month rows (outstanding per expiry month, and "never"), its
day rows of the months that need days (``domain.expiration_schedule.day_resolved_months``) and
the lots of the two edge days, which ``domain.expiration_schedule`` places by their instant so
that a lot expiring at 10:00 on the day of ``from`` falls before or inside the window exactly.

Rows are the organization's LOT assets (with ``program_id``, those linked to the program: a
program that credited a lot has posted in its asset, which keeps the link for good), ordered by
asset id, paged by a cursor naming the last asset id. An asset without outstanding value still
has its row, all zeros: the report lists the assets in scope, not only the busy ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from scrip.domain import clock
from scrip.domain.assets import Asset, InventoryMode
from scrip.domain.errors import ValidationFailed
from scrip.domain.expiration_schedule import (
    AssetSchedule,
    Granularity,
    asset_schedule,
    bucket_bounds,
    day_resolved_months,
    edge_days,
)
from scrip.domain.organizations import Caller
from scrip.domain.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor, scope_signature
from scrip.services.reports import Period
from scrip.storage import assets as asset_store
from scrip.storage import expiring_lots as expiring_store
from scrip.storage import programs as program_store


@dataclass(frozen=True)
class ExpirationLine:
    asset: Asset
    schedule: AssetSchedule


def _lot_assets(org_id: str, asset_id: str | None, program_id: str | None) -> list[Asset]:
    """The LOT assets in scope. Unknown ids are 404, as in the other reports; naming a SIMPLE
    asset is a 400 (04 §8.10): it has no lots, so it has no schedule."""
    if program_id is not None:
        program_store.require(org_id, program_id)
    if asset_id is not None:
        asset = asset_store.require(org_id, asset_id)
        if asset.inventory_mode is not InventoryMode.LOT:
            raise ValidationFailed(
                f"asset {asset_id} is a {asset.inventory_mode.value}-mode asset: only LOT-mode value expires",
                field="asset_id",
                reason="not_lot_asset",
                expected="a LOT-mode asset",
            )
        return [asset] if program_id is None or program_id in asset.program_ids else []
    found = _every_asset(org_id) if program_id is None else _linked_assets(org_id, program_id)
    return [asset for asset in found if asset.inventory_mode is InventoryMode.LOT]


def _every_asset(org_id: str) -> list[Asset]:
    """The organization's asset list, one Query per 200 assets (its own partition, no scan)."""
    found: list[Asset] = []
    after: str | None = None
    while True:
        page, after = asset_store.list_page(org_id, limit=MAX_LIMIT, after=after, status=None, search=None)
        found += page
        if after is None:
            return found


def _linked_assets(org_id: str, program_id: str) -> list[Asset]:
    found: list[Asset] = []
    after: str | None = None
    while True:
        entries, more = asset_store.linked_entries(org_id, program_id, limit=MAX_LIMIT, after=after)
        found += asset_store.get_many(org_id, [asset_id for _, asset_id in entries]).values()
        if not more or not entries:
            return found
        after = entries[-1][0]


def expiration_schedule(
    caller: Caller,
    *,
    period: Period,
    granularity: Granularity,
    asset_id: str | None,
    program_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[ExpirationLine]:
    org_id = caller.organization_id
    # The window's own faults (too many buckets, a last bucket past year 9999) are 400 before any read.
    bucket_bounds(period.start, period.end, granularity)
    scope = scope_signature(
        "reports/expiration-schedule",
        clock.to_rfc3339(period.start),
        clock.to_rfc3339(period.end),
        granularity.value,
        asset_id,
        program_id,
    )
    after = decode_cursor(cursor, scope) if cursor else None
    assets = sorted(_lot_assets(org_id, asset_id, program_id), key=lambda a: a.id)
    remaining = [asset for asset in assets if after is None or asset.id > after]
    chosen = remaining[:limit]
    next_cursor = encode_cursor(chosen[-1].id, scope) if len(remaining) > limit else None
    if not chosen:
        return Page([], None)
    # The index is read once for the page, not once per asset: the month rows are one Query per
    # shard (a key prefix when one asset is asked for), the day rows one Query per shard and
    # day-resolved range (a key range; asset and program a filter), the edge days' lines one Query
    # per shard and day, and an organization has few LOT assets, so rows of assets off the page
    # cost less than a round of Queries per asset would.
    months: dict[str, list[tuple[date | None, Decimal, int]]] = defaultdict(list)
    for month_row in expiring_store.month_rows(org_id, asset_id=asset_id, program_id=program_id):
        months[month_row.asset_id].append((month_row.month, month_row.outstanding, month_row.lot_count))
    days: dict[str, list[tuple[date, Decimal, int]]] = defaultdict(list)
    for first_day, last_day in day_resolved_months(period.start, period.end, granularity):
        for day_row in expiring_store.day_rows(org_id, first_day, last_day, asset_id=asset_id, program_id=program_id):
            days[day_row.asset_id].append((day_row.day, day_row.outstanding, day_row.lot_count))
    edge_lots: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for day in edge_days(period.start, period.end):
        for lot in expiring_store.lots_expiring_on(org_id, day, asset_id=asset_id, program_id=program_id):
            edge_lots[lot.asset_id].append((lot.expires_at, lot.remaining))
    lines = [
        ExpirationLine(
            asset,
            asset_schedule(
                asset.id,
                period.start,
                period.end,
                granularity,
                month_rows=months.get(asset.id, []),
                day_rows=days.get(asset.id, []),
                edge_lots=edge_lots.get(asset.id, []),
            ),
        )
        for asset in chosen
    ]
    return Page(lines, next_cursor)
