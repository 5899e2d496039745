"""Request logs and usage (05 §4.7-4.8): storing what the log group delivers, and reading it.

Ingestion is idempotent: the log group's subscription may deliver a line again (a retried
invocation), and a log is stored, and counted in usage, once (``storage.request_logs``).

Reading a list walks the window's UTC days, newest first by default; each day is
``REQUEST_LOG_SHARDS`` sorted partitions, merged. Days without a request (the usage counters
say which, in the same transaction as the logs) are not read. One page examines at most
``MAX_EXAMINED_PER_PAGE`` lines: a page with filters that match rarely may come back short with
``has_more`` set, and the cursor goes on from where it stopped. Sorting by ``duration_ms`` or
``status_code`` reads the whole window, so it is allowed only on a window of at most
``MAX_SORTED_WINDOW`` requests (else ``400``: narrow ``from``/``to``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from scrip.domain import clock
from scrip.domain.errors import NotFound, ValidationFailed
from scrip.domain.organizations import Caller
from scrip.domain.pagination import Page, decode_cursor, encode_cursor, scope_signature
from scrip.domain.request_logs import LogFilters, RequestLog, SortBy, SortDir, UsageDay, log_id_of
from scrip.storage import request_logs as store
from scrip.storage import transactions

# At most this many items a transaction: two per log and one per (organization, day) counter.
_TRANSACTION_ITEMS = transactions.MAX_ITEMS
MAX_EXAMINED_PER_PAGE = 1000
MAX_SORTED_WINDOW = 1000
DEFAULT_USAGE_DAYS = 30
MAX_USAGE_DAYS = store.USAGE_RETENTION_DAYS
LOG_RETENTION_DAYS = store.LOG_RETENTION_DAYS


# ------------------------------------------------------------------ ingest


def _chunks(logs: Sequence[RequestLog]) -> Iterable[list[RequestLog]]:
    chunk: list[RequestLog] = []
    counters: set[tuple[str | None, str]] = set()
    for log in logs:
        counter = (log.organization_id, store.day_of(log.created_at))
        grown = counters | {counter}
        if chunk and store.items_per_transaction(len(chunk) + 1, len(grown)) > _TRANSACTION_ITEMS:
            yield chunk
            chunk, grown = [], {counter}
        chunk.append(log)
        counters = grown
    if chunk:
        yield chunk


def ingest(logs: Sequence[RequestLog]) -> int:
    """Store request logs delivered by the log group; how many were new.

    Logs without an organization (a request refused before its key was known) are left in the
    log group: there is no organization to show them to. A transaction refused because one of
    its logs was stored before (a repeated delivery) is redone one log at a time, skipping those.
    """
    seen: set[str] = set()
    wanted: list[RequestLog] = []
    for log in logs:
        if log.organization_id is None or log.id in seen:
            continue  # twice in one delivery: one transaction cannot put a key twice
        seen.add(log.id)
        wanted.append(log)
    stored = 0
    for chunk in _chunks(wanted):
        try:
            store.store(chunk)
            stored += len(chunk)
        except store.AlreadyStored:
            for log in chunk:
                try:
                    store.store([log])
                    stored += 1
                except store.AlreadyStored:
                    continue
    return stored


# ------------------------------------------------------------------- reads


def get_log(caller: Caller, log_id: str) -> RequestLog:
    log = store.get(caller.organization_id, log_id)
    if log is None:
        raise NotFound(f"request log {log_id} not found")
    return log


@dataclass(frozen=True)
class LogQuery:
    filters: LogFilters
    request_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    sort_by: SortBy = SortBy.CREATED_AT
    sort_dir: SortDir = SortDir.DESC


def _window(start: datetime | None, end: datetime | None, *, default_days: int) -> tuple[datetime, datetime]:
    now = clock.now()
    start = start if start is not None else now - timedelta(days=default_days)
    end = end if end is not None else now
    if start > end:
        raise ValidationFailed("from must not be after to", field="from", reason="invalid_range")
    return start, end


def _days(start: datetime, end: datetime) -> list[str]:
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _check(query: LogQuery) -> None:
    low, high = query.filters.status_min, query.filters.status_max
    if low is not None and high is not None and low > high:
        raise ValidationFailed("status_min must not be above status_max", field="status_min", reason="invalid_range")


@dataclass
class _Walk:
    """One page's reading of the window, day by day (see the module's docstring)."""

    org_id: str
    filters: LogFilters
    descending: bool
    low: str
    high: str
    max_examined: int
    examined: int = 0

    def _read_shard(
        self, day: str, shard: int, low: str, high: str, exclude: str | None, need: int, budget: int
    ) -> tuple[list[tuple[RequestLog, str]], str | None]:
        """Matching lines of one shard until ``need`` match or ``budget`` are read; and the
        position read down to when the shard's range is not read to its end."""
        matched: list[tuple[RequestLog, str]] = []
        resume: dict[str, Any] | None = None
        read = 0
        while True:
            # A first read asks for what the page needs; with filters, later reads take the rest of the budget.
            size = min(budget, need) if read == 0 else budget - read
            lines, resume = store.read_lines(
                self.org_id, day, shard, low, high, ascending=not self.descending, limit=size, resume=resume
            )
            read += len(lines)
            matched.extend(
                (log, position) for log, position in lines if position != exclude and self.filters.matches(log)
            )
            if resume is None:
                self.examined += read
                return matched, None
            if len(matched) >= need or read >= budget:
                self.examined += read
                return matched, store.position_of(resume)

    def _beyond(self, position: str, frontier: str) -> bool:
        """Whether ``position`` comes after ``frontier`` in the walk's order."""
        return position < frontier if self.descending else position > frontier

    def page(self, days: list[str], after: str | None, limit: int) -> tuple[list[tuple[RequestLog, str]], str | None]:
        """Up to ``limit`` lines after the position ``after``, and the position to resume from (None at the end)."""
        collected: list[tuple[RequestLog, str]] = []
        ordered = sorted(days, reverse=self.descending)
        for index, day in enumerate(ordered):
            low, high = self.low, self.high
            if after is not None:
                # The day's first position in the walk's order; none of it is past the cursor: read before.
                edge = store.day_start(day) if self.descending else store.day_end(day)
                if not self._beyond(edge, after):
                    continue
                if self.descending:
                    high = min(high, after)
                else:
                    low = max(low, after)
            need = limit + 1 - len(collected)
            budget = max(1, (self.max_examined - self.examined) // store.LIST_SHARDS)
            day_lines: list[tuple[RequestLog, str]] = []
            frontier: str | None = None
            for shard in range(store.LIST_SHARDS):
                lines, read_to = self._read_shard(day, shard, low, high, after, need, budget)
                day_lines.extend(lines)
                if read_to is not None and (frontier is None or self._beyond(frontier, read_to)):
                    frontier = read_to  # the position every shard is read down to
            if frontier is not None:
                day_lines = [line for line in day_lines if not self._beyond(line[1], frontier)]
            day_lines.sort(key=lambda line: line[1], reverse=self.descending)
            collected.extend(day_lines)
            if len(collected) > limit:
                return collected[:limit], collected[limit - 1][1]
            if frontier is not None:
                return collected, frontier
            more_days = index + 1 < len(ordered)
            if more_days and self.examined >= self.max_examined:
                return collected, store.day_start(day) if self.descending else store.day_end(day)
        return collected, None


def _days_with_requests(org_id: str, start: datetime, end: datetime) -> list[str]:
    days = _days(start, end)
    usage = store.read_usage(org_id, days[0], days[-1])
    return [day for day in days if day in usage and usage[day].request_count > 0]


def _sorted_key(sort_by: SortBy, log: RequestLog, position: str) -> str:
    value = log.duration_ms if sort_by is SortBy.DURATION_MS else float(log.status_code)
    return f"{value:020.3f}|{position}"


def list_logs(caller: Caller, query: LogQuery, *, limit: int, cursor: str | None) -> Page[RequestLog]:
    _check(query)
    start, end = _window(query.created_from, query.created_to, default_days=LOG_RETENTION_DAYS)
    f = query.filters
    scope = scope_signature(
        "logs",
        caller.organization_id,
        f.method,
        f.route_pattern,
        f.auth_type,
        f.status_min,
        f.status_max,
        query.request_id,
        query.created_from,
        query.created_to,
        query.sort_by,
        query.sort_dir,
    )
    after = decode_cursor(cursor, scope) if cursor else None
    if query.request_id is not None:
        return _by_request_id(caller, query, start, end)
    descending = query.sort_dir is SortDir.DESC
    low, high = store.window_bounds(start, end)
    # Older days hold nothing (TTL, a day's grace for its lazy deletion): a window from 1970 reads 31 days.
    oldest = clock.now() - timedelta(days=LOG_RETENTION_DAYS + 1)
    days = _days_with_requests(caller.organization_id, max(start, oldest), end) if end >= oldest else []
    if query.sort_by is SortBy.CREATED_AT:
        walk = _Walk(caller.organization_id, f, descending, low, high, max_examined=MAX_EXAMINED_PER_PAGE)
        lines, resume = walk.page(days, after, limit)
        next_cursor = encode_cursor(resume, scope) if resume is not None else None
        return Page([log for log, _ in lines], next_cursor)
    walk = _Walk(caller.organization_id, f, True, low, high, max_examined=MAX_SORTED_WINDOW * store.LIST_SHARDS)
    lines, resume = walk.page(days, None, MAX_SORTED_WINDOW)
    if resume is not None:
        raise ValidationFailed(
            f"sort_by={query.sort_by.value} sorts at most {MAX_SORTED_WINDOW} requests and the from/to window "
            "holds more: narrow from and to",
            field="from",
            reason="window_too_large",
        )
    ranked = sorted(((_sorted_key(query.sort_by, log, p), log) for log, p in lines), reverse=descending)
    if after is not None:
        ranked = [(key, log) for key, log in ranked if (key < after if descending else key > after)]
    page = ranked[:limit]
    next_cursor = encode_cursor(page[-1][0], scope) if len(ranked) > limit else None
    return Page([log for _, log in page], next_cursor)


def _by_request_id(caller: Caller, query: LogQuery, start: datetime, end: datetime) -> Page[RequestLog]:
    """The one log of a request (its id is the request id), if it passes the other filters."""
    log_id = log_id_of(query.request_id or "")
    if log_id is None:
        raise ValidationFailed(
            "request_id must be a request id (req_ and 32 hex digits, or a UUID)",
            field="request_id",
            reason="invalid_format",
            received=query.request_id,
        )
    log = store.get(caller.organization_id, log_id)
    if log is None or not start <= log.created_at <= end or not query.filters.matches(log):
        return Page([], None)
    return Page([log.listed()], None)


# ------------------------------------------------------------------- usage


@dataclass(frozen=True)
class Usage:
    start: datetime
    end: datetime
    days: list[UsageDay]


def usage(caller: Caller, created_from: datetime | None, created_to: datetime | None) -> Usage:
    """One row per UTC day that the window touches, oldest first; a day's counts are the whole day's."""
    start, end = _window(created_from, created_to, default_days=DEFAULT_USAGE_DAYS)
    days = _days(start, end)
    if len(days) > MAX_USAGE_DAYS:
        raise ValidationFailed(
            f"usage covers at most {MAX_USAGE_DAYS} days (its retention): narrow from and to",
            field="from",
            reason="window_too_large",
        )
    counted = store.read_usage(caller.organization_id, days[0], days[-1])
    rows = [
        counted.get(day) or UsageDay(date=day, request_count=0, error_count=0, duration_ms_total=0.0) for day in days
    ]
    return Usage(start=start, end=end, days=rows)
