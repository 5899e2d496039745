"""The rollforward's sign convention (05 §4.4) and the report period's validation, without storage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scrip.domain.errors import ValidationFailed
from scrip.domain.report_lines import Line
from scrip.services.reports import OUTFLOW_LINES, explained_change, period_of, reported_lines

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def test_outflows_are_positive_magnitudes_and_nets_keep_their_sign() -> None:
    signed = {Line.ISSUED: Decimal(100), Line.EXPIRED: Decimal(-7), Line.TRANSFERS_NET: Decimal(-3)}
    reported = reported_lines(signed)
    assert set(reported) == set(Line)  # every line is stated, zero or not
    assert (reported[Line.ISSUED], reported[Line.EXPIRED], reported[Line.TRANSFERS_NET]) == (100, 7, -3)
    assert reported[Line.REDEEMED] == 0


def test_the_reported_lines_explain_exactly_the_signed_sum() -> None:
    signed = {line: Decimal(index + 1) * (-1 if line in OUTFLOW_LINES else 1) for index, line in enumerate(Line)}
    assert explained_change(reported_lines(signed)) == sum(signed.values(), Decimal(0))


def test_the_outflow_lines_are_the_specs() -> None:
    assert {line.value for line in OUTFLOW_LINES} == {
        "issuance_returns",
        "redeemed",
        "reversal_clawbacks",
        "forfeited",
        "expired",
        "debited",
        "holds_voided",
    }


def test_a_period_needs_both_ends_in_order() -> None:
    assert period_of(None, None, required=False) is None
    assert period_of(JAN, JAN, required=True) is not None  # one instant: both ends inclusive
    cases = [((JAN, None), "to", "missing"), ((None, FEB), "from", "missing"), ((FEB, JAN), "from", "invalid_range")]
    for (start, end), field, reason in cases:
        with pytest.raises(ValidationFailed) as raised:
            period_of(start, end, required=False)
        assert raised.value.details == {**(raised.value.details or {}), "field": field, "reason": reason}
    with pytest.raises(ValidationFailed):
        period_of(None, None, required=True)
