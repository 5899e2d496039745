"""Counter-based qualification for tier levels (02 §4.4, §4.7.1). Pure.

A criterion compares one counter with its threshold; a counter the participant (or group)
does not have counts as 0 [inferred, 02 §4.4]. ``ALL`` needs every criterion, ``ANY`` one. A
level without qualification is never reached automatically (02 §4.7.1.4).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal

from scrip.domain.tiers import Criterion, Level, QualificationMode, QualificationOperator, Tier, TierStatus

_COMPARE: dict[QualificationOperator, Callable[[Decimal, Decimal], bool]] = {
    QualificationOperator.GTE: operator.ge,
    QualificationOperator.GT: operator.gt,
    QualificationOperator.EQ: operator.eq,
    QualificationOperator.LTE: operator.le,
    QualificationOperator.LT: operator.lt,
}


def holds(criterion: Criterion, counters: Mapping[str, Decimal]) -> bool:
    """``counter <operator> threshold``, a missing counter read as 0."""
    value = counters.get(criterion.counter, Decimal(0))
    return _COMPARE[criterion.operator](Decimal(value), criterion.threshold)


def qualifies(level: Level, counters: Mapping[str, Decimal]) -> bool:
    qualification = level.qualification
    if qualification is None or not qualification.criteria:
        return False
    results = (holds(c, counters) for c in qualification.criteria)
    return all(results) if qualification.mode is QualificationMode.ALL else any(results)


def highest_qualified(tier: Tier, counters: Mapping[str, Decimal], *, below_rank: int | None = None) -> Level | None:
    """The highest-rank level whose qualification holds (None: base), only among ranks under
    ``below_rank`` when given (a downgrade never lands above where it started)."""
    for level in reversed(tier.levels):  # rank ascending: the first found from the top wins
        if below_rank is not None and level.rank >= below_rank:
            continue
        if qualifies(level, counters):
            return level
    return None


def upgrade(tier: Tier, current_rank: int, counters: Mapping[str, Decimal]) -> Level | None:
    """The level automatic qualification moves to, or None to stay (02 §4.7.1): the highest
    qualified level, only if its rank is above ``current_rank`` (0 = base). Upgrade only; an
    archived tier is never assigned (§4.7.1.5)."""
    if tier.status is TierStatus.ARCHIVED:
        return None
    best = highest_qualified(tier, counters)
    return best if best is not None and best.rank > current_rank else None
