"""SQS consumer: one attempt per message to deliver a webhook (06 §2.8).

A refused attempt is recorded on the delivery (and retried on the schedule); only an
unexpected error returns the message to the queue, and after maxReceiveCount to its DLQ.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import DeliveryMessageRecord
from scrip.observability import lambda_handler, metrics
from scrip.services import webhook_delivery

processor = BatchProcessor(event_type=EventType.SQS, model=DeliveryMessageRecord)


def record_handler(record: DeliveryMessageRecord) -> None:
    message = record.body
    outcome = webhook_delivery.attempt(message.organization_id, message.delivery_id)
    metrics.add_metric(name=f"Webhook{outcome.value.title()}", unit="Count", value=1)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
