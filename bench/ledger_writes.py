"""Write cost of each ledger operation, and how writes spread over partitions.

    make bench-ledger        # or: python bench/ledger_writes.py

1. Write units per operation, counted from the requests the code sends (DynamoDB's rules: one
   unit per KB of item, rounded up; twice that inside a transaction). Later changes compare
   against `bench/results/ledger_writes.md`.
2. Crediting 1,000 different participants of one program (UNLIMITED and PREFUNDED): the largest
   share of all writes that any single partition key takes. Nothing is written by every
   operation: system accounts have no item, a PREFUNDED wallet is split into sub-wallets, and
   the journal list is sharded.
"""

from __future__ import annotations

import math
import os
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scrip"), str(ROOT / "local")]
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from scrip_local.stack import LocalStack  # noqa: E402


def _size(value: Any) -> int:
    """Approximate DynamoDB attribute value size in bytes."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (int, Decimal)):
        digits = len(str(abs(value)).replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if isinstance(value, (list, tuple, set)):
        return 3 + sum(_size(v) + 1 for v in value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + _size(v) + 1 for k, v in value.items())
    return len(str(value).encode())


def _item_units(item: dict[str, Any]) -> int:
    size = sum(len(name.encode()) + _size(value) for name, value in item.items())
    return max(1, math.ceil(size / 1024))


class Meter:
    """Wraps the DynamoDB client and records what each write request would cost."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.units = 0
        self.items = 0
        self.partitions: Counter[str] = Counter()

    def reset(self) -> None:
        self.units, self.items = 0, 0
        self.partitions.clear()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            response = method(*args, **kwargs)  # count only what committed
            if name == "transact_write_items":
                for entry in kwargs["TransactItems"]:
                    ((kind, params),) = entry.items()
                    key = params.get("Item") or params.get("Key")
                    self.partitions[str(key["PK"])] += 1
                    self.items += 1
                    if kind != "ConditionCheck":
                        item = params.get("Item") or params["Key"]
                        self.units += 2 * _item_units(item)
            elif name in ("put_item", "update_item", "delete_item"):
                item = kwargs.get("Item") or kwargs["Key"]
                self.partitions[str(item["PK"])] += 1
                self.items += 1
                self.units += _item_units(item)
            return response

        return call


