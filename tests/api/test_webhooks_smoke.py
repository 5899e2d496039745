"""A balance change reaches a receiver on localhost, signed so that `standardwebhooks` verifies it."""

from __future__ import annotations

import json

from standardwebhooks.webhooks import Webhook

from scrip_local.stack import LocalStack
from tests.api.webhook_receiver import receiver
from tests.conftest import Api


def test_a_credit_is_delivered_and_verifies(api: Api, stack: LocalStack) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], symbol="WHK")
    member = api.post("/v1/participants", json={"external_id": "hook-1"}).json()["id"]
    with receiver() as hooks:
        created = api.post("/v1/webhook-endpoints", json={"url": hooks.url, "enabled_events": ["balance.credited"]})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        credit = api.post(
            f"/v1/participants/{member}/balances/adjust",
            json={
                "program_id": program["id"],
                "asset_id": asset["id"],
                "type": "CREDIT",
                "amount": "5",
                "description": "x",
            },
        )
        assert credit.status_code == 200, credit.text
        stack.drain()
        assert len(hooks.received) == 1
        got = hooks.received[0]
        payload = Webhook(secret).verify(got.body, got.headers)
        assert payload["type"] == "balance.credited"
        assert payload["data"]["participant_id"] == member
        assert payload["data"]["amount"] == "5"
        assert got.headers["webhook-id"] == payload["id"]
        deliveries = api.get(f"/v1/webhook-endpoints/{created.json()['id']}/deliveries").json()["data"]
        assert [d["status"] for d in deliveries] == ["DELIVERED"]
        assert json.loads(got.body)["organization_id"] == api.organization_id
