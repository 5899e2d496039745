"""Automations (06 §1): the automation item, its name claim, its program's list and the due index.

* ``ORG#o#AUTOMATION#<a>`` / ``#``: the automation, guarded by ``version``. Execution state
  (``execution_status``, counters) lives here only, so a fan-out page updates one item.
* ``ORG#o#PROGRAM#p#AUTOMATIONNAME#<sha256(lower(name))>``: the name claim, a conditional put,
  so two concurrent creates with one name cannot both succeed (409 ``conflict``).
* ``ORG#o#PROGRAM#p#AUTOMATIONS`` / ``<created_at>#<id>``: the list entry, holding only what the
  list filters on (status, trigger type, scope, source, lower-cased name); a page reads the
  automations themselves by key, so execution state is never stale in a list.
* ``DUE#AUTOMATION#<hour>#<shard>`` / ``<due_at>#<org>#<id>``: the scheduler's due index. An active cron
  has one entry at its ``next_run_at``, an active unprocessed one_time at its ``trigger_at``, an
  active participant_state at its ``next_refresh_at`` (the periodic refresh); nothing else has
  one (``Automation.due_at``). ``save_writes`` moves or removes the entry in the same
  transaction as the automation, so the index never disagrees with a committed automation.
  Shards by automation id: one minute's thousands of due crons spread over 16 partitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr

from scrip.domain.automations import (
    Automation,
    AutomationSource,
    AutomationStatus,
    ExecutionStatus,
    FilterHint,
    FilterHintType,
    ScheduleType,
    Scope,
    TriggerType,
)
from scrip.domain.errors import Conflict, NotFound
from scrip.storage import items, keys, listing, read_cache, transactions

_ENTITY = "AUTOMATION"
SHARDS = keys.AUTOMATIONS_DUE_SHARDS


class StaleAutomation(Exception):
    """Another writer changed the automation between our read and our write."""


def _key(org_id: str, automation_id: str) -> dict[str, str]:
    return {"PK": keys.automation(org_id, automation_id), "SK": keys.ENTITY_SK}


def _name_claim_key(automation: Automation) -> dict[str, str]:
    return {
        "PK": keys.automation_name(automation.organization_id, automation.program_id, automation.name),
        "SK": keys.ENTITY_SK,
    }


def _list_key(automation: Automation) -> dict[str, str]:
    created_at = items.timestamp(automation.created_at)
    assert created_at is not None
    return {
        "PK": keys.program_automations(automation.organization_id, automation.program_id),
        "SK": keys.chronological(created_at, automation.id),
    }


def _json(value: Any) -> str | None:
    # JSON text: DynamoDB refuses floats, and a client payload may hold any JSON number.
    return json.dumps(value, separators=(",", ":")) if value is not None else None


def _attributes(a: Automation) -> dict[str, Any]:
    return {
        "entity": _ENTITY,
        "id": a.id,
        "program_id": a.program_id,
        "organization_id": a.organization_id,
        "name": a.name,
        "description": a.description,
        "event_name": a.event_name,
        "payload": _json(a.payload),
        "scope": a.scope.value,
        "trigger_type": a.trigger_type.value,
        "status": a.status.value,
        "source": a.source.value,
        "cron_expression": a.cron_expression,
        "timezone": a.timezone,
        "next_run_at": items.timestamp(a.next_run_at),
        "last_run_at": items.timestamp(a.last_run_at),
        "last_error": a.last_error,
        "consecutive_failures": a.consecutive_failures,
        "trigger_at": items.timestamp(a.trigger_at),
        "processed_at": items.timestamp(a.processed_at),
        "error_message": a.error_message,
        "participant_id": a.participant_id,
        "schedule_type": a.schedule_type.value if a.schedule_type is not None else None,
        "schedule_config": _json(a.schedule_config),
        "last_evaluated_at": items.timestamp(a.last_evaluated_at),
        "next_refresh_at": items.timestamp(a.next_refresh_at),
        "refresh_job_id": a.refresh_job_id,
        "participant_filter": a.participant_filter,
        "guard_condition": a.guard_condition,
        "filter_hints": [hint.as_dict() for hint in a.filter_hints],
        "execution_status": a.execution_status.value if a.execution_status is not None else None,
        "execution_started_at": items.timestamp(a.execution_started_at),
        "execution_completed_at": items.timestamp(a.execution_completed_at),
        "execution_error": a.execution_error,
        "participants_total": a.participants_total,
        "participants_processed": a.participants_processed,
        "rule_id": a.rule_id,
        "origin_event_id": a.origin_event_id,
        "created_at": items.timestamp(a.created_at),
        "updated_at": items.timestamp(a.updated_at),
        "version": a.version,
    }


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def from_item(item: dict[str, Any]) -> Automation:
    created_at, updated_at = items.moment(item["created_at"]), items.moment(item["updated_at"])
    assert created_at is not None and updated_at is not None
    schedule_type, execution_status = item.get("schedule_type"), item.get("execution_status")
    return Automation(
        id=item["id"],
        program_id=item["program_id"],
        organization_id=item["organization_id"],
        name=item["name"],
        description=item.get("description"),
        event_name=item["event_name"],
        payload=json.loads(item["payload"]) if item.get("payload") is not None else None,
        scope=Scope(item["scope"]),
        trigger_type=TriggerType(item["trigger_type"]),
        status=AutomationStatus(item["status"]),
        source=AutomationSource(item["source"]),
        cron_expression=item.get("cron_expression"),
        timezone=item.get("timezone"),
        next_run_at=items.moment(item.get("next_run_at")),
        last_run_at=items.moment(item.get("last_run_at")),
        last_error=item.get("last_error"),
        consecutive_failures=int(item.get("consecutive_failures", 0)),
        trigger_at=items.moment(item.get("trigger_at")),
        processed_at=items.moment(item.get("processed_at")),
        error_message=item.get("error_message"),
        participant_id=item.get("participant_id"),
        schedule_type=ScheduleType(schedule_type) if schedule_type is not None else None,
        schedule_config=json.loads(item["schedule_config"]) if item.get("schedule_config") is not None else None,
        last_evaluated_at=items.moment(item.get("last_evaluated_at")),
        next_refresh_at=items.moment(item.get("next_refresh_at")),
        refresh_job_id=item.get("refresh_job_id"),
        participant_filter=item.get("participant_filter"),
        guard_condition=item.get("guard_condition"),
        filter_hints=tuple(FilterHint(FilterHintType(h["type"]), h["key"]) for h in item.get("filter_hints", [])),
        execution_status=ExecutionStatus(execution_status) if execution_status is not None else None,
        execution_started_at=items.moment(item.get("execution_started_at")),
        execution_completed_at=items.moment(item.get("execution_completed_at")),
        execution_error=item.get("execution_error"),
        participants_total=_optional_int(item.get("participants_total")),
        participants_processed=_optional_int(item.get("participants_processed")),
        rule_id=item.get("rule_id"),
        origin_event_id=item.get("origin_event_id"),
        created_at=created_at,
        updated_at=updated_at,
        version=int(item["version"]),
    )


# --- the due index -----------------------------------------------------------------------------


def _due_partition(due_at: datetime, automation_id: str) -> str:
    return keys.automations_due(due_at.strftime("%Y-%m-%dT%H"), keys.shard_of(automation_id, SHARDS))


def due_entry_key(automation: Automation) -> dict[str, str] | None:
    """The key of the automation's due index entry, or None when it has none (``due_at``)."""
    due_at = automation.due_at
    if due_at is None:
        return None
    return {
        "PK": _due_partition(due_at, automation.id),
        "SK": keys.due_entry(items.timestamp(due_at) or "", automation.organization_id, automation.id),
    }


