"""Partition and sort keys of the single table (see docs/storage-design.md).

Every key of tenant data starts with ``ORG#<organization id>``: an id from another
organization can never address an item of this one, which is what makes cross-organization
reads a plain ``404``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

ENTITY_SK = "#"  # the sort key of an entity's own item in its partition


def organization(org_id: str) -> str:
    return f"ORG#{org_id}"


def api_key(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def api_key_ref(key_id: str) -> str:
    """Sort key of an API key's reference in its organization's partition (``API_KEY_PREFIX``)."""
    return f"APIKEY#{key_id}"


def program(org_id: str, program_id: str) -> str:
    return f"ORG#{org_id}#PROGRAM#{program_id}"


def program_key(org_id: str, key: str) -> str:
    return f"ORG#{org_id}#PROGRAMKEY#{key}"


def programs_by_created(org_id: str) -> str:
    return f"ORG#{org_id}#PROGRAMS#BY_CREATED"


def programs_by_name(org_id: str) -> str:
    return f"ORG#{org_id}#PROGRAMS#BY_NAME"


def asset(org_id: str, asset_id: str) -> str:
    return f"ORG#{org_id}#ASSET#{asset_id}"


def asset_symbol(org_id: str, symbol_key: str) -> str:
    return f"ORG#{org_id}#ASSETSYMBOL#{symbol_key}"


def assets_by_created(org_id: str) -> str:
    return f"ORG#{org_id}#ASSETS#BY_CREATED"


def program_assets(org_id: str, program_id: str) -> str:
    return f"ORG#{org_id}#PROGRAM#{program_id}#ASSETS"


def reward(org_id: str, reward_id: str) -> str:
    return f"ORG#{org_id}#REWARD#{reward_id}"


REWARD_INVENTORY_SK = "INVENTORY"  # the capped counter, beside the reward item in its partition

# An uncapped reward counts its redemptions on one of these, chosen at random: 8 partitions
# take 8 × 500 transactional writes/s for one popular reward (see docs/storage-design.md).
REWARD_COUNT_SHARDS = 8


def reward_count(org_id: str, reward_id: str, shard: int) -> str:
    return f"{reward(org_id, reward_id)}#COUNT#{shard}"


def participant_reward_counts(org_id: str, participant_id: str) -> str:
    """Units of each reward a participant redeemed (sort key: the reward id), for ``max_per_participant``."""
    return f"ORG#{org_id}#PARTICIPANT#{participant_id}#REWARDCOUNTS"


def program_rewards(org_id: str, program_id: str, order: str) -> str:
    """A program's reward list (orders: BY_CREATED, BY_NAME)."""
    return f"{program(org_id, program_id)}#REWARDS#{order}"


def reward_name(org_id: str, program_id: str, name: str) -> str:
    """The claim of a reward name within its program (case-insensitive; hashed, names are client text)."""
    digest = hashlib.sha256(name.lower().encode()).hexdigest()
    return f"{program(org_id, program_id)}#REWARDNAME#{digest}"


def program_tiers(org_id: str, program_id: str) -> str:
    """A program's tier definitions, one item per tier with its key as the sort key: the put
    conditioned on the key's absence is what keeps tier keys unique, and the list is one Query."""
    return f"{program(org_id, program_id)}#TIERS"


def idempotency(org_id: str, program_id: str, family: str, key: str) -> str:
    # Keys are client text up to 255 characters: hashing keeps the partition key short and
    # free of separators whatever the client sends.
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"ORG#{org_id}#PROGRAM#{program_id}#IDEMPOTENCY#{family}#{digest}"


def chronological(created_at: str, entity_id: str) -> str:
    """Sort key of list items: creation time, then id as the tie-breaker."""
    return f"{created_at}#{entity_id}"


def participant(org_id: str, participant_id: str) -> str:
    return f"ORG#{org_id}#PARTICIPANT#{participant_id}"


def external_id(org_id: str, external_id_value: str) -> str:
    return f"ORG#{org_id}#EXTERNALID#{external_id_value}"


PARTICIPANT_LIST_SHARDS = 4


def participants_list(org_id: str, order: str, shard: int) -> str:
    """One of the sharded participant lists (orders: BY_CREATED, BY_EXTERNAL_ID, BY_STATUS)."""
    return f"ORG#{org_id}#PARTICIPANTS#{order}#{shard}"


def program_enrolled(org_id: str, program_id: str) -> str:
    return f"ORG#{org_id}#PROGRAM#{program_id}#ENROLLED"


