"""What one attempt has read, kept for the rest of the attempt (P8: one read per item).

The event processor's attempt reads the program, the participant, its state and balances,
the rules and the assets, then calls the same services an API request would, and those read
again what they need: without a cache the program, an asset, the participant and a balance
were each read two or three times per event. Inside ``per_attempt()`` the repositories' reads
go through here, and an item (or a whole partition) read once is answered from memory
afterwards.

Why this is safe:

* the staged writes of the unit of work still win: a staged item is answered from the unit
  (``unit_of_work.staged_image`` / ``overlay``) before the cache is consulted;
* every write the attempt commits before its final transaction (a participant enrolled on
  its first event) passes through ``_Forgetting``, which drops every partition the
  transaction touched, committed or refused: a retry after a stale write reads fresh;
* a cached read is as old as the attempt, and every write built from it carries the version
  or condition it was built from, so a change made meanwhile by someone else cancels the
  final transaction and the whole attempt is planned again, with a new cache;
* outside ``per_attempt()`` nothing is cached: every read goes to the table, as before.

A participant's partition (its item, enrollments, tags, counters, attributes and balances)
is read whole at its first read in an attempt: the rules engine needs its state anyway, so
one Query replaces the item's GetItem, the enrollments' Query, the state's Query and each
balance's GetItem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from scrip.storage import listing, table, transactions, unit_of_work

ItemKey = unit_of_work.ItemKey


@dataclass
class _Cache:
    items: dict[ItemKey, dict[str, Any] | None] = field(default_factory=dict)  # None: known to be absent
    partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # whole, sort-key order

    def known(self, key: ItemKey) -> tuple[bool, dict[str, Any] | None]:
        if key in self.items:
            return True, self.items[key]
        whole = self.partitions.get(key[0])
        if whole is None:
            return False, None
        return True, next((item for item in whole if item["SK"] == key[1]), None)

    def remember_partition(self, partition: str, whole: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The latest read of a partition answers for its items from now on."""
        self.items = {key: item for key, item in self.items.items() if key[0] != partition}
        self.partitions[partition] = whole
        return whole

    def forget(self, partitions: set[str]) -> None:
        self.items = {key: item for key, item in self.items.items() if key[0] not in partitions}
        for partition in partitions:
            self.partitions.pop(partition, None)


_current: ContextVar[_Cache | None] = ContextVar("scrip_read_cache", default=None)


@dataclass
class _Forgetting:
    """Commits what ``transactions.write`` is given at once (as without it), then forgets the
    partitions it touched; ``unit_of_work.collecting()`` still stages over it."""

    cache: _Cache

    def stage(self, writes: list[transactions.Write]) -> None:
        try:
            transactions.commit_now(writes)
        finally:
            self.cache.forget({str(_key_of(write)[0]) for write in writes})


def _key_of(write: transactions.Write) -> ItemKey:
    key = write.params["Item"] if write.kind == "Put" else write.params["Key"]
    return str(key["PK"]), str(key["SK"])


@contextmanager
def per_attempt() -> Iterator[None]:
    """Inside the block, an item or partition is read from the table at most once."""
    cache = _Cache()
    token = _current.set(cache)
    try:
        if unit_of_work.current() is not None:
            yield  # a collecting unit stages every write: nothing commits before its own commit
        else:
            with transactions.staging_into(_Forgetting(cache)):
                yield
    finally:
        _current.reset(token)


def forget(partitions: set[str]) -> None:
    """Drop what the attempt read of these partitions: someone (a staged transfer finished by
    the reader, storage.transfers) changed them outside the attempt's own writes."""
    cache = _current.get()
    if cache is not None:
        cache.forget(partitions)


def _copy(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return dict(item) if item is not None else None


def get_item(key: dict[str, str], *, whole_partition: bool = False) -> dict[str, Any] | None:
    """The item at ``key`` (consistent), or None; staged image first, then the cache.

    ``whole_partition``: inside an attempt, read the key's whole partition instead of the item
    (for an owner whose state the attempt reads anyway).
    """
    staged, item = unit_of_work.staged_image(key)
    if staged:
        return item
    cache = _current.get()
    if cache is None:
        return _get(key)
    item_key = (key["PK"], key["SK"])
    known, item = cache.known(item_key)
    if known:
        return _copy(item)
    if whole_partition:
        cache.remember_partition(item_key[0], _query(item_key[0]))
        return _copy(cache.known(item_key)[1])
    item = cache.items[item_key] = _get(key)
    return _copy(item)


def get_items(item_keys: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """The items at these keys that exist, read consistently (staged images applied); only
    what the attempt has not read yet is asked, 100 keys per ``BatchGetItem``."""
    wanted = list({(k["PK"], k["SK"]): k for k in item_keys}.values())
    cache = _current.get()
    found: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    for key in wanted:
        staged, item = unit_of_work.staged_image(key)
        known, cached = cache.known((key["PK"], key["SK"])) if cache is not None else (False, None)
        if staged or known:
            item = item if staged else _copy(cached)
            if item is not None:
                found.append(item)
        else:
            missing.append(key)
    read = _batch_get(missing)
    if cache is not None:
        by_key = {(str(i["PK"]), str(i["SK"])): i for i in read}
        for key in missing:
            cache.items[(key["PK"], key["SK"])] = by_key.get((key["PK"], key["SK"]))
        read = [dict(i) for i in read]
    return found + read


def partition_items(partition: str, *, prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item of a partition (or of its sort keys starting with ``prefix``), sort-key order,
    with the unit of work's staged items applied. Inside an attempt the whole partition is
    read once and the prefix applied in memory."""
    cache = _current.get()
    unit = unit_of_work.current()
    if cache is None:
        found = _query(partition, prefix)
    else:
        whole = cache.partitions.get(partition)
        if whole is None:
            whole = cache.remember_partition(partition, _query(partition))
        found = [dict(i) for i in whole if prefix is None or str(i["SK"]).startswith(prefix)]
    return unit.overlay(partition, found, prefix) if unit is not None else found


def _get(key: dict[str, str]) -> dict[str, Any] | None:
    got = table.client().get_item(TableName=table.table_name(), Key=key, ConsistentRead=True)
    item: dict[str, Any] | None = got.get("Item")
    return item


def _batch_get(item_keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    return listing.read_items(item_keys)


def _query(partition: str, prefix: str | None = None) -> list[dict[str, Any]]:
    """The partition's items as the table holds them (no staged image), all pages."""
    return listing.query_all(partition, prefix=prefix)
