"""What tiers add to an event (02 §4.7.3 ACTIVITY_REFRESH, services/tier_events.py).

An event of a participant holding an ACTIVITY_REFRESH level writes its refresh at most once
an hour (three items: the level, its due entry moved), and nothing at all the rest of that hour.
"""

from __future__ import annotations

from typing import Any

import pytest

from scrip.domain.assets import InventoryMode
from scrip.services import rules as rule_service
from scrip.services import tiers as tier_service
from tests.api.test_tier_rules import REFRESHED
from tests.integration.test_processor_round_trips import CREDIT, _ingest, _process, _process_recording, _world


def test_an_activity_refresh_is_written_once_an_hour(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    visits = {"type": "COUNTER", "key": "visits", "value": "1"}
    caller, program, _, participant = _world(stack, InventoryMode.SIMPLE, [[CREDIT], [visits]])
    org = caller.organization_id
    _process(org, _ingest(org, program, participant))  # enrolls

    def units() -> float:
        return sum(c.write_units for c in _process(org, _ingest(org, program, participant)))

    without_tiers = units()
    tier_service.create_tier(caller, program, REFRESHED)
    assert units() > without_tiers  # the upgrade: level, due entry, history line, tier check
    assert units() == without_tiers  # the same hour: the rounded expiry is already there
    monkeypatch.setenv("SCRIP_CLOCK_OFFSET_SECONDS", str(2 * 3600))
    assert units() == without_tiers + 6  # the refresh: the level and its due entry, 2 units each
    assert units() == without_tiers


def test_tiers_cost_one_query_per_event_whatever_the_rules_do_with_them(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tier = {"type": "SET_TIER", "tier": "status", "level": "member"}
    visits = {"type": "COUNTER", "key": "visits", "value": "1"}
    caller, program, _, participant = _world(stack, InventoryMode.SIMPLE, [[CREDIT]])
    org = caller.organization_id
    _process(org, _ingest(org, program, participant))  # enrolls
    baseline = len(_process(org, _ingest(org, program, participant)))
    tier_service.create_tier(caller, program, REFRESHED)
    for actions in ([set_tier], [visits]):
        rule_service.create_rule(caller, program_id=program, name="tiers", condition="true", actions=actions)

    calls, requests = _process_recording(org, _ingest(org, program, participant), monkeypatch)

    assert len(calls) == baseline  # the tier partition's Query is already in the baseline
    assert not {key: n for key, n in requests.items.items() if n > 1}
    assert not {pk: n for pk, n in requests.partitions.items() if n > 1}
    assert sum(1 for pk in requests.partitions if pk.endswith("#TIERS")) == 1
