"""CloudWatch Logs subscription: store the request log lines of the API functions' log group.

The event is the subscription's (``{"awslogs": {"data": base64(gzip(json))}}``); each log event's
``message`` is a line printed by ``outbound.request_logs``. The filter pattern lets only those
through; anything else that slips in (a control message, a line this version cannot read) is
skipped and counted. Storing is idempotent (a log per request id, claimed once), so a retried
invocation adds nothing. This function logs to its own log group, never the one it reads.
"""

import base64
import gzip
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.domain.request_logs import NotARequestLog, RequestLog, from_line
from scrip.observability import lambda_handler, logger, metrics
from scrip.services import request_logs


def request_logs_of(event: dict[str, Any]) -> tuple[list[RequestLog], int]:
    """The request logs a subscription event carries, and how many of its messages were not request logs."""
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if data.get("messageType") != "DATA_MESSAGE":
        return [], 0  # CONTROL_MESSAGE: CloudWatch checking that the destination is reachable
    logs, skipped = [], 0
    for log_event in data.get("logEvents") or []:
        try:
            logs.append(from_line(json.loads(log_event.get("message", ""))))
        except (ValueError, NotARequestLog):
            skipped += 1
    return logs, skipped


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    logs, skipped = request_logs_of(event)
    if skipped:
        logger.warning("log events that are not request logs were skipped", extra={"skipped": skipped})
    stored = request_logs.ingest(logs)
    metrics.add_metric(name="RequestLogsStored", unit="Count", value=stored)
    return {"received": len(logs), "stored": stored, "skipped": skipped}
