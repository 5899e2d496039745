"""SQS consumer: process events (03 §2), one message per event.

Processing is exactly-once whatever SQS delivers: the event's effects and its move to
COMPLETED are one transaction guarded by the event's version. An error in an attempt is
recorded on the event as a failed attempt; only a message whose failure could not even be
recorded (the table unreachable) raises, returns to the queue and, after the queue's
maxReceiveCount, to its dead-letter queue, and the event sweep picks its event up.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import EventMessageRecord
from scrip.observability import lambda_handler, metrics
from scrip.services import event_processing

processor = BatchProcessor(event_type=EventType.SQS, model=EventMessageRecord)


def record_handler(record: EventMessageRecord) -> None:
    message = record.body
    outcome = event_processing.process(message.organization_id, message.event_id)
    if outcome.status is not None:
        metrics.add_metric(name=f"Events{outcome.status.value.title()}", unit="Count", value=1)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
