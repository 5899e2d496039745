"""What the lot job reads when nothing is due: it runs every minute, so an idle run must be cheap.

Without a checkpoint a run reads every shard of every hour of its two-day look-back (49 hours x
16 shards x 2 kinds = 1,568 queries); from its checkpoint it reads the current hour, and the
previous one while that may still receive entries.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from scrip.domain import clock
from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.ledger import EntityType, participant_account
from scrip.domain.lots import LotStatus
from scrip.services import balances, lot_jobs
from scrip.storage import lots as lot_store
from scrip.storage import table
from tests.integration import lot_checkpoints
from tests.integration.ledger_world import make_world


class _Counting:
    def __init__(self, client: Any, calls: Counter[str]) -> None:
        self._client, self._calls = client, calls

    def __getattr__(self, name: str) -> Any:
        self._calls[name] += 1
        return getattr(self._client, name)


def _calls_of_one_run(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    real_client = table.client
    with monkeypatch.context() as patch:
        patch.setattr(table, "client", lambda: _Counting(real_client(), calls))
        lot_jobs.run_due()
    return calls


def test_an_idle_run_reads_the_whole_look_back_without_a_checkpoint(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot_checkpoints.forget()  # other tests moved the clock back: their lots may lie behind it
    lot_jobs.run_due()  # whatever other tests left due is done: the counted run is idle
    monkeypatch.setattr(lot_store, "due_checkpoint", lambda kind: None)
    monkeypatch.setattr(lot_store, "save_due_checkpoint", lambda kind, hour: None)

    assert _calls_of_one_run(monkeypatch)["query"] == 49 * 16 * 2  # what every run cost before


def test_an_idle_run_reads_only_the_hours_since_its_checkpoint(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lot_jobs.run_due()  # the run before: it leaves the checkpoint, and nothing due behind it

    calls = _calls_of_one_run(monkeypatch)

    assert calls["query"] <= 2 * 16 * 2, calls
    assert calls["get_item"] == 2  # one checkpoint per kind
    assert sum(calls.values()) <= 2 * 16 * 2 + 2 + 2


def test_a_lot_filed_after_a_run_still_expires_from_the_checkpoint(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, program, asset, (alice,) = make_world(stack, IssuancePolicy.UNLIMITED, InventoryMode.LOT)
    owner = balances.BalanceOwner(EntityType.PARTICIPANT, alice)
    lot_jobs.run_due()
    expires_at = clock.now() + timedelta(minutes=5)
    _, (lot,) = balances.credit(
        caller, owner, program_id=program, asset_id=asset, amount=Decimal(3), expires_at=expires_at
    )

    lot_jobs.run_due(expires_at + timedelta(seconds=1))

    (found,) = [
        each for each in lot_store.read(caller.organization_id, participant_account(alice), asset) if each.id == lot.id
    ]
    assert found.status is LotStatus.EXPIRED
