"""BROADCAST requests, written in the source event's transaction and fanned out from the stream.

``ORG#o#BROADCAST#<id>``: the stream's INSERT of this item starts the fan-out, so a broadcast
exists only if its source event committed (03 §2.5: side effects after commit).
"""

from __future__ import annotations

from typing import Any

from scrip.storage import keys, transactions


def record(
    org_id: str,
    *,
    broadcast_id: str,
    program_id: str,
    source_event_id: str,
    key_prefix: str,
    event_data: dict[str, Any],
) -> None:
    transactions.write(
        [
            transactions.put(
                {
                    "PK": keys.broadcast(org_id, broadcast_id),
                    "SK": keys.ENTITY_SK,
                    "entity": "BROADCAST",
                    "organization_id": org_id,
                    "program_id": program_id,
                    "source_event_id": source_event_id,
                    "key_prefix": key_prefix,
                    "event_data": event_data,
                }
            )
        ]
    )
