"""CloudWatch Logs subscription filters, for the lines functions print to a subscribed log group.

The local stack has no CloudWatch Logs. The one kind of line a subscription here selects, the
API's request log lines, is kept in memory by their sink (``scrip.outbound.request_logs``)
while a stack that declares a subscription runs; each pump hands the waiting lines matching a
filter's pattern to its destination function in the event CloudWatch Logs sends
(``{"awslogs": {"data": base64(gzip(json))}}``, ``logEvents[].message``), in batches. A failed
invocation is retried (Lambda retries an asynchronous invocation twice), then its batch is
dropped with a message, as Lambda drops it without a failure destination.

Filter patterns: the JSON forms ``{ $.a.b = "*" }`` (the field exists) and ``{ $.a.b = "text" }``.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import re
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from scrip_local.emulator import ACCOUNT_ID, Emulator
from scrip_local.runtime import Function
from scrip_local.template import Template

BATCH_SIZE = 100
ATTEMPTS = 3
_JSON_PATTERN = re.compile(r'\{\s*\$\.([A-Za-z0-9_.]+)\s*=\s*"([^"]*)"\s*\}')
_event_ids = itertools.count(1)


def pattern_matcher(pattern: str) -> Any:
    """A predicate on a log message for the filter pattern forms this stack supports."""
    match = _JSON_PATTERN.fullmatch(pattern.strip())
    if match is None:
        raise NotImplementedError(f"the local stack does not evaluate the filter pattern {pattern!r}")
    path, expected = match.group(1).split("."), match.group(2)

    def matches(message: str) -> bool:
        try:
            value: Any = json.loads(message)
        except ValueError:
            return False
        for name in path:
            if not isinstance(value, dict) or name not in value:
                return False
            value = value[name]
        return expected == "*" or value == expected

    return matches


def subscription_event(log_group: str, filter_name: str, messages: list[str]) -> dict[str, Any]:
    """The event CloudWatch Logs sends a subscribed Lambda function."""
    now = int(time.time() * 1000)
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT_ID,
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": f"{now}{next(_event_ids):012d}", "timestamp": now, "message": m} for m in messages],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


@dataclass
class _Subscription:
    name: str
    log_group: str
    function: Function
    matches: Any


class LogSubscriptions:
    def __init__(self, template: Template, functions: dict[str, Function], emulator: Emulator) -> None:
        self.subscriptions: list[_Subscription] = []
        for name, resource in template.resources_of_type("AWS::Logs::SubscriptionFilter").items():
            props = resource["Properties"]
            destination = props["DestinationArn"]
            function_name = destination["Fn::GetAtt"][0] if isinstance(destination, dict) else str(destination)
            group = props["LogGroupName"]
            self.subscriptions.append(
                _Subscription(
                    name=name,
                    log_group=group["Ref"] if isinstance(group, dict) and "Ref" in group else str(group),
                    function=functions[function_name],
                    matches=pattern_matcher(props.get("FilterPattern", "")),
                )
            )
        self._lines: deque[str] | None = None
        if self.subscriptions:
            from scrip.outbound import request_logs

            self._lines = request_logs.capture()
        self.dropped: list[dict[str, Any]] = []

    def waiting(self) -> list[str]:
        """The lines not delivered yet (a copy)."""
        return list(self._lines or ())

    def deliver(self) -> bool:
        """Hand waiting lines to the subscriptions; True if any were waiting."""
        if not self._lines:
            return False
        batch: list[str] = []
        while self._lines and len(batch) < BATCH_SIZE:
            batch.append(self._lines.popleft())
        for subscription in self.subscriptions:
            messages = [line for line in batch if subscription.matches(line)]
            if messages:
                self._invoke(subscription, subscription_event(subscription.log_group, subscription.name, messages))
        return True

    def _invoke(self, subscription: _Subscription, event: dict[str, Any]) -> None:
        for attempt in range(ATTEMPTS):
            try:
                subscription.function.invoke(event)
                return
            except Exception as error:  # noqa: BLE001 - retried like an asynchronous invocation
                if attempt + 1 == ATTEMPTS:
                    self.dropped.append(event)
                    print(f"{subscription.name}: batch dropped after {ATTEMPTS} attempts: {error!r}", file=sys.stderr)

    def close(self) -> None:
        if self._lines is not None:
            from scrip.outbound import request_logs

            request_logs.release()
            self._lines = None