def group(org_id: str, group_id: str) -> str:
    return f"ORG#{org_id}#GROUP#{group_id}"


def groups_by_created(org_id: str) -> str:
    return f"ORG#{org_id}#GROUPS#BY_CREATED"


def state_history(owner_partition: str) -> str:
    return f"{owner_partition}#STATEHISTORY"


def shard_of(entity_id: str, shards: int) -> int:
    """A stable shard for an id (ids are random UUIDs, so this spreads evenly)."""
    return int(hashlib.sha256(entity_id.encode()).hexdigest()[:8], 16) % shards


WALLET_SHARDS = 16


def wallet(org_id: str, program_id: str, asset_id: str, shard: int) -> str:
    """One of a PREFUNDED wallet's sub-wallets: credits of one program spread over them."""
    return f"ORG#{org_id}#PROGRAM#{program_id}#WALLET#{asset_id}#{shard}"


def journal_entry(org_id: str, entry_id: str) -> str:
    return f"ORG#{org_id}#JOURNAL#{entry_id}"


# Every credit writes one 2-WU line to one shard: 32 shards take 16,000 entries/s per organization
# before one reaches 1,000 WU/s (16 capped it at 8,000). Only ever raise it: a page reads shards
# 0..N-1, so lines written under a smaller N are still found.
JOURNAL_LIST_SHARDS = 32


def journal_list(org_id: str, shard: int) -> str:
    return f"ORG#{org_id}#JOURNAL#LIST#{shard}"


def transfer_progress(org_id: str, entry_id: str) -> str:
    """A transfer too large for one transaction: which recipient legs its journal entry still owes."""
    return f"ORG#{org_id}#TRANSFER#{entry_id}"


def ledger_history(owner_partition: str) -> str:
    return f"{owner_partition}#LEDGER"


# Partitions of the due index (a sparse index on the event item) per hour: every event puts and
# removes one entry, so 32 keep any one of them under 0.1 write units per event, all tenants together.
EVENTS_DUE_SHARDS = 32


def events_due(hour: str, shard: int) -> str:
    """PENDING events by the hour their attempt falls due (``YYYY-MM-DDTHH``): what the sweep reads."""
    return f"EVENTDUE#{hour}#{shard}"


EVENTS_DUE_CHECKPOINT = "EVENTDUE#CHECKPOINT"  # the oldest hour the sweep has not yet seen empty


def participant_lots(org_id: str, participant_id: str, asset_id: str) -> str:
    return f"{participant(org_id, participant_id)}#LOTS#{asset_id}"


def group_lots(org_id: str, group_id: str, program_id: str, asset_id: str) -> str:
    return f"{group(org_id, group_id)}#LOTS#{program_id}#{asset_id}"


# Due entries of one hour, in shards: a burst of credits with one relative expiry lands in the
# same hour, and must not land on one partition.
LOTS_DUE_SHARDS = 16


def lots_due(kind: str, hour: str, shard: int) -> str:
    """Lots by the hour (``YYYY-MM-DDTHH``) they expire or mature (kinds: EXPIRY, MATURITY)."""
    return f"DUE#{kind}#{hour}#{shard}"


def lots_due_checkpoint(kind: str) -> str:
    """The first hour of a kind's due index the lot job has not yet seen empty."""
    return f"DUE#{kind}#CHECKPOINT"


def due_entry(due_at: str, partition: str, sort_key: str) -> str:
    """Sort key of a due index entry: due time first (what a run reads up to), then what is due."""
    return f"{due_at}#{partition}#{sort_key}"


def due_entries_up_to(due_at: str) -> str:
    """The last sort key a due index read up to ``due_at`` covers (every entry due by then)."""
    return f"{due_at}#\U0010ffff"


def due_time(sort_key: str) -> str:
    """When a due index entry falls due (its sort key's first part)."""
    return sort_key.split("#", 1)[0]


def list_sort_key(*parts: object) -> str:
    """A list entry's sort key: the values it is ordered by, then the entity id (the keyset
    tie-breaker). Parts are written as f-strings write them."""
    return "#".join(f"{part}" for part in parts)


# ---------------------------------------------------------------- balances and ledger lines

BALANCE_PREFIX = "BALANCE#"


def balance(asset_id: str, program_id: str | None = None) -> str:
    """Sort key of an owner's balance of an asset (a group's is per program) in its partition."""
    return BALANCE_PREFIX + (asset_id if program_id is None else f"{program_id}#{asset_id}")


