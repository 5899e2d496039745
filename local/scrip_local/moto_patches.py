"""Make moto's DynamoDB behave like DynamoDB where the local stack depends on it.

Each patch replaces a method or property of the one moto class whose behaviour it corrects,
and nothing else: no module-level function (``copy.deepcopy`` included) is ever swapped, since
handler threads run alongside moto in the same process. The patches are written against one
moto version (``TESTED_MOTO_VERSION``); ``apply`` refuses any other, so an upgrade re-checks
them instead of silently patching code that changed.

Measured problems of moto 5.2.5 that these patches fix (see DEVELOPERS.md):

* ``TransactWriteItems`` deep-copies every table it touches so it can roll back (230 ms at
  1,000 items, 1 s at 5,000) and keeps the copies alive. Here a transaction records an undo
  entry per touched item instead, and a cancelled transaction also withdraws the stream
  records its partial writes emitted.
* ``Query`` walks and sorts the whole table for every call. Here each partition keeps its
  items in a ``SortedDict`` and a base-table query reads only the key range it asks for.
* Requests run unsynchronised, so two threads could both pass a condition before either
  writes. Here every DynamoDB request holds one lock, which gives conditional writes and
  transactions the atomicity DynamoDB guarantees.
* A put or update that leaves an item unchanged emits a stream record (DynamoDB does not).
* Responses are serialised by walking botocore's shape model attribute by attribute: about
  2.5 ms per item read. Item-reading operations, whose results are already plain JSON
  structures, are dumped directly instead; so are stream records (``GetRecords``).
* ``Query`` on a global secondary index walks, filters and sorts the whole table for every
  call (0.5 s at 20,000 items; an event list page queries 16 to 32 index partitions). Here each
  index is grouped by partition key once per table state (any request that may write starts a
  new state) and a query reads its one partition.
* SQS computes every queue attribute, the approximate message counts included (four walks of
  the queue), to check each message's retention on ``ReceiveMessage`` and a FIFO setting on
  ``SendMessage``: with 2,000 webhook deliveries queued, ~1 s per batch of ten received. Here
  retention reads the period, and the counts are computed only for ``GetQueueAttributes``.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from importlib import metadata
from typing import Any

from sortedcontainers import SortedDict

TESTED_MOTO_VERSION = "5.2.5"  # requirements-dev.txt pins the same version

_LOCK = threading.RLock()
_applied = False
# Set while this thread runs moto's TransactWriteItems, whose table backup the undo log replaces.
_backing_up = threading.local()
_MAX_CHAR = "\U0010ffff"
_OPERATORS = {"=": "EQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}


class UnsupportedMoto(RuntimeError):
    """The installed moto is not the version these patches were written and tested against."""


def _installed_moto() -> str:
    return metadata.version("moto")


def check_moto_version(installed: str) -> None:
    if installed != TESTED_MOTO_VERSION:
        raise UnsupportedMoto(
            f"scrip_local.moto_patches fix moto {TESTED_MOTO_VERSION}, not the installed {installed}: "
            "install the pinned version (requirements-dev.txt), or check each patch against the new one"
        )


def apply() -> None:
    global _applied
    if _applied:
        return
    check_moto_version(_installed_moto())
    _applied = True
    _serialise_requests()
    _sorted_partitions()
    _indexed_global_indexes()
    _undo_log_transactions()
    _no_records_for_unchanged_items()
    _direct_json_for_item_reads()
    _sqs_without_queue_walks()


def _serialise_requests() -> None:
    """moto serves DynamoDB requests unsynchronised: two threads could both pass one condition."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action

        def call_action(self: Any, _original: Any = original) -> Any:
            with _LOCK:
                return _original(self)

        handler.call_action = call_action  # type: ignore[method-assign]