def _due_entry_writes(before: Automation | None, after: Automation) -> list[transactions.Write]:
    old = due_entry_key(before) if before is not None else None
    new = due_entry_key(after)
    if old == new:
        return []
    writes: list[transactions.Write] = []
    if old is not None:
        writes.append(transactions.delete(old))
    if new is not None:
        writes.append(
            transactions.put(
                {
                    **new,
                    "entity": "AUTOMATION_DUE",
                    "organization_id": after.organization_id,
                    "program_id": after.program_id,
                    "automation_id": after.id,
                    "due_at": items.timestamp(after.due_at),
                }
            )
        )
    return writes


@dataclass(frozen=True)
class DueEntry:
    """An automation due by the time a scheduler run reads: enough to read it, and to tell a stale
    entry (the automation moved on since) from a live one by comparing ``due_at``."""

    organization_id: str
    program_id: str
    automation_id: str
    due_at: datetime
    key: dict[str, str]


def due_entries(hour: datetime, shard: int, until: datetime) -> list[DueEntry]:
    """One shard of one hour's due index: the entries due at or before ``until``, earliest first."""
    partition = keys.automations_due(hour.strftime("%Y-%m-%dT%H"), shard)
    found = listing.read_up_to(partition, keys.due_entries_up_to(items.timestamp(until) or ""))
    entries = []
    for item in found:
        due_at = items.moment(item["due_at"])
        assert due_at is not None
        entries.append(
            DueEntry(
                organization_id=item["organization_id"],
                program_id=item["program_id"],
                automation_id=item["automation_id"],
                due_at=due_at,
                key={"PK": item["PK"], "SK": item["SK"]},
            )
        )
    return entries


# --- the automation ----------------------------------------------------------------------------


