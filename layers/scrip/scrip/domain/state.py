"""Tags, counters and attributes of participants, groups and programs (02 §2).

State belongs to an *owner* (a participant, a group or a program); the rules are the same
for all three. Counter auto-reset is lazy (§2.3.3): nothing runs on a timer, a read after the
window reports 0 and the next write restarts from 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from scrip.domain.errors import ValidationFailed

MAX_TAG_LENGTH = 255
MAX_KEY_LENGTH = 255

# Go's time.ParseDuration units; "d" (24h) is accepted as an extension (decision 12).
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}


class OwnerKind(StrEnum):
    PARTICIPANT = "PARTICIPANT"
    GROUP = "GROUP"
    PROGRAM = "PROGRAM"


@dataclass(frozen=True)
class Owner:
    kind: OwnerKind
    id: str


class StateType(StrEnum):
    TAG = "tag"
    COUNTER = "counter"
    ATTRIBUTE = "attribute"
    TIER = "tier"


class Operation(StrEnum):
    SET = "set"
    DELETE = "delete"
    ADD = "add"
    REMOVE = "remove"
    AUTO_RESET = "auto_reset"


def normalize_tag(tag: str) -> str:
    normalized = tag.strip().lower()
    if not normalized or len(normalized) > MAX_TAG_LENGTH:
        raise ValidationFailed(f"a tag is 1-{MAX_TAG_LENGTH} characters", field="tag", reason="length", received=tag)
    return normalized


def check_key(key: str, field: str = "key") -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(f"{field} is 1-{MAX_KEY_LENGTH} characters", field=field, reason="length", received=key)
    return key


def parse_duration(text: str, *, field: str = "reset_after") -> timedelta:
    """A Go duration (``720h``, ``1h30m``); ``d`` is accepted as 24 hours."""
    position, total = 0, Decimal(0)
    if text:
        for match in _DURATION_PART.finditer(text):
            if match.start() != position:
                break
            total += Decimal(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
    if not text or position != len(text) or total <= 0:
        raise ValidationFailed(
            f'{field} must be a positive Go duration such as "24h" or "1h30m"',
            field=field,
            reason="invalid_duration",
            expected="duration",
            received=text,
        )
    return timedelta(seconds=float(total))


@dataclass(frozen=True)
class Counter:
    key: str
    value: Decimal
    reset_after: str | None
    last_reset_at: datetime | None

    def window_elapsed(self, now: datetime) -> bool:
        if not self.reset_after or self.last_reset_at is None:
            return False
        return now - self.last_reset_at >= parse_duration(self.reset_after)

    def effective(self, now: datetime) -> Counter:
        """The value a read reports: 0 once the reset window has elapsed."""
        if self.window_elapsed(now):
            return Counter(self.key, Decimal(0), self.reset_after, self.last_reset_at)
        return self


@dataclass(frozen=True)
class StateChange:
    """One line of state history (02 §2.6)."""

    id: str
    state_type: StateType
    key: str
    operation: Operation
    old_value: str | None
    new_value: str | None
    changed_at: datetime
    changed_by_api_key_id: str | None = None
    event_id: str | None = None
    rule_id: str | None = None
    program_id: str | None = None
    event_timestamp: datetime | None = None


def counter_text(value: Decimal) -> str:
    """Counters travel as decimal strings without cosmetic zeros (``389.99``, ``8``)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text
