"""The request log ingest function with the event CloudWatch Logs really sends
(``{"awslogs": {"data": base64(gzip(json))}}``): it stores each organization's logs and usage
once, however often a batch arrives or however it is split into transactions."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scrip.domain.organizations import Caller
from scrip.domain.request_logs import RequestLog, to_line
from scrip.services import request_logs
from scrip.storage import request_logs as request_log_store
from scrip_local.stack import LocalStack

INGEST = "RequestLogIngestFunction"
MOMENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _log(org: str | None, *, status: int = 200, duration: float = 10.0, offset: int = 0) -> RequestLog:
    return RequestLog(
        id=str(uuid.uuid4()),
        organization_id=org,
        request_id="",
        method="GET",
        path="/v1/programs",
        route_pattern="/v1/programs",
        status_code=status,
        duration_ms=duration,
        auth_type="api_key",
        error_code="not_found" if status == 404 else None,
        created_at=MOMENT + timedelta(milliseconds=offset),
        ip_address="203.0.113.9",
        user_agent="curl/8",
        request_body=None,
        response_body='{"data":[]}',
    )


def _with_request_id(log: RequestLog) -> RequestLog:
    return replace(log, request_id="req_" + log.id.replace("-", ""))


def _event(messages: list[str], message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    data = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": "/aws/lambda/scrip-api",
        "logStream": "2026/11/29/[$LATEST]abc",
        "subscriptionFilters": ["RequestLogSubscription"],
        "logEvents": [
            {"id": str(36000000000000000000000000 + n), "timestamp": 1795990000000 + n, "message": message}
            for n, message in enumerate(messages)
        ],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


def _lines(logs: list[RequestLog]) -> list[str]:
    return [json.dumps(to_line(log)) for log in logs]


def _usage_today(org: str) -> tuple[int, int, float]:
    day = MOMENT.strftime("%Y-%m-%d")
    counted = request_log_store.read_usage(org, day, day)[day]
    return counted.request_count, counted.error_count, counted.duration_ms_total


def test_a_delivery_is_stored_once_and_counted_once(stack: LocalStack) -> None:
    org = str(uuid.uuid4())
    logs = [_with_request_id(_log(org, status=404 if n % 3 == 0 else 200, duration=2.5, offset=n)) for n in range(7)]
    ingest = stack.functions[INGEST]
    event = _event(_lines(logs))
    assert ingest.invoke(event) == {"received": 7, "stored": 7, "skipped": 0}
    assert ingest.invoke(event) == {"received": 7, "stored": 0, "skipped": 0}
    assert _usage_today(org) == (7, 3, 17.5)
    stored = request_logs.get_log(Caller(org, "key"), logs[0].id)
    assert stored == logs[0]


def test_a_batch_partly_stored_before_stores_only_the_rest(stack: LocalStack) -> None:
    """Several organizations and more logs than one transaction holds; half delivered before."""
    orgs = [str(uuid.uuid4()) for _ in range(3)]
    logs = [_with_request_id(_log(orgs[n % 3], offset=n)) for n in range(120)]
    ingest = stack.functions[INGEST]
    assert ingest.invoke(_event(_lines(logs[::2])))["stored"] == 60
    assert ingest.invoke(_event(_lines(logs)))["stored"] == 60
    for org in orgs:
        assert _usage_today(org)[0] == 40
    caller = Caller(orgs[1], "key")
    query = request_logs.LogQuery(filters=request_logs.LogFilters(), created_from=MOMENT - timedelta(minutes=1))
    listed = request_logs.list_logs(caller, query, limit=100, cursor=None).items
    assert [log.id for log in listed] == [log.id for log in reversed(logs) if log.organization_id == orgs[1]]


def test_lines_that_are_not_request_logs_are_skipped(stack: LocalStack) -> None:
    org = str(uuid.uuid4())
    good = _with_request_id(_log(org))
    without_org = _with_request_id(_log(None))
    messages = [
        "START RequestId: 1 Version: $LATEST",
        json.dumps({"level": "INFO", "message": "hello"}),
        json.dumps({"scrip_request_log": {"v": 1, "id": "x"}}),
        *_lines([good, without_org]),
    ]
    result = stack.functions[INGEST].invoke(_event(messages))
    assert result == {"received": 2, "stored": 1, "skipped": 3}
    assert stack.functions[INGEST].invoke(_event([], "CONTROL_MESSAGE")) == {"received": 0, "stored": 0, "skipped": 0}
    assert _usage_today(org)[0] == 1
