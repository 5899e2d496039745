"""DynamoDB stream consumer: queue PENDING events for processing, and fan out BROADCASTs.

The event source's filter passes event items whose new image is PENDING (new, after a failed
attempt, after POST /retry) and inserted BROADCAST items. Both actions are idempotent, so a
redelivered batch only sends messages the processor will find nothing left to do for.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import logger, metrics, tracer
from scrip.services import follow_ups

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        return
    if image.get("entity") == "BROADCAST":
        created = follow_ups.fan_out(image)
        metrics.add_metric(name="BroadcastEventsCreated", unit="Count", value=created)
    elif follow_ups.dispatch([image]):
        metrics.add_metric(name="EventsQueued", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
