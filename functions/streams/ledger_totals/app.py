"""DynamoDB stream consumer: add each committed journal entry to the system-account totals.

Streams deliver at least once and may redeliver a batch: applying an entry is idempotent, and
a record that fails is reported alone (partial batch response), so the records before it are
not applied twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import logger, metrics, tracer
from scrip.services import totals

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image or image.get("entity") != "JOURNAL_ENTRY":
        return  # the event source's filter should have dropped it
    if totals.apply_committed_entry(image):
        metrics.add_metric(name="EntriesTotalled", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
