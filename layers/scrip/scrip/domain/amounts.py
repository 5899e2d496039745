"""Decimal-string amounts (01-platform §4.4): exact, never floats, checked against a scale."""

from __future__ import annotations

import re
from decimal import Decimal

from scrip.domain.errors import InvalidScale, ValidationFailed

# Optional sign, digits, optional fraction: no exponent, separators or whitespace. Checked with
# ``fullmatch``: with ``match`` the ``$`` also matches before a trailing newline (``"5\n"``); the
# anchors stay because the pattern is published in the OpenAPI document, where they are needed.
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
DECIMAL_PATTERN = _DECIMAL_TEXT.pattern
MAX_SCALE = 18
MAX_DIGITS = 38


def parse_decimal(text: object, *, field: str, allow_negative: bool = False) -> Decimal:
    """Parse an API decimal string; a malformed value is a ``validation_error``."""
    if not isinstance(text, str) or not _DECIMAL_TEXT.fullmatch(text):
        raise ValidationFailed(
            f'{field} must be a decimal string such as "100" or "12.50"',
            field=field,
            reason="invalid_decimal",
            expected="decimal string",
            received=text,
        )
    value = Decimal(text)
    if value.is_signed() and value != 0 and not allow_negative:
        raise ValidationFailed(f"{field} must not be negative", field=field, reason="negative", received=text)
    if len(value.as_tuple().digits) > MAX_DIGITS:
        raise ValidationFailed(
            f"{field} has more than {MAX_DIGITS} significant digits",
            field=field,
            reason="too_many_digits",
            received=text,
        )
    return value


def fractional_digits(value: Decimal) -> int:
    """Significant fractional digits: trailing zeros are cosmetic (``10.00`` has none)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def check_scale(value: Decimal, scale: int, *, field: str) -> Decimal:
    """Reject amounts finer than the asset's scale (``400 invalid_scale``); never round."""
    if fractional_digits(value) > scale:
        raise InvalidScale(
            f"{field} has more than {scale} decimal places",
            details={"field": field, "scale": scale, "received": format(value, "f")},
        )
    return value


def require_positive(value: Decimal, *, field: str) -> Decimal:
    if value <= 0:
        raise ValidationFailed(
            f"{field} must be greater than zero",
            field=field,
            reason="not_positive",
            received=format(value, "f"),
        )
    return value


def format_amount(value: Decimal, scale: int) -> str:
    """Render with exactly ``scale`` fractional digits (``"10000.00"`` for scale 2)."""
    quantum = Decimal(1).scaleb(-scale)
    return format(value.quantize(quantum), "f")


def canonical_decimal(value: Decimal) -> str:
    """One spelling per number (``100`` ≡ ``100.00``), used where payloads are compared."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
