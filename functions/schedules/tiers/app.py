"""Every minute (EventBridge schedule): apply the tier levels whose expiry fell due (explicit
expiries, lifecycle lapses, grace ends) and start the period-end fan-out of the tiers whose
period boundary passed (02 §4.7.3)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import tier_jobs


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = tier_jobs.run_due()
    metrics.add_metric(name="TierLevelsChanged", unit="Count", value=report.changed)
    metrics.add_metric(name="TierLevelsKept", unit="Count", value=report.kept)
    metrics.add_metric(name="TierPeriodEndsStarted", unit="Count", value=report.periods_started)
    logger.info(
        "tier jobs ran",
        extra={
            "changed": report.changed,
            "kept": report.kept,
            "dropped": report.dropped,
            "periods_started": report.periods_started,
        },
    )
    return {
        "changed": report.changed,
        "kept": report.kept,
        "dropped": report.dropped,
        "periods_started": report.periods_started,
    }
