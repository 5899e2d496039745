"""DynamoDB stream consumer: add committed journal entries to the system-account totals, and
keep the reports' counts (``services.report_counts``: participant balances crossing zero,
programs' earning participants, completed events) and the expiration schedule's index of lots
(``services.expiring_lots``).

The whole batch is applied together (a transaction per up to ~100 entries: a marker per entry,
one update per total shard), not one entry per transaction. Streams deliver at least once and
may redeliver a batch: applying is idempotent (the markers, the counts' and the expiry days'
claims), and when a transaction fails the records from the first one not applied (by any of the
three) on are reported (partial batch response), so Lambda retries from there and the records
before it are not applied twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import ItemChangeRecord
from scrip.observability import lambda_handler, logger, metrics
from scrip.services import expiring_lots, report_counts, totals


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sequence_numbers: list[str] = []
    images: list[dict[str, Any]] = []
    image_records: list[int] = []  # position in sequence_numbers of each image
    changes: list[report_counts.Change] = []
    change_records: list[int] = []
    lot_changes: list[expiring_lots.LotChange] = []
    lot_records: list[int] = []
    for raw in event.get("Records", []):
        record = ItemChangeRecord.model_validate(raw)
        image = record.dynamodb.NewImage
        change = (record.dynamodb.OldImage, image)
        # The event source's filter should have dropped every other record.
        is_entry = record.eventName == "INSERT" and image is not None and totals.is_entry_image(image)
        is_lot = expiring_lots.is_lot_change(change)
        if not is_entry and not is_lot and not report_counts.is_counted(change):
            continue
        position = len(sequence_numbers)
        sequence_numbers.append(str(record.dynamodb.SequenceNumber))
        if is_entry:
            assert image is not None
            images.append(image)
            image_records.append(position)
        if report_counts.is_counted(change):
            changes.append(change)
            change_records.append(position)
        if is_lot:
            lot_changes.append(expiring_lots.LotChange(record.eventID, *change))
            lot_records.append(position)
    first_failed: int | None = None
    applied = 0
    try:
        applied = totals.apply_committed_entries(images)
    except totals.TotalsFailed as failed:
        logger.exception("totals not applied", extra={"first_unapplied": failed.first_unapplied})
        first_failed = image_records[failed.first_unapplied]
    try:
        report_counts.apply_changes(changes)
    except report_counts.CountsFailed as failed:
        logger.exception("report counts not applied", extra={"first_uncounted": failed.first_uncounted})
        position = change_records[failed.first_uncounted]
        first_failed = position if first_failed is None else min(first_failed, position)
    try:
        expiring_lots.apply_changes(lot_changes)
    except expiring_lots.ExpiringLotsFailed as failed:
        logger.exception("expiring lots not applied", extra={"first_unapplied": failed.first_unapplied})
        position = lot_records[failed.first_unapplied]
        first_failed = position if first_failed is None else min(first_failed, position)
    metrics.add_metric(name="EntriesTotalled", unit="Count", value=applied)
    failures = sequence_numbers[first_failed:] if first_failed is not None else []
    return {"batchItemFailures": [{"itemIdentifier": number} for number in failures]}