def main() -> int:
    report = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the functions' EMF metric lines
    stack = LocalStack(aws_port=None)
    from scrip.domain.assets import InventoryMode, IssuancePolicy
    from scrip.domain.idempotency import StoredResponse
    from scrip.domain.ledger import ActionType, Bucket, EntityType
    from scrip.domain.organizations import Caller
    from scrip.services import assets, balances, participants, programs
    from scrip.storage import table

    meter = Meter(table.client())
    table.client = lambda: meter  # type: ignore[assignment]
    organization_id, _, _ = stack.bootstrap_organization(None)
    caller = Caller(organization_id, "bench")
    program = programs.create_program(caller, name="Bench")
    unlimited = assets.create_asset(
        caller,
        program_id=program.id,
        name="Points",
        symbol="PTS",
        inventory_mode=InventoryMode.SIMPLE,
        issuance_policy=IssuancePolicy.UNLIMITED,
        scale=0,
    )
    prefunded = assets.create_asset(
        caller,
        program_id=program.id,
        name="Cash",
        symbol="CASH",
        inventory_mode=InventoryMode.SIMPLE,
        issuance_policy=IssuancePolicy.PREFUNDED,
        scale=2,
    )
    alice = participants.upsert_participant(caller, external_id="alice")[0].participant.id
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)

    def adjust(asset: Any, kind: str) -> Any:
        return balances.adjust(
            caller, owner, program_id=program.id, asset_id=asset.id, type=kind, amount=Decimal(5), description="bench"
        )

    def operation(action: ActionType, **extra: Any) -> Any:
        return balances.balance_operation(
            caller,
            owner,
            action,
            program_id=program.id,
            asset_id=unlimited.id,
            description="bench",
            amount=Decimal(5),
            **extra,
        )

    measured = [
        ("create program", lambda: programs.create_program(caller, name="Another")),
        ("create participant", lambda: participants.upsert_participant(caller, external_id=f"x{uuid.uuid4().hex}")),
        (
            "fund (PREFUNDED)",
            lambda: balances.fund_or_burn(
                caller, program.id, prefunded.id, burn=False, amount=Decimal(1000), description=None
            ),
        ),
        ("adjust CREDIT (UNLIMITED)", lambda: adjust(unlimited, "CREDIT")),
        ("adjust CREDIT (PREFUNDED)", lambda: adjust(prefunded, "CREDIT")),
        ("adjust DEBIT (UNLIMITED)", lambda: adjust(unlimited, "DEBIT")),
        ("hold", lambda: operation(ActionType.HOLD)),
        (
            "hold with idempotency_key",
            lambda: balances.idempotent_balance_operation(
                caller,
                owner,
                ActionType.HOLD,
                idempotency_key=f"k{uuid.uuid4().hex}",
                request={"amount": "5"},
                render=lambda result: StoredResponse(200, {"journal_entry_id": result.journal_entry_id}),
                program_id=program.id,
                asset_id=unlimited.id,
                description="bench",
                amount=Decimal(5),
            ),
        ),
        ("release", lambda: operation(ActionType.RELEASE)),
        ("forfeit", lambda: operation(ActionType.FORFEIT, bucket=Bucket.AVAILABLE)),
        (
            "burn (PREFUNDED)",
            lambda: balances.fund_or_burn(
                caller, program.id, prefunded.id, burn=True, amount=Decimal(1), description=None
            ),
        ),
    ]
    balances.adjust(
        caller,
        owner,
        program_id=program.id,
        asset_id=unlimited.id,
        type="CREDIT",
        amount=Decimal(100),
        description="seed",
    )
    rows = []
    for name, call in measured:
        meter.reset()
        call()
        rows.append((name, meter.items, meter.units))

    spread = []
    for policy, asset in (("UNLIMITED", unlimited), ("PREFUNDED", prefunded)):
        people = [
            participants.upsert_participant(caller, external_id=f"{policy}-{i}")[0].participant.id for i in range(1000)
        ]
        if policy == "PREFUNDED":
            balances.fund_or_burn(caller, program.id, asset.id, burn=False, amount=Decimal(100000), description=None)
        meter.reset()
        started = time.perf_counter()
        for person in people:
            balances.adjust(
                caller,
                balances.BalanceOwner(EntityType.PARTICIPANT, person),
                program_id=program.id,
                asset_id=asset.id,
                type="CREDIT",
                amount=Decimal(1),
                description="spread",
            )
        elapsed = time.perf_counter() - started
        key, hottest = meter.partitions.most_common(1)[0]
        total = sum(meter.partitions.values())
        spread.append((policy, total, hottest, hottest / total, key.split("#")[2:], elapsed))
    stack.stop()

    lines = [
        "# Ledger writes",
        "",
        "Write units per operation, counted from the requests the code sends (1 unit per KB, x2 in a transaction).",
        "",
        "| operation | items written | write units |",
        "|---|---:|---:|",
        *[f"| {name} | {items} | {units} |" for name, items, units in rows],
        "",
        "Crediting 1,000 different participants of one program (one `adjust` each):",
        "",
        "| asset | item writes | hottest partition's writes | its share | hottest partition | seconds (emulator) |",
        "|---|---:|---:|---:|---|---:|",
        *[f"| {p} | {t} | {h} | {s:.1%} | `{'#'.join(k)}` | {e:.1f} |" for p, t, h, s, k, e in spread],
    ]
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results" / "ledger_writes.md").write_text(text)
    sys.stdout = report
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
