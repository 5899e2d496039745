"""DynamoDB stream consumer: add committed journal entries to the system-account totals.

The whole batch is applied together (a transaction per up to ~100 entries: a marker per entry,
one update per total shard), not one entry per transaction. Streams deliver at least once and
may redeliver a batch: applying is idempotent (the markers), and when a transaction fails the
records from its first entry on are reported (partial batch response), so Lambda retries from
there and the entries before it are not applied twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import ItemChangeRecord
from scrip.observability import lambda_handler, logger, metrics
from scrip.services import totals


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sequence_numbers: list[str] = []
    images: list[dict[str, Any]] = []
    for raw in event.get("Records", []):
        record = ItemChangeRecord.model_validate(raw)
        image = record.dynamodb.NewImage
        # The event source's filter should have dropped every other record.
        if record.eventName == "INSERT" and image and totals.is_entry_image(image):
            sequence_numbers.append(str(record.dynamodb.SequenceNumber))
            images.append(image)
    try:
        applied = totals.apply_committed_entries(images)
    except totals.TotalsFailed as failed:
        logger.exception("totals not applied", extra={"first_unapplied": failed.first_unapplied})
        failures = sequence_numbers[failed.first_unapplied :]
        return {"batchItemFailures": [{"itemIdentifier": number} for number in failures]}
    metrics.add_metric(name="EntriesTotalled", unit="Count", value=applied)
    return {"batchItemFailures": []}
