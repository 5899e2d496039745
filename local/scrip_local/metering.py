"""What the code asks of DynamoDB: every call, its capacity units and the partitions it writes.

The local stack's emulator does not report consumed capacity the way DynamoDB bills it, so
the meter works it out from the requests themselves, with DynamoDB's rules:

* a write costs one unit per KB of the larger of the item's old and new image, rounded up;
  inside ``TransactWriteItems`` twice that, condition checks included; a write whose condition
  fails (a cancelled transaction too) is charged as if it had written;
* a global secondary index's entry costs one unit per KB of what it projects (its keys, the
  table's keys, the projected attributes, plus 100 bytes), never doubled by a transaction: a put
  when the item enters the index, a delete when it leaves, both when its index key changes, a
  put when a projected attribute changes (attributes as they are after the write); it is
  recorded under the partition ``<index name>:<index partition key>``;
* a read costs one unit per 4 KB (rounded up per item for ``GetItem`` and ``BatchGetItem``,
  over the page for ``Query``), half that when eventually consistent; a transactional read
  twice that.

Item sizes follow DynamoDB's formula (attribute names plus values; a number is about one byte
per two significant digits). Old images are read with the meter paused, so they cost nothing.
Calls are attributed to the template function that made them (the local stack invokes
functions in-process), so a bench can say what the event processor alone costs.

    with DynamoMeter(stack) as meter:
        ...
    meter.write_units(function="EventProcessorFunction")
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.client

from scrip_local import runtime

_state = threading.local()


def attribute_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (int, Decimal, float)):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").replace("-", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if hasattr(value, "value") and not isinstance(value, (list, dict, set)):  # boto3's Binary
        return len(value.value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return 3 + sum(attribute_size(v) + 1 for v in value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + attribute_size(v) + 1 for k, v in value.items())
    return len(str(value).encode())


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


@dataclass
class Call:
    function: str
    operation: str
    write_units: float = 0.0
    read_units: float = 0.0
    items_written: int = 0
    ok: bool = True
    partitions: Counter[str] = field(default_factory=Counter)  # partition key -> write units
    written_keys: list[tuple[str, str, int]] = field(default_factory=list)  # (PK, SK, write units)
    invocation: int = 0
    thread: int = 0


class DynamoMeter:
    """Records every DynamoDB call made in this process while it is active."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._invocations = 0
        self._original_call: Any = None
        self._original_invoke: Any = None
        self._index_cache: dict[str, list[dict[str, Any]]] = {}  # table name -> its global secondary indexes

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> DynamoMeter:
        meter = self
        self._original_call = original_call = botocore.client.BaseClient._make_api_call
        self._original_invoke = original_invoke = runtime.Function.invoke

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "dynamodb" or getattr(_state, "paused", False):
                return original_call(client, operation, params)
            return meter._metered(client, operation, params, original_call)

        def invoke(function: Any, event: Any) -> Any:
            previous = getattr(_state, "function", None), getattr(_state, "invocation", 0)
            with meter._lock:
                meter._invocations += 1
                _state.invocation = meter._invocations
            _state.function = function.spec.logical_id
            try:
                return original_invoke(function, event)
            finally:
                _state.function, _state.invocation = previous

        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        runtime.Function.invoke = invoke  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: Any) -> None:
        botocore.client.BaseClient._make_api_call = self._original_call  # type: ignore[method-assign]
        runtime.Function.invoke = self._original_invoke  # type: ignore[method-assign]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------ reports
    def select(
        self, function: str | None = None, operation: str | None = None, *, this_thread: bool = False
    ) -> list[Call]:
        """The calls made by ``function`` (a template logical id), of ``operation``, or from this thread only.

        ``this_thread``: what a test made by calling a service directly, without what the local
        stack's background delivery did meanwhile for other tests.
        """
        me = threading.get_ident()
        return [
            c
            for c in list(self.calls)
            if (function is None or c.function == function)
            and (operation is None or c.operation == operation)
            and (not this_thread or c.thread == me)
        ]

    def write_units(self, function: str | None = None) -> float:
        return sum(c.write_units for c in self.select(function))

    def read_units(self, function: str | None = None) -> float:
        return sum(c.read_units for c in self.select(function))

    def partitions(self, function: str | None = None) -> Counter[str]:
        total: Counter[str] = Counter()
        for call in self.select(function):
            total.update(call.partitions)
        return total

    def calls_per_invocation(self, function: str) -> list[int]:
        per: Counter[int] = Counter(c.invocation for c in self.select(function))
        return list(per.values())

    # ------------------------------------------------------------ metering
    @contextmanager
    def _paused(self) -> Iterator[None]:
        _state.paused = True
        try:
            yield
        finally:
            _state.paused = False

    def _current(self, client: Any, key: dict[str, Any], table: str) -> dict[str, Any] | None:
        with self._paused():
            got = client.get_item(TableName=table, Key=key, ConsistentRead=True)
        return got.get("Item")

    def _indexes(self, client: Any, table: str) -> list[dict[str, Any]]:
        if table not in self._index_cache:
            with self._paused():
                described = client.describe_table(TableName=table)["Table"]
            self._index_cache[table] = list(described.get("GlobalSecondaryIndexes") or [])
        return self._index_cache[table]

    def _metered(self, client: Any, operation: str, params: dict[str, Any], original: Any) -> Any:
        call = Call(
            function=getattr(_state, "function", None) or "(outside a function)",
            operation=operation,
            invocation=getattr(_state, "invocation", 0),
            thread=threading.get_ident(),
        )
        writes: list[tuple[str, dict[str, Any], dict[str, Any] | None, int]] = []  # kind, key, new item, factor
        if operation == "PutItem":
            writes.append(("Put", params["Item"], params["Item"], 1))
        elif operation in ("UpdateItem", "DeleteItem"):
            writes.append((operation[:-4], params["Key"], None, 1))
        elif operation == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        writes.append(("Put", item, item, 1))
                    else:
                        writes.append(("Delete", request["DeleteRequest"]["Key"], None, 1))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                key = body.get("Item") or body["Key"]
                writes.append((kind, key, body.get("Item"), 2))
        table = params.get("TableName") or next(iter(params.get("RequestItems", {}) or {"": None}), "")
        if operation == "TransactWriteItems":
            table = params["TransactItems"][0][next(iter(params["TransactItems"][0]))]["TableName"]
        old_items = {
            index: self._current(client, {"PK": key["PK"], "SK": key["SK"]}, table)
            for index, (_, key, _, _) in enumerate(writes)
        }
        before = {index: item_size(item) for index, item in old_items.items()}
        indexes = self._indexes(client, table) if writes else []
        error: Exception | None = None
        try:
            response = original(client, operation, params)
        except Exception as raised:  # noqa: BLE001 - a refused write is still charged; recorded, then raised again
            call.ok, error, response = False, raised, None
        for index, (kind, key, new_item, factor) in enumerate(writes):
            after: dict[str, Any] | None = new_item
            if kind == "Update" and response is not None:
                after = self._current(client, {"PK": key["PK"], "SK": key["SK"]}, table)
            new_size = item_size(after)
            units = factor * _write_units(max(before[index], new_size))
            call.write_units += units
            call.items_written += 1 if kind != "ConditionCheck" else 0
            call.partitions[str(key["PK"])] += units
            call.written_keys.append((str(key["PK"]), str(key["SK"]), units))
            if response is not None and kind != "ConditionCheck":
                now = None if kind == "Delete" else after
                for name, partition, sort_key, index_units in _index_writes(indexes, old_items[index], now):
                    call.write_units += index_units
                    call.partitions[f"{name}:{partition}"] += index_units
                    call.written_keys.append((f"{name}:{partition}", sort_key, index_units))
        if response is not None:
            call.read_units = _reads(operation, params, response)
        with self._lock:
            self.calls.append(call)
        if error is not None:
            raise error
        return response


