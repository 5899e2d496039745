"""DynamoDB stream consumer: add each committed journal entry to the system-account totals.

Streams deliver at least once and may redeliver a batch: applying an entry is idempotent, and
a record that fails is reported alone (partial batch response), so the records before it are
not applied twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import ItemChangeRecord
from scrip.observability import lambda_handler, metrics
from scrip.services import totals

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=ItemChangeRecord)


def record_handler(record: ItemChangeRecord) -> None:
    image = record.dynamodb.NewImage
    if not image or image.get("entity") != "JOURNAL_ENTRY":
        return  # the event source's filter should have dropped it
    if totals.apply_committed_entry(image):
        metrics.add_metric(name="EntriesTotalled", unit="Count", value=1)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
