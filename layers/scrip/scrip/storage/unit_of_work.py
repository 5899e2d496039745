"""Many operations, one transaction: what an event's rules do commits together or not at all.

Inside ``collecting()``, ``transactions.write`` stages its writes here instead of committing
them, and the repositories' reads of balances, wallets, lots and counters see the staged
items, so the second action of an event builds on the first (a CREDIT then a HOLD of the same
points) exactly as if the first had committed. ``commit()`` then writes everything in one
``TransactWriteItems``.

DynamoDB refuses two operations on one item in a transaction, and a condition is evaluated
against the table as it was before the transaction: so when a later write replaces a staged
item, the staged item's condition (built from what was read from the table) is kept and only
the new image is taken. Two condition checks of one item are combined.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from scrip.storage import transactions

ItemKey = tuple[str, str]
_current: ContextVar[UnitOfWork | None] = ContextVar("scrip_unit_of_work", default=None)


class UnitTooLarge(Exception):
    """More items than one transaction can hold."""


def _key_of(write: transactions.Write) -> ItemKey:
    key = write.params["Item"] if write.kind == "Put" else write.params["Key"]
    return str(key["PK"]), str(key["SK"])


@dataclass
class UnitOfWork:
    writes: dict[ItemKey, transactions.Write] = field(default_factory=dict)

    def stage(self, writes: list[transactions.Write]) -> None:
        for write in writes:
            key = _key_of(write)
            staged = self.writes.get(key)
            self.writes[key] = write if staged is None else _merge(staged, write)

    def image(self, key: ItemKey) -> tuple[bool, dict[str, Any] | None]:
        """(True, item or None when deleted) for a staged item; (False, None) otherwise."""
        write = self.writes.get(key)
        if write is None or write.kind not in ("Put", "Delete"):
            return False, None
        return True, (dict(write.params["Item"]) if write.kind == "Put" else None)

    def overlay(self, partition: str, found: list[dict[str, Any]], prefix: str | None = None) -> list[dict[str, Any]]:
        """``found`` (a partition's items, sort-key order) with the staged items of that partition applied."""
        by_sort_key = {str(item["SK"]): item for item in found}
        for (pk, sk), write in self.writes.items():
            if pk != partition or (prefix is not None and not sk.startswith(prefix)):
                continue
            if write.kind == "Put":
                by_sort_key[sk] = dict(write.params["Item"])
            elif write.kind == "Delete":
                by_sort_key.pop(sk, None)
        return [by_sort_key[sk] for sk in sorted(by_sort_key)]

    def commit(self, extra: list[transactions.Write] | None = None) -> None:
        writes = list(self.writes.values()) + list(extra or [])
        if len(writes) > transactions.MAX_ITEMS:
            raise UnitTooLarge(f"the changes need {len(writes)} items; one transaction holds {transactions.MAX_ITEMS}")
        transactions.commit_now(writes)


def _merge(staged: transactions.Write, later: transactions.Write) -> transactions.Write:
    if later.kind == "ConditionCheck":
        if staged.kind == "ConditionCheck" and staged.params == later.params:
            return staged
        condition = later.params["ConditionExpression"]
        before = staged.params.get("ConditionExpression")
        merged = condition if before is None else before & condition
        return replace(staged, params={**staged.params, "ConditionExpression": merged})
    if staged.kind == "Update" or later.kind == "Update":
        raise ValueError(f"cannot stage two updates of one item {_key_of(later)}")
    params = dict(later.params)
    params.pop("ConditionExpression", None)
    if "ConditionExpression" in staged.params:
        params["ConditionExpression"] = staged.params["ConditionExpression"]
    if staged.kind == "ConditionCheck":
        condition = staged.params["ConditionExpression"]
        later_condition = later.params.get("ConditionExpression")
        params["ConditionExpression"] = condition if later_condition is None else condition & later_condition
    return transactions.Write(later.kind, params, staged.on_condition_failed or later.on_condition_failed)


def current() -> UnitOfWork | None:
    return _current.get()


@contextmanager
def collecting() -> Iterator[UnitOfWork]:
    """Stage every ``transactions.write`` made inside the block in one unit of work."""
    unit = UnitOfWork()
    token = _current.set(unit)
    try:
        with transactions.staging_into(unit):
            yield unit
    finally:
        _current.reset(token)


def staged_image(key: dict[str, str]) -> tuple[bool, dict[str, Any] | None]:
    """What the collecting unit holds for ``key``: (True, item or None if deleted) or (False, None)."""
    unit = _current.get()
    if unit is None:
        return False, None
    return unit.image((key["PK"], key["SK"]))
