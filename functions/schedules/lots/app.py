"""Every minute (EventBridge schedule): mature and expire the lots that fell due, and undo the
staged transfers whose request died before their commit (their deadline passed)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import lot_jobs, transfers


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = lot_jobs.run_due()
    swept = transfers.abort_overdue()
    metrics.add_metric(name="StagedTransfersAborted", unit="Count", value=swept.aborted)
    metrics.add_metric(name="LotsMatured", unit="Count", value=report.matured)
    metrics.add_metric(name="LotsExpired", unit="Count", value=report.expired)
    logger.info(
        "lot jobs ran", extra={"matured": report.matured, "expired": report.expired, "entries": len(report.entries)}
    )
    return {
        "matured": report.matured,
        "expired": report.expired,
        "journal_entry_ids": report.entries,
        "transfers_aborted": swept.aborted,
    }
