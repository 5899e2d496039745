"""Rendering the reports (05 §4.1–4.4): service rows into their response models.

Amounts are written at the asset's scale. The documented errors of the four routes are here
too: 404 for an unknown program or asset, 500 ``unclassified_activity`` when the ledger holds
activity no rollforward line explains, 503 ``aggregates_behind`` with ``Retry-After`` when the
stream-kept aggregates lag the journal too far to answer from it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from scrip.api.responses import documented
from scrip.api.schemas.reports import (
    ExpirationBucket,
    ExpirationScheduleRow,
    LedgerSummaryRow,
    LiabilityRow,
    ProgramActivityRow,
    RollforwardRow,
)
from scrip.domain.amounts import format_amount
from scrip.domain.clock import to_rfc3339, to_rfc3339_or_none
from scrip.domain.report_lines import Line
from scrip.services.reports import ActivityLine, LiabilityLine, Names, RollforwardLine, SummaryLine

if TYPE_CHECKING:
    # Only its shape is needed here: the four older reports' handlers need not load the expiry index.
    from scrip.services.expiration_schedule import ExpirationLine

NOT_FOUND = "`not_found`: unknown `program_id` or `asset_id`"
UNCLASSIFIED = (
    "`unclassified_activity`: the ledger holds activity that no rollforward line explains, or balances and lines "
    "do not reconcile: the report fails rather than misstate (05 §4.4)"
)
BEHIND = (
    "`aggregates_behind`: the stream-kept aggregates lag the journal further than a report may read the journal "
    "itself; retry after the `Retry-After` seconds (also in `details.retry_after_seconds`) [inferred]. Each call "
    "verifies the aggregates for at most about 8 seconds and keeps what it verified, so an organization's first "
    "report after a long history may answer this (`Retry-After: 1`) until its retries have verified the whole "
    "history; a stream that is behind answers `Retry-After: 60`"
)


def report_responses(success: str, *, not_found: bool = True) -> dict[int, OpenAPIResponse]:
    errors = {500: UNCLASSIFIED, 503: BEHIND}
    if not_found:
        errors[404] = NOT_FOUND
    return documented({200: success}, errors)


def _row_names(names: Names) -> dict[str, object]:
    asset = names.asset
    return {
        "asset_id": asset.id,
        "asset_name": asset.name,
        "asset_symbol": asset.symbol,
        "scale": asset.scale,
        "program_id": names.program_id,
        "program_name": names.program_name,
    }


def amount(value: Decimal, scale: int) -> str:
    return format_amount(value, scale)


def liability_row(line: LiabilityLine) -> LiabilityRow:
    return LiabilityRow(
        **_row_names(line.names),  # type: ignore[arg-type]
        balance=amount(line.balance, line.names.asset.scale),
        bucket=line.bucket,
    )


def rollforward_row(line: RollforwardLine) -> RollforwardRow:
    scale = line.names.asset.scale
    lines = {name.value: amount(line.lines.get(name, Decimal(0)), scale) for name in Line}
    return RollforwardRow(
        **_row_names(line.names),  # type: ignore[arg-type]
        opening_balance=amount(line.opening, scale),
        closing_balance=amount(line.closing, scale),
        **lines,  # type: ignore[arg-type]
    )


def ledger_summary_row(line: SummaryLine) -> LedgerSummaryRow:
    scale = line.asset.scale
    period: dict[str, str] = {}
    if line.period is not None:
        p = line.period
        period = {
            "opening_balance": amount(p.opening, scale),
            "closing_balance": amount(p.closing, scale),
            "period_issued": amount(p.issued, scale),
            "period_redeemed": amount(p.redeemed, scale),
            "period_expired": amount(p.expired, scale),
            "period_forfeited": amount(p.forfeited, scale),
            "other_adjustments_net": amount(p.other_net, scale),
        }
    return LedgerSummaryRow(
        asset_id=line.asset.id,
        asset_name=line.asset.name,
        asset_symbol=line.asset.symbol,
        scale=scale,
        total_issued=amount(line.total_issued, scale),
        total_redeemed=amount(line.total_redeemed, scale),
        total_expired=amount(line.total_expired, scale),
        total_forfeited=amount(line.total_forfeited, scale),
        current_balance=amount(line.current_balance, scale),
        participant_count=line.participant_count,
        **period,
    )


def program_activity_row(line: ActivityLine) -> ProgramActivityRow:
    configuration = line.configuration
    return ProgramActivityRow(
        program_id=line.program_id,
        program_name=line.program_name,
        event_count=line.event_count,
        journal_count=line.journal_count,
        # Assets of several scales summed (05 §4.2): written as the exact decimal, no fixed scale.
        total_issued=format(line.total_issued, "f"),
        total_redeemed=format(line.total_redeemed, "f"),
        unique_participants=line.unique_participants,
        last_activity_at=to_rfc3339_or_none(line.last_activity_at),
        asset_count=configuration.asset_count,
        reward_count=configuration.reward_count,
        rule_count=configuration.rule_count,
        tier_count=configuration.tier_count,
    )


def expiration_row(line: ExpirationLine) -> ExpirationScheduleRow:
    asset, schedule = line.asset, line.schedule
    scale = asset.scale
    return ExpirationScheduleRow(
        asset_id=asset.id,
        asset_name=asset.name,
        asset_symbol=asset.symbol,
        scale=scale,
        total_outstanding=amount(schedule.total_outstanding, scale),
        never_expiring=amount(schedule.never_expiring, scale),
        expiring_before_window=amount(schedule.expiring_before_window, scale),
        expiring_after_window=amount(schedule.expiring_after_window, scale),
        buckets=[
            ExpirationBucket(
                bucket_start=to_rfc3339(bucket.start),
                bucket_end=to_rfc3339(bucket.end),
                amount=amount(bucket.amount, scale),
                lot_count=bucket.lot_count,
            )
            for bucket in schedule.buckets
        ],
    )
