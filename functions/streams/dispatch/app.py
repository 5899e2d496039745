"""DynamoDB stream consumer: what a committed change sets in motion.

* a PENDING event (new, after a failed attempt, after POST /retry) is queued for processing;
* a RUNNING fan-out job (a BROADCAST: one SYSTEM event per enrolled participant) runs its next page;
* an automation created ``pending`` (``immediate``) starts its fan-out run;
* a program-scoped automation's event that ended sets or clears the automation's ``last_error``;
* a committed journal entry, an event that finished, a new participant become webhook
  notifications, with one delivery per subscribed endpoint;
* a PENDING webhook delivery that is due is queued for sending;
* a COMMITTED staged transfer gets the recipient legs it still owes.

One consumer for all of them keeps the table's stream at two readers (this one and
LedgerTotalsFunction), as DynamoDB Streams recommends. Every step is idempotent, so a
redelivered batch only repeats what finds nothing left to do.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.api.schemas.messages import ItemChangeRecord
from scrip.observability import lambda_handler, metrics
from scrip.services import follow_ups, webhook_delivery, webhook_emission

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=ItemChangeRecord)
# What this invocation's records ask to queue, sent in batches of ten once every record ran.
# Sending raises out of the handler on failure, so the whole batch is redelivered: nothing a
# checkpointed record asked for can be lost, and queueing twice is harmless.
_pending_events: list[dict[str, Any]] = []
_pending_deliveries: list[dict[str, Any]] = []
# Each organization's webhook endpoints, read once per batch: most records notify nobody, and
# finding that out must not cost a read per record.
_subscriptions = webhook_emission.Subscriptions()


def record_handler(record: ItemChangeRecord) -> None:
    image = record.dynamodb.NewImage
    if not image:
        return
    old = record.dynamodb.OldImage or {}
    entity = image.get("entity")
    if entity == "FANOUT":
        # One page of a fan-out job per record showing it RUNNING; the page's cursor advance is
        # the next record (services/fanouts.py). Imported here: most batches never carry one.
        from scrip.services import fanouts

        created = fanouts.run_page(str(image["organization_id"]), str(image["id"]), int(image["page"]))
        metrics.add_metric(name="FanOutEffectsCreated", unit="Count", value=created)
        return
    if entity == "AUTOMATION" and record.eventName == "INSERT" and image.get("execution_status") == "pending":
        # An ``immediate`` automation's create (06 §1.5.3): its first run starts here, once.
        from scrip.services import automation_runs

        automation_runs.start_pending(str(image["organization_id"]), str(image["id"]))
        return
    if entity == "AUTOMATION":
        # A participant_state automation's create (06 §1.7.9): its first subscription refresh,
        # once. Other automations' records reach here only because the filter takes every
        # AUTOMATION INSERT (one filter pattern instead of two): nothing else to do for them.
        if record.eventName == "INSERT" and image.get("trigger_type") == "participant_state":
            from scrip.services import subscriptions

            subscriptions.start_initial_refresh(str(image["organization_id"]), str(image["id"]))
        return
    if entity == "STATE_CHANGE" and image.get("state_type") == "counter":
        # A counter's history line: the THRESHOLD subscriptions it may cross (06 §1.5.4).
        from scrip.services import subscriptions

        subscriptions.on_counter_change_record(image)
        return
    if entity == "WEBHOOK_DELIVERY":
        _pending_deliveries.append(image)
        return
    if entity == "TRANSFER_PROGRESS":
        # A staged transfer COMMITTED and not yet COMPLETED (its request crashed or lost a race):
        # apply the legs it still owes. PREPARING ones are the deadline sweep's. Imported here:
        # most batches never carry one.
        if image.get("status") in ("COMMITTED", "PENDING"):  # PENDING: written before PREPARING existed
            from scrip.services import transfers

            transfers.finish(str(image["organization_id"]), str(image["journal_entry_id"]))
        return
    if entity == "EVENT":
        _pending_events.append(image)
        if image.get("event_type") == "SYSTEM" and str(image.get("idempotency_key", "")).startswith("automation:"):
            # A program-scoped automation's fire ended: its outcome is the automation's
            # ``last_error`` (06 §1.9). Imported here: most batches never carry one.
            from scrip.services import automation_runs

            automation_runs.on_event_record(image, old)
    for notification in webhook_emission.notifications_for(record.eventName, image, old, _subscriptions):
        created = webhook_emission.emit(notification, _subscriptions)
        metrics.add_metric(name="WebhookDeliveriesCreated", unit="Count", value=created)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _subscriptions
    _pending_events.clear()
    _pending_deliveries.clear()
    _subscriptions = webhook_emission.Subscriptions()
    response = dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
    metrics.add_metric(name="EventsQueued", unit="Count", value=follow_ups.dispatch(_pending_events))
    metrics.add_metric(
        name="WebhookDeliveriesQueued", unit="Count", value=webhook_delivery.queue_pending(_pending_deliveries)
    )
    return response
