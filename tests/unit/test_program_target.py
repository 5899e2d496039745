"""The account a program's redemption target credits (05 §2.1, decision 17)."""

from __future__ import annotations

from datetime import UTC, datetime

from scrip.domain import programs as program_rules
from scrip.domain.ledger import EntityType, SystemAccount, group_account, participant_account, system_account

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENTITY = "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"


def _program() -> program_rules.Program:
    return program_rules.new_program(
        organization_id="org",
        program_id="prog",
        name="Coffee Club",
        description=None,
        key=None,
        on_unknown_participant=program_rules.OnUnknownParticipant.CREATE,
        now=NOW,
    )


def _targeted(changes: dict[str, str], entity_type: EntityType | None = None) -> program_rules.Program:
    return program_rules.apply_update(_program(), changes, NOW, target_entity_type=entity_type)


def test_system_targets() -> None:
    assert _program().redemption_target_account() == system_account(SystemAccount.SYSTEM_REDEMPTION)
    breakage = _targeted({"redemption_target_type": "SYSTEM_BREAKAGE"})
    assert breakage.redemption_target_account() == system_account(SystemAccount.SYSTEM_BREAKAGE)


def test_ledger_entity_targets_a_participant_or_the_groups_balance_in_this_program() -> None:
    body = {"redemption_target_type": "LEDGER_ENTITY", "redemption_target_entity_id": ENTITY}
    participant = _targeted(body, EntityType.PARTICIPANT)
    assert participant.redemption_target_account() == participant_account(ENTITY)
    group = _targeted(body, EntityType.GROUP)
    assert group.redemption_target_account() == group_account(ENTITY, "prog")


def test_leaving_ledger_entity_forgets_the_entity() -> None:
    body = {"redemption_target_type": "LEDGER_ENTITY", "redemption_target_entity_id": ENTITY}
    group = _targeted(body, EntityType.GROUP)
    cleared = program_rules.apply_update(group, {"redemption_target_type": "SYSTEM_REDEMPTION"}, NOW)
    assert cleared.redemption_target_entity_id is None and cleared.redemption_target_entity_type is None
