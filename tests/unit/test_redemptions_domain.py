"""The pure part of redemptions (05 §2.1, §2.2): the captured target's account, the status a
reversed amount gives, and the record a redemption round-trips through storage as."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scrip.domain.ledger import EntityType, SystemAccount, group_account, participant_account, system_account
from scrip.domain.programs import OnUnknownParticipant, RedemptionTargetType, new_program
from scrip.domain.redemptions import (
    ConsumedLot,
    RedemptionStatus,
    RedemptionTarget,
    new_raw_redemption,
    status_for,
    target_of,
)
from scrip.storage import redemptions as redemption_store

NOW = datetime(2026, 3, 2, 14, 5, 11, tzinfo=UTC)


def test_system_targets_post_to_their_system_account() -> None:
    assert RedemptionTarget(RedemptionTargetType.SYSTEM_REDEMPTION).account("p") == system_account(
        SystemAccount.SYSTEM_REDEMPTION
    )
    assert RedemptionTarget(RedemptionTargetType.SYSTEM_BREAKAGE).account("p") == system_account(
        SystemAccount.SYSTEM_BREAKAGE
    )


def test_a_ledger_entity_is_a_participant_or_the_groups_account_in_the_redemptions_program() -> None:
    participant = RedemptionTarget(RedemptionTargetType.LEDGER_ENTITY, "x", EntityType.PARTICIPANT)
    group = RedemptionTarget(RedemptionTargetType.LEDGER_ENTITY, "g", EntityType.GROUP)
    assert participant.account("p") == participant_account("x")
    assert group.account("p") == group_account("g", "p")


def test_the_program_target_is_captured_with_its_entity_only_for_ledger_entity() -> None:
    program = new_program(
        organization_id="o",
        program_id="p",
        name="n",
        description=None,
        key=None,
        on_unknown_participant=OnUnknownParticipant.CREATE,
        now=NOW,
    )
    assert target_of(program, None) == RedemptionTarget(RedemptionTargetType.SYSTEM_REDEMPTION)
    ledger_entity = replace(
        program, redemption_target_type=RedemptionTargetType.LEDGER_ENTITY, redemption_target_entity_id="g"
    )
    group_target = RedemptionTarget(RedemptionTargetType.LEDGER_ENTITY, "g", EntityType.GROUP)
    assert target_of(ledger_entity, EntityType.GROUP) == group_target  # the type as looked up
    recorded = replace(ledger_entity, redemption_target_entity_type=EntityType.GROUP)
    assert target_of(recorded) == group_target  # the type the program recorded
    assert target_of(recorded, EntityType.PARTICIPANT) == group_target  # which wins


@pytest.mark.parametrize(
    ("reversed_amount", "status"),
    [
        ("0", RedemptionStatus.COMPLETED),
        ("0.01", RedemptionStatus.PARTIALLY_REVERSED),
        ("99.99", RedemptionStatus.PARTIALLY_REVERSED),
        ("100", RedemptionStatus.FULLY_REVERSED),
    ],
)
def test_status_follows_the_reversed_amount(reversed_amount: str, status: RedemptionStatus) -> None:
    assert status_for(Decimal(100), Decimal(reversed_amount)) is status


def test_a_redemption_round_trips_through_its_item_with_its_consumed_lots() -> None:
    redemption = new_raw_redemption(
        organization_id="o",
        redemption_id="r",
        participant_id="x",
        program_id="p",
        asset_id="a",
        scale=2,
        amount=Decimal("12.50"),
        description="Statement credit",
        journal_entry_id="j",
        target=RedemptionTarget(RedemptionTargetType.LEDGER_ENTITY, "g", EntityType.GROUP),
        consumed_lots=(ConsumedLot("l1", NOW, Decimal("10")), ConsumedLot("l2", NOW, Decimal("2.50"))),
        idempotency_key="k",
        request_fingerprint="f",
        now=NOW,
    )
    (item_write, list_write) = redemption_store.create_writes(redemption)
    item = item_write.params["Item"]
    assert redemption_store.is_redemption_item(item)
    assert redemption_store.from_item(item) == redemption
    listed = list_write.params["Item"]
    assert not redemption_store.is_redemption_item(listed)  # never notifies
    assert redemption_store.from_item(listed) == replace(
        redemption, consumed_lots=(), idempotency_key=None, request_fingerprint=None
    )
    assert redemption.remaining_amount == Decimal("12.50")
