"""The scheduled lot jobs (04 §8.7-8.8): maturity, then expiry.

Each run reads the due index up to "now" (the application clock, which tests move) and, per
owner and asset, commits one MATURITY or EXPIRATION entry (with ``program_id`` null, decision
20) together with the lots it changes and the balance it moves. Lots are re-read inside the
balance's version-guarded transaction, so a job that runs twice, or two runs that overlap,
change each lot once; index entries whose lot has nothing left to do are simply removed.

A run reads the due index from a checkpoint per kind (the first hour not yet seen empty), not
the whole look-back: an idle run reads one or two hours, 2 x 16 shards each, not 49.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from scrip.domain import clock, due_hours
from scrip.domain.ledger import Account, ActionType, Bucket, SystemAccount, system_account
from scrip.domain.legs import Leg
from scrip.domain.lots import BUCKET_STATUS, Lot, LotStatus, close, mature
from scrip.services.common import retry_on_stale
from scrip.services.posting import BALANCE_RETRY, Operation, Origin, plan
from scrip.storage import assets as asset_store
from scrip.storage import ledger as ledger_store
from scrip.storage import lots as lot_store
from scrip.storage import transactions

LOOKBACK = timedelta(days=2)  # how far back a run looks for due entries it has not cleared
# Longer than any function runs (300 s) between reading the clock and committing: a due entry
# is never filed in an hour that ended more than this long ago.
SETTLE = timedelta(minutes=15)
LIVE = (LotStatus.AVAILABLE, LotStatus.HELD, LotStatus.DEFERRED)


@dataclass
class JobReport:
    matured: int = 0
    expired: int = 0
    entries: list[str] = field(default_factory=list)


def _due_lots(kind: str, lots: list[Lot], now: datetime) -> list[Lot]:
    if kind == "MATURITY":
        return [
            lot
            for lot in lots
            if lot.status is LotStatus.DEFERRED and lot.matures_at and lot.matures_at <= now and not lot.expired(now)
        ]
    return [lot for lot in lots if lot.status in LIVE and lot.remaining > 0 and lot.expired(now)]


def _process(
    kind: str, organization_id: str, account: Account, asset_id: str, now: datetime, index_entries: list[dict[str, Any]]
) -> tuple[int, str | None]:
    asset = asset_store.require(organization_id, asset_id)

    def attempt() -> tuple[int, str | None]:
        version = ledger_store.read_balance(organization_id, account, asset_id).version
        lots = lot_store.read(organization_id, account, asset_id)
        due = _due_lots(kind, lots, now)
        cleanup = [lot_store.delete_due(entry) for entry in index_entries]
        if not due:
            transactions.write(cleanup)
            return 0, None
        if kind == "MATURITY":
            changes = mature(due)
            legs = [
                Leg(account, Bucket.DEFERRED, -changes.moved, due[0].program_id),
                Leg(account, Bucket.AVAILABLE, changes.moved, due[0].program_id),
            ]
            action = ActionType.MATURITY
        else:
            changes = close(due, LotStatus.EXPIRED)
            by_bucket: dict[Bucket, Decimal] = defaultdict(Decimal)
            for lot in due:
                bucket = next(b for b, s in BUCKET_STATUS.items() if s is lot.status)
                by_bucket[bucket] += lot.remaining
            legs = [Leg(account, bucket, -value, due[0].program_id) for bucket, value in by_bucket.items()]
            legs.append(
                Leg(system_account(SystemAccount.SYSTEM_BREAKAGE), Bucket.AVAILABLE, changes.moved, due[0].program_id)
            )
            action = ActionType.EXPIRATION
        lot_writes = [write for lot in changes.changed for write in lot_store.put(organization_id, account, lot)]
        description = "Lot maturity" if kind == "MATURITY" else "Lot expiration"
        planned = plan(
            Operation(
                organization_id,
                None,
                asset,
                action,
                legs,
                description,
                Origin(),
                extra_writes=lot_writes,
                balance_versions={account: version},
            )
        )
        # An index entry may also be rewritten by a lot put (a delete either way): keep one of each.
        transactions.write(lot_store.without_repeats([*planned.writes, *cleanup]))
        return len(due), planned.entry.id

    return retry_on_stale(attempt, BALANCE_RETRY)


def run_due(now: datetime | None = None) -> JobReport:
    moment = now or clock.now()
    # The wall clock, not the application clock: tests shift the latter forward and back, but
    # whoever files a due entry files it after the wall clock's "now" at its start.
    settled = min(moment, datetime.now(UTC)) - SETTLE
    report = JobReport()
    for kind in ("MATURITY", "EXPIRY"):
        checkpoint = lot_store.due_checkpoint(kind)
        hours = due_hours.hours_to_read(checkpoint, moment, LOOKBACK)
        groups: dict[tuple[str, Account, str], list[dict[str, Any]]] = defaultdict(list)
        for hour in hours:
            for entry in lot_store.due(kind, hour, moment):
                groups[lot_store.owner_of(entry)].append(entry)
        for (organization_id, account, asset_id), entries in groups.items():
            count, entry_id = _process(kind, organization_id, account, asset_id, moment, entries)
            if kind == "MATURITY":
                report.matured += count
            else:
                report.expired += count
            if entry_id:
                report.entries.append(entry_id)
        # Reached only when every entry read was processed (a failure raises), so each bucket read is empty.
        advanced = due_hours.advanced_checkpoint(checkpoint, hours, settled)
        if advanced is not None:
            lot_store.save_due_checkpoint(kind, advanced)
    return report