def _sorted_partitions() -> None:
    """moto's ``Table.query`` walks and sorts the whole table; here it reads one key range."""
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import DynamoType

    Table = table_module.Table
    original_init = Table.__init__
    original_query = Table.query

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.range_key_attr is not None:
            self.items = defaultdict(SortedDict)

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        partition = self.items.get(hash_key) if hash_key is not None else None
        fast = (
            index_name is None
            and not filter_kwargs
            and self.range_key_attr is not None
            and (range_key_conditions is None or len(range_key_conditions) <= 1)
            and (partition is None or isinstance(partition, SortedDict))
            and all(getattr(o, "type", "S") in ("S", "N") for o in range_objs)
        )
        if not fast:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        if partition is None:
            return [], 0, None
        low, high, inclusive = _bounds(range_comparison, range_objs, DynamoType)
        prefix = range_objs[0].value if (range_comparison or "").upper() == "BEGINS_WITH" else None
        if exclusive_start_key:
            start = DynamoType(exclusive_start_key[self.range_key_attr])
            if scan_index_forward:
                if low is None or start >= low:
                    low, inclusive = start, (False, inclusive[1])
            elif high is None or start <= high:
                high, inclusive = start, (inclusive[0], False)
        results: list[Any] = []
        size = 0
        last_evaluated_key = None
        for range_key in partition.irange(low, high, inclusive=inclusive, reverse=not scan_index_forward):
            item = partition[range_key]
            if prefix is not None and not str(range_key.value).startswith(prefix):
                continue
            if (limit is not None and len(results) == limit) or size + item.size() > table_module.RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                break
            results.append(item)
            size += item.size()
        scanned = len(results)
        results = copy.deepcopy(results)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, scanned, last_evaluated_key

    Table.__init__ = __init__  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


# Bumped after every DynamoDB request that may have written: an index grouping built at an
# older value is stale. Requests hold ``_LOCK`` while they run, so no write runs during a build.
_table_state = [0]
_READ_ACTIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables"}
)


def _indexed_global_indexes() -> None:
    """moto answers a GSI query by walking the whole table; here from a per-partition grouping."""
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.responses import DynamoHandler

    Table = table_module.Table
    sorted_query = Table.query
    locked_call = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        try:
            return locked_call(self)
        finally:
            if self._get_action() not in _READ_ACTIONS:
                _table_state[0] += 1

    def grouping(table: Any, index_name: str) -> dict[str, list[tuple[str, str, str, Any]]] | None:
        cache = table.__dict__.setdefault("_scrip_index_groups", {})
        cached = cache.get(index_name)
        if cached is not None and cached[0] == _table_state[0]:
            return cached[1]  # type: ignore[no-any-return]
        index = table.get_index(index_name)
        names = [k["AttributeName"] for k in index.schema]
        if len(names) != 2 or [k["KeyType"] for k in index.schema] != ["HASH", "RANGE"]:
            return None
        groups: dict[str, list[tuple[str, str, str, Any]]] = defaultdict(list)
        for partition in table.items.values():
            for item in partition.values() if isinstance(partition, dict) else [partition]:
                hash_value, range_value = item.attrs.get(names[0]), item.attrs.get(names[1])
                if hash_value is None or range_value is None:
                    continue  # not in this sparse index
                if hash_value.type != "S" or range_value.type != "S":
                    return None
                range_key = "" if item.range_key is None else str(item.range_key.value)
                groups[hash_value.value].append((range_value.value, str(item.hash_key.value), range_key, item))
        for group in groups.values():
            group.sort(key=lambda entry: entry[:3])
        cache[index_name] = (_table_state[0], groups)
        return groups

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        global_names = {i.name for i in (self.global_indexes or [])}
        groups = None
        simple = len(hash_key_conditions or []) <= 1 and len(range_key_conditions or []) <= 1
        if index_name in global_names and not consistent_read and not filter_kwargs and simple:
            groups = grouping(self, index_name)
        if groups is None:
            return sorted_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        index = self.get_index(index_name)
        range_name = index.schema[1]["AttributeName"]
        wanted = hash_key_conditions[0][1] if hash_key_conditions else hash_key
        group = groups.get(wanted.value, []) if wanted is not None and wanted.type == "S" else []
        start = None
        if exclusive_start_key:
            start = (
                exclusive_start_key[range_name]["S"],
                exclusive_start_key[self.hash_key_attr]["S"],
                exclusive_start_key[self.range_key_attr]["S"] if self.range_key_attr else "",
            )
        results: list[Any] = []
        size = 0
        last_evaluated_key = None
        for entry in group if scan_index_forward else reversed(group):
            if start is not None and (entry[:3] <= start if scan_index_forward else entry[:3] >= start):
                continue
            item = entry[3]
            if range_comparison and not item.attrs[range_name].compare(range_comparison, range_objs):
                continue
            if (limit is not None and len(results) == limit) or size + item.size() > table_module.RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], index_name)
                break
            results.append(item)
            size += item.size()
        scanned = len(results)
        results = [index.project(r) for r in copy.deepcopy(results)]
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, scanned, last_evaluated_key

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def _bounds(comparison: str | None, objs: list[Any], dynamo_type: Any) -> tuple[Any, Any, tuple[bool, bool]]:
    if comparison is None:
        return None, None, (True, True)
    comparison = _OPERATORS.get(comparison, comparison.upper())
    if comparison == "EQ":
        return objs[0], objs[0], (True, True)
    if comparison == "LT":
        return None, objs[0], (True, False)
    if comparison == "LE":
        return None, objs[0], (True, True)
    if comparison == "GT":
        return objs[0], None, (False, True)
    if comparison == "GE":
        return objs[0], None, (True, True)
    if comparison == "BETWEEN":
        return objs[0], objs[1], (True, True)
    if comparison == "BEGINS_WITH":
        prefix = objs[0].value
        return objs[0], dynamo_type({"S": prefix + _MAX_CHAR}), (True, True)
    raise ValueError(f"unsupported range comparison {comparison}")


