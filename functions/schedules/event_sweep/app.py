"""Every minute (EventBridge schedule): queue again the PENDING events nobody processed.

A stream batch that exhausted its retries, a message dead-lettered, a processor killed in an
attempt: the event's entry in the due index outlives them all, and this sweep finds it past
its due time (``services.event_processing.sweep_overdue``).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import event_processing


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = event_processing.sweep_overdue()
    metrics.add_metric(name="OverdueEventsRequeued", unit="Count", value=run.requeued)
    metrics.add_metric(name="OverdueEventsFailed", unit="Count", value=run.failed)
    summary = {"overdue": run.overdue, "requeued": run.requeued, "failed": run.failed, "dropped": run.dropped}
    if run.overdue:
        # Overdue events mean some part of the pipeline lost them: worth an operator's look.
        logger.warning("overdue events swept", extra=summary)
    else:
        logger.info("no overdue events", extra=summary)
    return summary