def wallet_history(owner_partition: str, shard: int) -> str:
    """One shard of a program wallet's ledger lines (every credit of its program adds one)."""
    return f"{ledger_history(owner_partition)}#{shard}"


def ledger_line(created_at: str, entry_id: str, index: int) -> str:
    """Sort key of one posting's line in its owner's ledger history."""
    return f"{created_at}#{entry_id}#{index:03d}"


def total(org_id: str, account: str, asset_id: str, program_id: str | None, shard: int) -> str:
    return f"ORG#{org_id}#TOTAL#{account}#{asset_id}#{program_id or '-'}#{shard}"


def total_applied(org_id: str, entry_id: str) -> str:
    return f"ORG#{org_id}#TOTALAPPLIED#{entry_id}"


# The report aggregates (05 §4): per (period, asset, program) sums of holders' movements at four
# levels, spread over shards so that no partition takes every stream batch's update.
REPORT_SHARDS = 4
REPORT_COUNT_SHARDS = 4


def report_aggregates(org_id: str, level: str, shard: int) -> str:
    return f"ORG#{org_id}#RPT#{level}#{shard}"


def report_row(period: str, asset_id: str, program_id: str | None) -> str:
    """Sort key of a row in a level's partition: its periods sort as their instants do."""
    return f"{period}#{asset_id}#{program_id or '-'}"


def report_rows_from(period: str) -> str:
    return f"{period}#"


def report_rows_to(period: str) -> str:
    return f"{period}#~"  # after every asset id of the period


def report_counts(org_id: str, shard: int) -> str:
    """The organization's entries aggregated per minute (sort key: the minute)."""
    return f"ORG#{org_id}#RPTCOUNT#{shard}"


def report_checkpoint(org_id: str) -> str:
    """Up to which instant the organization's aggregates are verified complete. The report
    routes' role may write this partition only (template.yaml ApiReportRole: ``ORG#*#RPTSEALED``)."""
    return f"ORG#{org_id}#RPTSEALED"


# ---------------------------------------------------------------- report counts (storage.report_counts)


def report_count(org_id: str, counter: str, subject: str, shard: int) -> str:
    """One shard of a report counter (``HOLDERS`` per asset, ``EARNERS`` per program); sort key
    ``#``, or a day (``YYYY-MM-DD``) for the per-day ``EVENTS`` of a program."""
    return f"ORG#{org_id}#RCOUNT#{counter}#{subject}#{shard}"


def report_count_claim(org_id: str, claim: str) -> str:
    """What a counter counted once: a balance version, a (program, participant), an event."""
    return f"ORG#{org_id}#RCLAIM#{claim}"


def holder_change_claim(participant_id: str, asset_id: str, version: int) -> str:
    return f"HOLDERS#{participant_id}#{asset_id}#{version}"


def earner_claim(program_id: str, participant_id: str) -> str:
    return f"EARNERS#{program_id}#{participant_id}"


def event_processed_line(processed_at: str, event_id: str) -> str:
    return f"{processed_at}#{event_id}"


def program_events_processed(org_id: str, program_id: str, day: str, shard: int) -> str:
    """A program's processed events of one UTC day, one line each, sort key ``{processed_at}#{event id}``."""
    return f"ORG#{org_id}#PEVENTS#{program_id}#{day}#{shard}"


# ---------------------------------------------------------------- expiring lots (storage.expiring_lots)

NEVER_EXPIRES = "NEVER"  # the month of lots without expires_at (sorts after every YYYY-MM)
NO_PROGRAM = "-"  # the program of lots attributed to none


def expiry_months(org_id: str, shard: int) -> str:
    """One shard of an organization's outstanding per (asset, program, expiry month or never):
    every row of the shard is one Query; sort key ``expiry_month``."""
    return f"ORG#{org_id}#XMONTHS#{shard}"


def expiry_month(asset_id: str, program_id: str | None, month: str) -> str:
    """A month row's sort key (``month``: ``YYYY-MM`` or ``NEVER``): by asset, then program, so a
    filter on asset (and program) is a key prefix."""
    return f"{asset_id}#{program_id or NO_PROGRAM}#{month}"


def expiry_month_prefix(asset_id: str, program_id: str | None = None) -> str:
    """The month rows of an asset (of one program when given)."""
    return f"{asset_id}#{program_id}#" if program_id else f"{asset_id}#"


def expiry_days(org_id: str, shard: int) -> str:
    """One shard of an organization's outstanding per (expiry day, asset, program): a range of
    days is one Query; sort key ``expiry_day``."""
    return f"ORG#{org_id}#XDAYS#{shard}"