def _undo_log_transactions() -> None:
    """moto's TransactWriteItems deep-copies every table it touches; here an undo log per item."""
    from moto.dynamodb.exceptions import MultipleTransactionsException, TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, previous item)
        shard_lengths: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or {
                k: v for k, v in op.get("Item", {}).items() if k in (table.hash_key_attr, table.range_key_attr)
            }
            if table.hash_key_attr not in key:
                continue
            identity = (table.name, str(sorted(key.items())))
            if identity in seen:
                continue  # moto raises MultipleTransactionsException itself
            seen.add(identity)
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            previous = (
                table.get_item(hash_value, range_value)
                if (range_value is not None or table.range_key_attr is None)
                else None
            )
            undo.append((table, hash_value, range_value, copy.deepcopy(previous)))
            if table.stream_shard is not None:
                shard_lengths.setdefault(table.name, len(table.stream_shard.items))

        # moto backs up whole tables with copy.deepcopy(table): Table.__deepcopy__ below hands
        # it the live table while this thread runs the transaction (the undo log restores).
        _backing_up.active = True
        try:
            original(self, transact_items)
        except (TransactionCanceledException, MultipleTransactionsException, Exception):
            for table, hash_value, range_value, previous in reversed(undo):
                _restore(table, hash_value, range_value, previous)
            for table_name, length in shard_lengths.items():
                shard = self.tables[table_name].stream_shard
                del shard.items[length:]
            raise
        finally:
            _backing_up.active = False

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        if getattr(_backing_up, "active", False):
            return self
        # Any other copy is a real one, made as copy.deepcopy makes it for a plain object.
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    Table.__deepcopy__ = __deepcopy__  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _restore(table: Any, hash_value: Any, range_value: Any, previous: Any) -> None:
    if range_value is None:
        if previous is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = previous
        return
    partition = table.items[hash_value]
    if previous is None:
        partition.pop(range_value, None)
        if not partition:
            del table.items[hash_value]
    else:
        partition[range_value] = previous


def _no_records_for_unchanged_items() -> None:
    """moto's stream records a write that changes nothing; DynamoDB records none."""
    from moto.dynamodb.models.table import StreamShard

    original_add = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old.attrs == new.attrs:
            return
        original_add(self, old, new)

    StreamShard.add = add  # type: ignore[method-assign]


_ITEM_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})


def _json_default(value: Any) -> Any:
    import base64
    from datetime import datetime

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, set):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _direct_json_for_item_reads() -> None:
    """moto serialises item reads and stream records through botocore's shapes, ~2.5 ms an item."""
    import json

    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in _ITEM_READS:
            return original(self, context)
        body = json.dumps(self.result, default=_json_default, separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]

    # Stream records are plain JSON structures too; the shape walk cost ~120 ms per GetRecords
    # page of event items (their images carry evaluations and payloads). Every moto service
    # answers with ActionResult, so only GetRecords answers with this subclass of it.
    from moto.core.responses import ActionResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    class StreamRecordsResult(ActionResult):
        def execute_result(self, context: Any) -> Any:
            body = json.dumps(self.result, default=_json_default, separators=(",", ":"))
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    original_get_records = DynamoDBStreamsHandler.get_records

    def get_records(self: Any) -> Any:
        return StreamRecordsResult(original_get_records(self).result)

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign]


def _sqs_without_queue_walks() -> None:
    """moto's SQS counts every queue's messages (four walks) to receive or send one message."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        period = self.get_queue(queue_name).message_retention_period
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )

    # ``Queue.attributes`` reads every attribute; only GetQueueAttributes reports the counts.
    asked = threading.local()

    def only_when_asked(walk: Any) -> property:
        return property(lambda self: int(walk(self)) if getattr(asked, "counts", False) else 0)

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        setattr(Queue, name, only_when_asked(getattr(Queue, name).fget))

    original_get = SQSBackend.get_queue_attributes

    def get_queue_attributes(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked.counts = True
        try:
            return original_get(self, *args, **kwargs)
        finally:
            asked.counts = False

    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