def _index_entry(item: dict[str, Any] | None, names: list[str], projected: set[str] | None) -> dict[str, Any] | None:
    """An item's entry in an index, or None when it lacks a key attribute (a sparse index)."""
    if not item or any(item.get(n) is None for n in names):
        return None
    return dict(item) if projected is None else {k: v for k, v in item.items() if k in projected}


def _index_writes(
    indexes: list[dict[str, Any]], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[tuple[str, str, str, int]]:
    """(index, partition key, sort key, units) of what one item write costs each index."""
    found = []
    for index in indexes:
        names = [k["AttributeName"] for k in index["KeySchema"]]
        projection = index.get("Projection", {})
        projected: set[str] | None = None  # None: every attribute (ALL)
        if projection.get("ProjectionType") != "ALL":
            projected = {"PK", "SK", *names, *projection.get("NonKeyAttributes", [])}
        was, now = _index_entry(old, names, projected), _index_entry(new, names, projected)
        changes: list[dict[str, Any]] = []
        if was is not None and (now is None or any(was.get(n) != now.get(n) for n in names)):
            changes.append(was)  # the entry leaves the index, or moves
        if now is not None and (was is None or was != now):
            changes.append(now)  # the entry enters, moves, or one of its projected attributes changed
        for changed in changes:
            units = _write_units(item_size(changed) + 100)
            found.append((str(index["IndexName"]), str(changed[names[0]]), str(changed.get(names[-1], "")), units))
    return found


def _reads(operation: str, params: dict[str, Any], response: dict[str, Any]) -> float:
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _read_units(item_size(response.get("Item")), consistent)
    if operation in ("Query", "Scan"):
        return _read_units(sum(item_size(i) for i in response.get("Items", [])), consistent)
    if operation == "BatchGetItem":
        total = 0.0
        for table, found in response.get("Responses", {}).items():
            request = params["RequestItems"][table]
            for item in found:
                total += _read_units(item_size(item), bool(request.get("ConsistentRead")))
        return total
    if operation == "TransactGetItems":
        return sum(2 * _read_units(item_size(r.get("Item")), True) for r in response.get("Responses", []))
    return 0.0
