"""Every minute (EventBridge schedule): queue the webhook deliveries whose retry fell due."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import webhook_delivery


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queued = webhook_delivery.sweep_due()
    metrics.add_metric(name="WebhookRetriesQueued", unit="Count", value=queued)
    logger.info("webhook retries queued", extra={"queued": queued})
    return {"queued": queued}