def expiry_day(day: str, asset_id: str, program_id: str | None) -> str:
    """A day row's sort key: by day first, so a reader asks for a range of days, not every day."""
    return f"{day}#{asset_id}#{program_id or NO_PROGRAM}"


def expiry_day_range(first_day: str, last_day: str) -> tuple[str, str]:
    """Inclusive sort key bounds of the day rows of ``first_day`` to ``last_day`` (``YYYY-MM-DD``):
    ``$`` sorts right after ``#``, so the upper bound follows every row of ``last_day`` and
    precedes the next day."""
    return f"{first_day}#", f"{last_day}$"


def expiring_lots(org_id: str, day: str, shard: int) -> str:
    """One shard of the outstanding lots expiring on a UTC day (``YYYY-MM-DD``), sort key
    ``expiring_lot``."""
    return f"ORG#{org_id}#XLOTS#{day}#{shard}"


def expiring_lot(asset_id: str, lot_id: str) -> str:
    return f"{asset_id}#{lot_id}"


def expiring_lots_claim(org_id: str, event_id: str) -> str:
    """A stream record (its ``eventID``) applied to the day rows."""
    return f"ORG#{org_id}#XCLAIM#{event_id}"


# ---------------------------------------------------------------- redemptions


def redemption(org_id: str, redemption_id: str) -> str:
    """A redemption's partition: its item (``#``) and, later, its reversals (``REVERSAL#…``)."""
    return f"ORG#{org_id}#REDEMPTION#{redemption_id}"


REVERSAL_PREFIX = "REVERSAL#"


def reversal(created_at: str, reversal_id: str) -> str:
    """Sort key of a reversal in its redemption's partition: chronological, after the item (``#``)."""
    return REVERSAL_PREFIX + chronological(created_at, reversal_id)


def participant_redemptions(org_id: str, participant_id: str) -> str:
    """A participant's redemptions list (sort key ``chronological``), apart from its own partition
    so that a page of it never reads the participant's balances, lots or state."""
    return f"{participant(org_id, participant_id)}#REDEMPTIONS"


# ---------------------------------------------------------------- participants, groups, state

ENROLLMENT_PREFIX = "ENROLLMENT#"
GROUP_MEMBER_PREFIX = "MEMBER#"
TAG_PREFIX, COUNTER_PREFIX, ATTRIBUTE_PREFIX = "TAG#", "COUNTER#", "ATTR#"
API_KEY_PREFIX = "APIKEY#"
TIER_PREFIX = "TIER#"


def owner_tier(program_id: str, tier_key: str) -> str:
    """Sort key of an owner's level in one tier, in the owner's partition (beside its state, so
    the event processor's one Query of the partition reads it)."""
    return f"{TIER_PREFIX}{program_id}#{tier_key}"


def owner_tier_period_end(program_id: str, tier_key: str) -> str:
    """Sort key of the owner's period-end marker for one tier (the last boundary evaluated)."""
    return f"{owner_tier(program_id, tier_key)}#PERIOD_END"


def owner_of_partition(partition: str) -> tuple[str, str]:
    """("PARTICIPANT" or "GROUP", id) of a ``participant``/``group`` partition."""
    head, kind, owner_id = partition.rsplit("#", 2)
    if not head.startswith("ORG#") or kind not in ("PARTICIPANT", "GROUP"):
        raise ValueError(f"not an owner partition: {partition}")
    return kind, owner_id


def tiers_due(hour: str, shard: int) -> str:
    """Explicit tier expiries (``expires_at``) by the hour they fall due, as lots' due index."""
    return lots_due("TIER_EXPIRY", hour, shard)


def enrollment(program_id: str) -> str:
    """Sort key of a participant's enrollment in a program, in the participant's partition."""
    return ENROLLMENT_PREFIX + program_id


def group_member(participant_id: str) -> str:
    """Sort key of a member in its group's partition."""
    return GROUP_MEMBER_PREFIX + participant_id


def membership(group_id: str) -> str:
    """Sort key of a participant's membership of a group, in the participant's partition."""
    return f"GROUP#{group_id}"


# ---------------------------------------------------------------- events, rules, broadcasts


def event(org_id: str, event_id: str) -> str:
    return f"{organization(org_id)}#EVENT#{event_id}"


def event_of(partition: str) -> tuple[str, str] | None:
    """(organization id, event id) of an event item's partition key; None for any other key."""
    parts = partition.split("#")
    if len(parts) == 4 and parts[0] == "ORG" and parts[2] == "EVENT":
        return parts[1], parts[3]
    return None


