"""Request logs (05 §4.7-4.8): what one API request leaves behind, redacted before it exists.

The API wrapper (``api/endpoint.py``) builds a ``RequestLog`` after the response and hands its
line to the sink (``outbound/request_logs.py``); the ingest function reads the line back with
``from_line`` and stores it. Nothing secret may reach the line, so redaction happens here,
before it is built:

* no request header is kept but the user agent (``Authorization`` and ``X-API-Key`` never are);
* in a body, the value of every field whose name says it holds a secret (``secret``,
  ``password``, ``token``, ``api_key``…: ``SECRET_NAME``) is ``"[REDACTED]"``, at any depth;
  that covers the webhook endpoint's ``secret`` shown once by create and rotate-secret;
* any string that has the shape of an API key (``sk_<label>_<token>``) or a webhook secret
  (``whsec_…``) is ``"[REDACTED]"`` wherever it appears, whatever its field is called, and in
  bodies that are not JSON too;
* a body longer than ``MAX_BODY_BYTES`` (UTF-8) after redaction is cut there and ends with
  ``TRUNCATED_MARKER`` and the number of bytes left out;
* a body of more than ``MAX_REDACTED_CHARS`` is not kept at all (``NOT_KEPT``): redacting means
  parsing it again while the client waits, and a cut through unparsed JSON could keep a secret.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrip.domain.clock import parse_rfc3339, to_rfc3339

LINE_KEY = "scrip_request_log"  # the top-level key the log group's subscription filter selects
LINE_VERSION = 1
REDACTED = "[REDACTED]"
MAX_BODY_BYTES = 16 * 1024
TRUNCATED_MARKER = "…[truncated {omitted} bytes]"
MAX_REDACTED_CHARS = 1024 * 1024
NOT_KEPT = "[body of {size} characters not kept]"
REQUEST_ID_PREFIX = "req_"

SECRET_NAME = re.compile(
    r"secret|passw(or)?d|token|api[_-]?key|authori[sz]ation|credential|private[_-]?key|signature", re.IGNORECASE
)
# An API key is sk_ + a label + 256 random bits (domain/organizations.py); a webhook secret is
# whsec_ + base64. Bounded lengths so ordinary words ("sk_test") stay readable.
SECRET_VALUE = re.compile(r"\bsk_[A-Za-z0-9]+_[A-Za-z0-9_-]{32,}|\bwhsec_[A-Za-z0-9+/=_-]{16,}")


class AuthType(StrEnum):
    API_KEY = "api_key"


class SortBy(StrEnum):
    CREATED_AT = "created_at"
    DURATION_MS = "duration_ms"
    STATUS_CODE = "status_code"


class SortDir(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class RequestLog:
    """One API request. ``id`` is the request id as a UUID, so a request id finds its log
    directly (and a log is stored at most once per request, however often its line arrives)."""

    id: str
    organization_id: str | None
    request_id: str
    method: str
    path: str
    route_pattern: str | None
    status_code: int
    duration_ms: float
    auth_type: str | None
    error_code: str | None
    created_at: datetime
    ip_address: str | None = None
    user_agent: str | None = None
    request_body: str | None = None
    response_body: str | None = None

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    def listed(self) -> RequestLog:
        """Without the detail fields (what a list line holds)."""
        return replace(self, ip_address=None, user_agent=None, request_body=None, response_body=None)


@dataclass(frozen=True)
class LogFilters:
    method: str | None = None
    route_pattern: str | None = None
    auth_type: str | None = None
    status_min: int | None = None
    status_max: int | None = None

    def matches(self, log: RequestLog) -> bool:
        return (
            (self.method is None or log.method == self.method)
            and (self.route_pattern is None or log.route_pattern == self.route_pattern)
            and (self.auth_type is None or log.auth_type == self.auth_type)
            and (self.status_min is None or log.status_code >= self.status_min)
            and (self.status_max is None or log.status_code <= self.status_max)
        )


@dataclass(frozen=True)
class UsageDay:
    date: str  # YYYY-MM-DD, UTC
    request_count: int
    error_count: int
    duration_ms_total: float

    @property
    def avg_latency_ms(self) -> float:
        return round(self.duration_ms_total / self.request_count, 1) if self.request_count else 0.0


# ------------------------------------------------------------------ ids


def log_id_of(request_id: str) -> str | None:
    """The log id of a request id (``req_<32 hex>`` or a UUID, with or without ``req_``); None if it is neither."""
    text = request_id.strip()
    if text.startswith(REQUEST_ID_PREFIX):
        text = text[len(REQUEST_ID_PREFIX) :]
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


# ------------------------------------------------------------ redaction


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if item is not None and SECRET_NAME.search(str(key)) else _redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, str):
        return SECRET_VALUE.sub(REDACTED, value)
    return value


def _truncated(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[:max_bytes].decode("utf-8", errors="ignore")
    return kept + TRUNCATED_MARKER.format(omitted=len(encoded) - len(kept.encode("utf-8")))


def redact_body(text: str | None, *, max_bytes: int = MAX_BODY_BYTES) -> str | None:
    """A body as the logs keep it: secrets replaced (JSON re-serialised compactly), then cut to ``max_bytes``."""
    if text is None or text == "":
        return None
    if len(text) > MAX_REDACTED_CHARS:
        return NOT_KEPT.format(size=len(text))
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        redacted = SECRET_VALUE.sub(REDACTED, text)
    else:
        try:
            redacted = json.dumps(_redact_value(parsed), ensure_ascii=False, separators=(",", ":"))
        except (ValueError, RecursionError):  # a lone surrogate, or nesting the encoder refuses
            redacted = SECRET_VALUE.sub(REDACTED, text)
    return _truncated(redacted, max_bytes)


def error_code_of(status_code: int, body: str | None) -> str | None:
    """The ``code`` of an error body (01 §4.9); None for a success or a body without one."""
    if status_code < 400 or not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


# ------------------------------------------------------------------ line


def to_line(log: RequestLog) -> dict[str, Any]:
    # Every field of the log, so that the line and the record cannot drift apart.
    fields: dict[str, Any] = {field.name: getattr(log, field.name) for field in dataclass_fields(log)}
    fields["created_at"] = to_rfc3339(log.created_at)
    fields["v"] = LINE_VERSION
    return {LINE_KEY: fields}


class NotARequestLog(ValueError):
    """A log message that is not a request log line (or one this version cannot read)."""


def _text(fields: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise NotARequestLog(f"{name} is missing or not text")
    return value


def from_line(line: Any) -> RequestLog:
    """The request log a line carries; ``NotARequestLog`` for anything else."""
    fields = line.get(LINE_KEY) if isinstance(line, dict) else None
    if not isinstance(fields, dict) or fields.get("v") != LINE_VERSION:
        raise NotARequestLog("not a request log line")
    status, duration = fields.get("status_code"), fields.get("duration_ms")
    if not isinstance(status, int) or isinstance(status, bool) or not isinstance(duration, (int, float)):
        raise NotARequestLog("status_code or duration_ms is missing")
    log_id = log_id_of(_text(fields, "id", required=True) or "")
    if log_id is None:
        raise NotARequestLog("id is not a UUID")
    try:
        created_at = parse_rfc3339(_text(fields, "created_at", required=True) or "")
    except ValueError:
        raise NotARequestLog("created_at is not a timestamp") from None
    return RequestLog(
        id=log_id,
        organization_id=_text(fields, "organization_id"),
        request_id=_text(fields, "request_id", required=True) or "",
        method=_text(fields, "method", required=True) or "",
        path=_text(fields, "path", required=True) or "",
        route_pattern=_text(fields, "route_pattern"),
        status_code=status,
        duration_ms=float(duration),
        auth_type=_text(fields, "auth_type"),
        error_code=_text(fields, "error_code"),
        created_at=created_at,
        ip_address=_text(fields, "ip_address"),
        user_agent=_text(fields, "user_agent"),
        request_body=_text(fields, "request_body"),
        response_body=_text(fields, "response_body"),
    )
