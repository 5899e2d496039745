"""Set-up shared by the ledger tests: a program, assets and participants through HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.conftest import Api


@dataclass
class Ledger:
    api: Api
    program: dict[str, Any]
    points: dict[str, Any]  # SIMPLE, UNLIMITED, scale 0
    cash: dict[str, Any]  # SIMPLE, PREFUNDED, scale 2

    def participant(self, **fields: Any) -> str:
        body = {"external_id": f"p-{uuid.uuid4().hex[:10]}", **fields}
        response = self.api.post("/v1/participants", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def adjust(
        self, participant: str, amount: str, type: str = "CREDIT", asset: dict[str, Any] | None = None, **fields: Any
    ) -> Any:
        body = {
            "program_id": self.program["id"],
            "asset_id": (asset or self.points)["id"],
            "type": type,
            "amount": amount,
            "description": "test adjustment",
            **fields,
        }
        return self.api.post(f"/v1/participants/{participant}/balances/adjust", json=body)

    def operation(self, participant: str, name: str, asset: dict[str, Any] | None = None, **fields: Any) -> Any:
        body = {
            "program_id": self.program["id"],
            "asset_id": (asset or self.points)["id"],
            "description": f"test {name}",
            **fields,
        }
        return self.api.post(f"/v1/participants/{participant}/balances/{name}", json=body)

    def balance(self, participant: str, asset: dict[str, Any] | None = None) -> dict[str, str]:
        asset_id = (asset or self.points)["id"]
        rows = self.api.get(f"/v1/participants/{participant}/balances?asset_id={asset_id}").json()["data"]
        return {k: v for k, v in rows[0].items() if k != "asset_id"} if rows else {}

    def use_lot_points(self) -> Ledger:
        """Make ``points`` a LOT asset of the program (04 §8): what the lot tests redeem and reverse."""
        self.points = self.api.create_asset(
            self.program["id"], name="Lot points", symbol=f"LOT{uuid.uuid4().hex[:4]}", inventory_mode="LOT"
        )
        return self

    def lot_rows(self, participant: str) -> list[tuple[str, str, str]]:
        """(amount, remaining, status) of the participant's ``points`` lots, oldest first."""
        response = self.api.get(f"/v1/participants/{participant}/balances/lots?asset_id={self.points['id']}")
        assert response.status_code == 200, response.text
        return [(lot["amount"], lot["remaining"], lot["status"]) for lot in response.json()["data"]]

    def fund(self, amount: str) -> Any:
        return self.api.post(
            f"/v1/programs/{self.program['id']}/assets/{self.cash['id']}/fund", json={"amount": amount}
        )


def ok(response: Any) -> dict[str, Any]:
    """The body of a 200 or 201 (else the assertion shows the answer)."""
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def make_ledger(api: Api) -> Ledger:
    program = api.create_program(name="Everyday Rewards")
    points = api.create_asset(program["id"], name="Points", symbol=f"PTS{uuid.uuid4().hex[:4]}", scale=0)
    cash = api.create_asset(
        program["id"], name="Cashback", symbol=f"CASH{uuid.uuid4().hex[:4]}", issuance_policy="PREFUNDED", scale=2
    )
    return Ledger(api, program, points, cash)


def postings(api: Api, entry_id: str) -> list[tuple[str, str, str, str]]:
    """(entity_type, owner, bucket, amount) of an entry, in order."""
    entry = api.get(f"/v1/journal-entries/{entry_id}").json()
    return [
        (
            p["entity_type"],
            p["participant_id"] or p["group_id"] or p["system_account"] or p["program_id"],
            p["bucket"],
            p["amount"],
        )
        for p in entry["postings"]
    ]
