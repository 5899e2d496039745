"""The lot job's checkpoints, for tests that move the application clock back.

The job's checkpoint passes an hour once a run has emptied it, on the premise that nobody files
a due entry under an hour already over (``domain/due_hours.py``): production's clock only moves
forward. A test that files lots with the clock moved back files them under hours that the
earlier tests' runs may have passed already (from a quarter past any hour, they have passed the
hour before): it forgets the checkpoints first, so its next run reads the whole look-back, as a
first run does.
"""

from __future__ import annotations

from scrip.storage import keys, table

KINDS = ("MATURITY", "EXPIRY")


def forget() -> None:
    for kind in KINDS:
        table.client().delete_item(
            TableName=table.table_name(), Key={"PK": keys.lots_due_checkpoint(kind), "SK": keys.ENTITY_SK}
        )
