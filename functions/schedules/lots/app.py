"""Every minute (EventBridge schedule): mature and expire the lots that fell due."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import lot_jobs


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = lot_jobs.run_due()
    metrics.add_metric(name="LotsMatured", unit="Count", value=report.matured)
    metrics.add_metric(name="LotsExpired", unit="Count", value=report.expired)
    logger.info(
        "lot jobs ran", extra={"matured": report.matured, "expired": report.expired, "entries": len(report.entries)}
    )
    return {"matured": report.matured, "expired": report.expired, "journal_entry_ids": report.entries}
