"""The deployment's settings: one typed view of the environment, and the only module that reads it.

``template.yaml`` sets these variables on the functions; the local stack sets them on its
process. ``current()`` reads them when asked rather than once at import, because some move at
run time: the local stack and tests shift the clock (``SCRIP_CLOCK_OFFSET_SECONDS``), shorten
the event retry pause, or point a process at another stack's table. It re-validates only when
one of the variables changed, so asking costs a few dictionary lookups.

A frozen dataclass rather than a pydantic model: storage and services import this on every
cold start, and pydantic stays out of them (only ``api`` loads it). Values are validated when
read; a variable a function needs but was not given raises ``MissingSetting`` when it is first
used, since each function is given only the variables of the resources it uses.

``observability.py`` still reads its own variables (``POWERTOOLS_*``, tracing) before anything else
loads: powertools reads those names too. ``tests/test_layering.py`` keeps every other module out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TABLE_NAME = "SCRIP_TABLE_NAME"
EVENT_QUEUE_URL = "SCRIP_EVENT_QUEUE_URL"
WEBHOOK_QUEUE_URL = "SCRIP_WEBHOOK_QUEUE_URL"
SECRETS_KEY_ID = "SCRIP_SECRETS_KEY_ID"
CLOCK_OFFSET_SECONDS = "SCRIP_CLOCK_OFFSET_SECONDS"
EVENT_RETRY_BASE_SECONDS = "SCRIP_EVENT_RETRY_BASE_SECONDS"
EVENT_SWEEP_GRACE_SECONDS = "SCRIP_EVENT_SWEEP_GRACE_SECONDS"
IDEMPOTENCY_RETENTION_SECONDS = "SCRIP_IDEMPOTENCY_RETENTION_SECONDS"
WEBHOOKS_ALLOW_LOOPBACK_HTTP = "SCRIP_WEBHOOKS_ALLOW_LOOPBACK_HTTP"
SUBSCRIPTION_REFRESH_SECONDS = "SCRIP_SUBSCRIPTION_REFRESH_SECONDS"

VARIABLES = (
    TABLE_NAME,
    EVENT_QUEUE_URL,
    WEBHOOK_QUEUE_URL,
    SECRETS_KEY_ID,
    CLOCK_OFFSET_SECONDS,
    EVENT_RETRY_BASE_SECONDS,
    EVENT_SWEEP_GRACE_SECONDS,
    IDEMPOTENCY_RETENTION_SECONDS,
    WEBHOOKS_ALLOW_LOOPBACK_HTTP,
    SUBSCRIPTION_REFRESH_SECONDS,
)

DEFAULT_IDEMPOTENCY_RETENTION_SECONDS = 30 * 24 * 3600  # decision 1: at least 24 h, 30 days by default


class MissingSetting(KeyError):
    """A variable this function needs is not in its environment (a template omission)."""


class InvalidSetting(ValueError):
    """A variable is set to something its setting cannot be."""


@dataclass(frozen=True)
class Settings:
    # Names of AWS resources: each function is given only those it uses, hence optional here
    # and required by the properties below.
    table: str | None = None
    event_queue: str | None = None
    webhook_queue: str | None = None
    secrets_key: str | None = None
    # Production leaves it at 0; the local stack and tests move time with it.
    clock_offset_seconds: float = 0.0
    # An event's failed attempts wait base × 2^(n-1) seconds (2, 4, 8, 16 s); tests use 0.
    event_retry_base_seconds: float = 2.0
    # Longer than a healthy path takes (stream, queue, a 30 s processor) and than the event
    # queue's visibility timeout (180 s), so that a message SQS still redelivers is not doubled.
    event_sweep_grace_seconds: float = 300.0
    idempotency_retention_seconds: int = DEFAULT_IDEMPOTENCY_RETENTION_SECONDS
    # Only the local stack sets this (a developer's receiver on localhost); the template never does.
    webhooks_allow_loopback_http: bool = False
    # How often the scheduler re-evaluates each active participant_state automation's filter
    # (06 §1.7.9, "every 15 min" [inferred]); each refresh reads every enrolled participant once.
    subscription_refresh_seconds: float = 900.0

    @property
    def table_name(self) -> str:
        return _required(self.table, TABLE_NAME)

    @property
    def event_queue_url(self) -> str:
        return _required(self.event_queue, EVENT_QUEUE_URL)

    @property
    def webhook_queue_url(self) -> str:
        return _required(self.webhook_queue, WEBHOOK_QUEUE_URL)

    @property
    def secrets_key_id(self) -> str:
        return _required(self.secrets_key, SECRETS_KEY_ID)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str | None]) -> Settings:
        """Validate ``environment`` (variable name → value, None when unset); unset or empty means the default."""
        defaults = cls()

        def value[T](name: str, parse: Callable[[str], T], default: T, kind: str) -> T:
            text = environment.get(name)
            if not text:
                return default
            try:
                return parse(text)
            except ValueError:
                raise InvalidSetting(f"{name}={text!r} is not {kind}") from None

        return cls(
            table=environment.get(TABLE_NAME) or None,
            event_queue=environment.get(EVENT_QUEUE_URL) or None,
            webhook_queue=environment.get(WEBHOOK_QUEUE_URL) or None,
            secrets_key=environment.get(SECRETS_KEY_ID) or None,
            clock_offset_seconds=value(CLOCK_OFFSET_SECONDS, _finite, defaults.clock_offset_seconds, _SECONDS),
            event_retry_base_seconds=value(
                EVENT_RETRY_BASE_SECONDS, _duration, defaults.event_retry_base_seconds, _DURATION
            ),
            event_sweep_grace_seconds=value(
                EVENT_SWEEP_GRACE_SECONDS, _duration, defaults.event_sweep_grace_seconds, _DURATION
            ),
            idempotency_retention_seconds=value(
                IDEMPOTENCY_RETENTION_SECONDS, int, defaults.idempotency_retention_seconds, "a whole number of seconds"
            ),
            webhooks_allow_loopback_http=environment.get(WEBHOOKS_ALLOW_LOOPBACK_HTTP) == "true",
            subscription_refresh_seconds=value(
                SUBSCRIPTION_REFRESH_SECONDS,
                _period,
                defaults.subscription_refresh_seconds,
                "a number of seconds >= 60",
            ),
        )


_SECONDS = "a finite number of seconds"
_DURATION = "a finite number of seconds, not negative"


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise MissingSetting(f"{name} is not set in this function's environment")
    return value


def _finite(text: str) -> float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(text)
    return number


def _period(text: str) -> float:
    """A number of seconds, a minute at least: the scheduler ticks every minute."""
    number = _finite(text)
    if number < 60:
        raise ValueError(text)
    return number


def _duration(text: str) -> float:
    """A number of seconds, not negative."""
    number = _finite(text)
    if number < 0:
        raise ValueError(text)
    return number


_last: tuple[tuple[str | None, ...], Settings] | None = None


def current() -> Settings:
    """The settings as the environment holds them now."""
    global _last
    raw = tuple(os.environ.get(name) for name in VARIABLES)
    last = _last  # one read: handler threads of the local stack share this cache
    if last is not None and last[0] == raw:
        return last[1]
    found = Settings.from_environment(dict(zip(VARIABLES, raw, strict=True)))
    _last = (raw, found)
    return found
