"""Canonical payload comparison (decision 1): key order, whitespace, trailing zeros."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from scrip.domain.idempotency import IdempotencyScope, fingerprint


def test_key_order_and_whitespace_do_not_matter() -> None:
    a = json.loads('{"a": 1, "b": {"c": [1, 2], "d": "x"}}')
    b = json.loads('{ "b" : {"d":"x","c":[1,2]},\n "a":1 }')
    assert fingerprint(a) == fingerprint(b)


def test_trailing_decimal_zeros_do_not_matter() -> None:
    assert fingerprint({"amount": Decimal("100")}) == fingerprint({"amount": Decimal("100.00")})
    assert fingerprint({"amount": Decimal("0")}) == fingerprint({"amount": Decimal("0.000")})
    assert fingerprint({"amount": Decimal("100")}) != fingerprint({"amount": Decimal("100.01")})


def test_strings_keep_their_spelling() -> None:
    assert fingerprint({"external_id": "007"}) != fingerprint({"external_id": "7"})
    assert fingerprint({"amount": "100"}) != fingerprint({"amount": Decimal("100")})


def test_list_order_matters() -> None:
    assert fingerprint({"ids": [1, 2]}) != fingerprint({"ids": [2, 1]})


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_key_length_is_1_to_255(key: str) -> None:
    with pytest.raises(ValueError):
        IdempotencyScope("org", "program", "hold", key)


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError):
        IdempotencyScope("org", "program", "teleport", "k")
