"""Every minute (EventBridge schedule): queue the webhook deliveries whose retry fell due."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import logger, metrics, tracer
from scrip.services import webhook_delivery


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queued = webhook_delivery.sweep_due()
    metrics.add_metric(name="WebhookRetriesQueued", unit="Count", value=queued)
    logger.info("webhook retries queued", extra={"queued": queued})
    return {"queued": queued}
