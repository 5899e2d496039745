"""Partition and sort keys of the single table (see docs/storage-design.md).

Every key of tenant data starts with ``ORG#<organization id>``: an id from another
organization can never address an item of this one, which is what makes cross-organization
reads a plain ``404``.
"""

from __future__ import annotations

import hashlib

ENTITY_SK = "#"  # the sort key of an entity's own item in its partition


def organization(org_id: str) -> str:
    return f"ORG#{org_id}"


def api_key(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def api_key_ref(key_id: str) -> str:
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


JOURNAL_LIST_SHARDS = 16


def journal_list(org_id: str, shard: int) -> str:
    return f"ORG#{org_id}#JOURNAL#LIST#{shard}"


def ledger_history(owner_partition: str) -> str:
    return f"{owner_partition}#LEDGER"


EVENTS_DUE_SHARDS = 16


def events_due(hour: str, shard: int) -> str:
    """PENDING events by the hour their attempt falls due (``YYYY-MM-DDTHH``): what the sweep reads."""
    return f"EVENTDUE#{hour}#{shard}"


EVENTS_DUE_CHECKPOINT = "EVENTDUE#CHECKPOINT"  # the oldest hour the sweep has not yet seen empty