def _list_entry(a: Automation) -> transactions.Write:
    return transactions.put(
        {
            **_list_key(a),
            "entity": "AUTOMATION_LIST",
            "automation_id": a.id,
            "name_lower": a.name.lower(),
            "status": a.status.value,
            "trigger_type": a.trigger_type.value,
            "scope": a.scope.value,
            "source": a.source.value,
        }
    )


def _claim_name(automation: Automation) -> transactions.Write:
    return transactions.put(
        {**_name_claim_key(automation), "entity": "AUTOMATION_NAME", "automation_id": automation.id},
        condition=Attr("PK").not_exists(),
        on_condition_failed=lambda: Conflict(
            f"an automation named {automation.name!r} already exists in this program", details={"field": "name"}
        ),
    )


def create_writes(automation: Automation, *, check_program: bool = True) -> list[transactions.Write]:
    """The automation, its name claim, list entry and due entry: for one transaction (a rule
    action's automation commits with its event's writes, whose processing read the program:
    ``check_program=False`` spares that transaction the check)."""
    org_id = automation.organization_id
    program_check = transactions.condition_check(
        {"PK": keys.program(org_id, automation.program_id), "SK": keys.ENTITY_SK},
        Attr("PK").exists(),
        lambda: NotFound(f"program {automation.program_id} not found"),
    )
    return [
        *([program_check] if check_program else []),
        transactions.put({**_key(org_id, automation.id), **_attributes(automation)}, proves_commit=True),
        _claim_name(automation),
        _list_entry(automation),
        *_due_entry_writes(None, automation),
    ]


def create(automation: Automation) -> None:
    transactions.write(create_writes(automation))


def get(org_id: str, automation_id: str) -> Automation | None:
    item = read_cache.get_item(_key(org_id, automation_id))
    return from_item(item) if item is not None else None


def require(org_id: str, program_id: str, automation_id: str) -> Automation:
    """The automation of that program: one of another program is as unknown as a missing one."""
    automation = get(org_id, automation_id)
    if automation is None or automation.program_id != program_id:
        raise NotFound(f"automation {automation_id} not found")
    return automation


def save_writes(before: Automation, after: Automation) -> list[transactions.Write]:
    """Replace ``before`` by ``after`` (``after.version`` one higher), conditioned on the version
    read (``StaleAutomation`` otherwise), with the list entry, the name claim and the due index
    entry moved to match: for one transaction."""
    org_id = after.organization_id
    writes = [
        transactions.put(
            {**_key(org_id, after.id), **_attributes(after)},
            condition=Attr("version").eq(before.version),
            on_condition_failed=StaleAutomation,
        ),
        *_due_entry_writes(before, after),
    ]
    if _list_attributes(before) != _list_attributes(after):
        writes.append(_list_entry(after))
    if before.name.lower() != after.name.lower():
        writes.append(transactions.delete(_name_claim_key(before)))
        writes.append(_claim_name(after))
    return writes


def _list_attributes(a: Automation) -> tuple[str, ...]:
    return (a.name.lower(), a.status.value, a.trigger_type.value, a.scope.value, a.source.value)


def save(before: Automation, after: Automation) -> Automation:
    transactions.write(save_writes(before, after))
    return after


def list_page(
    org_id: str,
    program_id: str,
    *,
    limit: int,
    after: str | None,
    statuses: set[AutomationStatus],
    trigger_type: TriggerType | None,
    scope: Scope | None,
    source: AutomationSource | None,
    search: str | None,
) -> tuple[list[Automation], str | None]:
    """A page of the program's automations, newest first, and the sort key to resume after.

    The filters run on the list entries (one Query of the program's own partition); the page's
    automations are then read by key, in one batch."""
    conditions: list[Any] = [Attr("status").is_in(sorted(s.value for s in statuses))]
    if trigger_type is not None:
        conditions.append(Attr("trigger_type").eq(trigger_type.value))
    if scope is not None:
        conditions.append(Attr("scope").eq(scope.value))
    if source is not None:
        conditions.append(Attr("source").eq(source.value))
    if search:
        conditions.append(Attr("name_lower").contains(search.lower()))
    found, has_more = listing.read_page(
        keys.program_automations(org_id, program_id),
        limit=limit,
        after=after,
        descending=True,
        item_filter=listing.all_of(conditions),
    )
    automations = _read_many(org_id, [str(entry["automation_id"]) for entry in found])
    resume_after = str(found[-1]["SK"]) if has_more and found else None
    return automations, resume_after


def _read_many(org_id: str, automation_ids: Sequence[str]) -> list[Automation]:
    found = {str(i["id"]): from_item(i) for i in listing.read_items([_key(org_id, a) for a in automation_ids])}
    return [found[a] for a in automation_ids if a in found]
