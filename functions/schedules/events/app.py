"""Every minute (EventBridge schedule): create the SYSTEM events that SCHEDULE_EVENT asked for."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import logger, metrics, tracer
from scrip.services import follow_ups


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = follow_ups.fire_scheduled()
    metrics.add_metric(name="ScheduledEventsCreated", unit="Count", value=run.created)
    logger.info("scheduled events fired", extra={"events_created": run.created, "due": run.due})
    return {"created": run.created, "due": run.due}