# The event lists are sparse global secondary indexes on the event item (see
# docs/storage-design.md, "Events and rules"): these are the values of their key attributes.
# They are written on every event item, so they are kept short: the organization id without
# the ``ORG#`` prefix (an index key is never a table key), and a shard.
EVENT_LIST_SHARDS = 16
EVENT_STATUS_SHARDS = 32


def events_list(org_id: str, shard: int) -> str:
    """Partition of the by-creation and by-event-time indexes: one of an organization's shards."""
    return f"{org_id}#{shard}"


def events_by_status(org_id: str, status: str, shard: int) -> str:
    """Partition of the status index (events not COMPLETED only): one status of an organization, sharded."""
    return f"{org_id}#{status}#{shard}"


def scheduled_events_due(hour: str, shard: int) -> str:
    """Follow-up events SCHEDULE_EVENT asked for, by the hour (``YYYY-MM-DDTHH``) they fall due."""
    return f"SCHEDULED#{hour}#{shard}"


def automation(org_id: str, automation_id: str) -> str:
    return f"ORG#{org_id}#AUTOMATION#{automation_id}"


def program_automations(org_id: str, program_id: str) -> str:
    """A program's automation list, by creation (06 §1.7.2)."""
    return f"{program(org_id, program_id)}#AUTOMATIONS"


def automation_name(org_id: str, program_id: str, name: str) -> str:
    """The claim of an automation name within its program (case-insensitive; hashed, names are client text)."""
    digest = hashlib.sha256(name.lower().encode()).hexdigest()
    return f"{program(org_id, program_id)}#AUTOMATIONNAME#{digest}"


# Automations due in one hour, in shards by automation id: thousands of crons on "0 9 * * *"
# fall due in the same minute and must not land on one partition.
AUTOMATIONS_DUE_SHARDS = 16


def automations_due(hour: str, shard: int) -> str:
    """Active cron / one_time automations by the hour (``YYYY-MM-DDTHH``) they fall due."""
    return lots_due("AUTOMATION", hour, shard)


AUTOMATIONS_DUE_CHECKPOINT = "AUTODUE#CHECKPOINT"  # the first hour the automation scheduler has not seen empty
# Sort key of an automation's current fan-out run, in the automation's partition
# (``storage/automation_runs.py``): the job's id, its fire instant and the pages already counted.
AUTOMATION_RUN_SK = "RUN"


# participant_state subscriptions (06 §1.8, ``storage/subscriptions.py``): one item per
# (automation, participant) in a partition of its own, so a fire pass touches no shared item.
def subscription(org_id: str, automation_id: str, participant_id: str) -> str:
    return f"{automation(org_id, automation_id)}#SUBSCRIPTION#{participant_id}"


def automation_subscriptions(org_id: str, automation_id: str) -> str:
    """An automation's subscription list, by ``next_trigger_at`` (nulls last) then participant."""
    return f"{automation(org_id, automation_id)}#SUBSCRIPTIONS"


# Subscriptions due in one hour, sharded by participant id: a birthday automation's thousands of
# 09:00 fires land in one minute and must not land on one partition.
SUBSCRIPTIONS_DUE_SHARDS = 16


def subscriptions_due(hour: str, shard: int) -> str:
    return lots_due("SUBSCRIPTION", hour, shard)


SUBSCRIPTIONS_DUE_CHECKPOINT = lots_due_checkpoint("SUBSCRIPTION")
_NULLS_LAST = "~"  # sorts after every RFC 3339 timestamp


def subscription_list_entry(next_trigger_at: str | None, participant_id: str) -> str:
    """Sort key of a subscription's list entry: by next trigger, nulls last, then participant."""
    return f"{next_trigger_at or _NULLS_LAST}#{participant_id}"


def subscription_due_entry(due_at: str, org_id: str, automation_id: str, participant_id: str) -> str:
    return due_entry(due_at, org_id, f"{automation_id}#{participant_id}")


def threshold_watches(org_id: str, participant_id: str) -> str:
    """A participant's active THRESHOLD subscriptions, one entry per automation: what a counter
    change of theirs reads (one small Query) to find the thresholds it may cross."""
    return f"{participant(org_id, participant_id)}#THRESHOLDWATCH"


