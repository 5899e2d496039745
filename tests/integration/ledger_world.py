"""A fresh organization with a program, one asset and participants, built through the services."""

from __future__ import annotations

import uuid
from typing import Any

from scrip.domain.assets import InventoryMode, IssuancePolicy
from scrip.domain.organizations import Caller
from scrip.services import assets as asset_service
from scrip.services import participants as participant_service
from scrip.services import programs as program_service


def make_world(
    stack: Any, policy: IssuancePolicy, mode: InventoryMode, *, participants: int = 1, scale: int = 0
) -> tuple[Caller, str, str, list[str]]:
    organization_id, _, _ = stack.bootstrap_organization(None)
    caller = Caller(organization_id, "test")
    program = program_service.create_program(caller, name="World")
    asset = asset_service.create_asset(
        caller,
        program_id=program.id,
        name="Points",
        symbol=f"W{uuid.uuid4().hex[:6]}",
        inventory_mode=mode,
        issuance_policy=policy,
        scale=scale,
    )
    people = [
        participant_service.upsert_participant(caller, external_id=f"p{i}")[0].participant.id
        for i in range(participants)
    ]
    return caller, program.id, asset.id, people


def make_assets(
    stack: Any, kinds: list[tuple[IssuancePolicy, InventoryMode]], *, participants: int, scale: int = 2
) -> tuple[Caller, str, list[str], list[str]]:
    """One program holding an asset of each (policy, mode) in ``kinds``, and the participants."""
    organization_id, _, _ = stack.bootstrap_organization(None)
    caller = Caller(organization_id, "test")
    program = program_service.create_program(caller, name="World")
    assets = [
        asset_service.create_asset(
            caller,
            program_id=program.id,
            name=f"{policy.value} {mode.value}",
            symbol=f"W{uuid.uuid4().hex[:6]}",
            inventory_mode=mode,
            issuance_policy=policy,
            scale=scale,
        ).id
        for policy, mode in kinds
    ]
    people = [
        participant_service.upsert_participant(caller, external_id=f"p{i}")[0].participant.id
        for i in range(participants)
    ]
    return caller, program.id, assets, people
