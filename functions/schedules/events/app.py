"""Every minute (EventBridge schedule): create the SYSTEM events that SCHEDULE_EVENT asked for."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import follow_ups


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = follow_ups.fire_scheduled()
    metrics.add_metric(name="ScheduledEventsCreated", unit="Count", value=run.created)
    logger.info("scheduled events fired", extra={"events_created": run.created, "due": run.due})
    return {"created": run.created, "due": run.due}