def participant_of_state_history(partition_key: str) -> tuple[str, str] | None:
    """(organization id, participant id) of a participant's state history partition, else None."""
    parts = partition_key.split("#")
    if len(parts) == 5 and parts[0] == "ORG" and parts[2] == "PARTICIPANT" and parts[4] == "STATEHISTORY":
        return parts[1], parts[3]
    return None


def fanout(org_id: str, fanout_id: str) -> str:
    """A paged fan-out job over a program's enrolled participants (``storage/fanouts.py``)."""
    return f"{organization(org_id)}#FANOUT#{fanout_id}"


RULE_VERSION_PREFIX = "VERSION#"


def rule(org_id: str, rule_id: str) -> str:
    return f"ORG#{org_id}#RULE#{rule_id}"


def rule_version(version: int) -> str:
    return f"{RULE_VERSION_PREFIX}{version:06d}"


def budget(asset_id: str) -> str:
    """Sort key of a rule's budget consumption of one asset, in the rule's partition."""
    return f"BUDGET#{asset_id}"


def program_rules(org_id: str, program_id: str) -> str:
    return f"{program(org_id, program_id)}#RULES"


def rules_by_created(org_id: str) -> str:
    return f"ORG#{org_id}#RULES#BY_CREATED"


def rule_order(org_id: str, program_id: str, order: int) -> str:
    """The claim of an evaluation order within a program (one rule per order)."""
    return f"{program(org_id, program_id)}#RULEORDER#{order}"


def by_rule_order(order: int, rule_id: str) -> str:
    """Sort key of a program's rule list: evaluation order, zero-padded to sort as text."""
    return f"{order:010d}#{rule_id}"


# ---------------------------------------------------------------- webhooks


def webhook_endpoint(org_id: str, endpoint_id: str) -> str:
    return f"{organization(org_id)}#WEBHOOKENDPOINT#{endpoint_id}"


def webhook_endpoints(org_id: str) -> str:
    return f"{organization(org_id)}#WEBHOOKENDPOINTS"


def webhook_delivery(org_id: str, delivery_id: str) -> str:
    return f"{organization(org_id)}#WEBHOOKDELIVERY#{delivery_id}"


def webhook_endpoint_list(org_id: str, endpoint_id: str, kind: str, shard: int | None = None) -> str:
    """An endpoint's deliveries, unfinished deliveries or outcome counters (kinds: DELIVERIES,
    PENDING, STATS): one partition per shard."""
    base = f"{webhook_endpoint(org_id, endpoint_id)}#{kind}"
    return base if shard is None else f"{base}#{shard}"


def webhooks_due(hour: str, shard: int) -> str:
    """Deliveries by the hour (``YYYY-MM-DDTHH``) their next attempt falls due."""
    return f"WEBHOOKDUE#{hour}#{shard}"


def hour_bucket(hour: str) -> str:
    """Sort key of an hour's counters (``YYYY-MM-DDTHH``) in one of their shard partitions."""
    return hour


WEBHOOK_BODY_SK = "BODY"  # a delivery's body, beside the delivery item in its partition


def is_entity_item(item: Mapping[str, Any]) -> bool:
    """Whether an item (a stream image) is an entity's own item, not a list entry copying it."""
    return item.get("SK") == ENTITY_SK


# Request logs and usage (05 §4.7-4.8): written by the request log ingest function only.
REQUEST_LOG_SHARDS = 4  # list partitions per organization per UTC day
USAGE_SHARDS = 4  # usage counter partitions per organization


def request_log(org_id: str, log_id: str) -> str:
    """A request log with its detail (bodies): ``GET /v1/logs/{id}`` and the ingest's once-only claim."""
    return f"{organization(org_id)}#LOG#{log_id}"


def request_log_list(org_id: str, day: str, shard: int) -> str:
    """A UTC day's (``YYYY-MM-DD``) request log lines of one shard, sorted by ``chronological``."""
    return f"{organization(org_id)}#LOGS#{day}#{shard}"


def usage(org_id: str, shard: int) -> str:
    """One shard of an organization's usage counters, one item per UTC day (sort key ``YYYY-MM-DD``)."""
    return f"{organization(org_id)}#USAGE#{shard}"


def day_start(day: str) -> str:
    """A position before every list sort key of ``day`` (``YYYY-MM-DD``) and after every one of the day before."""
    return day


def day_end(day: str) -> str:
    """A position after every list sort key of ``day`` and before every one of the next day."""
    return f"{day}~"


def chronological_until(created_at: str) -> str:
    """A position after every ``chronological`` key of ``created_at`` (ids are lower-case hex and ``-``)."""
    return f"{created_at}#~"
