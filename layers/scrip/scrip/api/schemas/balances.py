"""A balance as every response shows it (04 §3): its own module, so that participant and
program schemas render balances without importing every ledger model."""

from __future__ import annotations

from scrip.api.schemas.common import ApiModel
from scrip.domain.amounts import format_amount
from scrip.domain.ledger import Balance


class BalanceBody(ApiModel):
    available: str
    held: str
    deferred: str


def balance_body(balance: Balance, scale: int) -> BalanceBody:
    return BalanceBody(
        available=format_amount(balance.available, scale),
        held=format_amount(balance.held, scale),
        deferred=format_amount(balance.deferred, scale),
    )
