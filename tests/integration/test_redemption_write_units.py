"""What an amount redemption costs in DynamoDB (05 §2.4), counted with ``DynamoMeter``: one
transaction of seven items under 1 KB each with an idempotency key (entry, its list line, the
balance, its ledger line, the redemption, its list entry, the key's record), 14 write units,
and nothing written on a program- or organization-wide key but one journal list shard."""

from __future__ import annotations

from scrip_local.metering import DynamoMeter
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import make_ledger
from tests.conftest import Api


def test_an_amount_redemption_is_one_transaction_of_seven_small_items(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant(program_id=ledger.program["id"])  # enrolled: no enrollment after the commit
    assert ledger.adjust(alice, "100").status_code == 200
    stack.drain()
    body = {
        "program_id": ledger.program["id"],
        "asset_id": ledger.points["id"],
        "amount": "40",
        "description": "Statement credit, invoice INV-2207",
        "idempotency_key": "stmt-credit-INV-2207",
    }
    with DynamoMeter() as meter:
        response = api.post(f"/v1/participants/{alice}/redemptions", json=body)
    assert response.status_code == 201, response.text
    function = "ParticipantsIdRedemptionsPostFunction"
    (transaction,) = meter.select(function, "TransactWriteItems")
    assert [call.operation for call in meter.select(function) if call.write_units] == ["TransactWriteItems"]
    written = [key for key in transaction.written_keys if key[0].startswith(f"ORG#{api.organization_id}#")]
    assert len(written) == 7 and all(units == 2 for _, _, units in written), written
    shared = [pk for pk, _, _ in written if f"#PARTICIPANT#{alice}" not in pk and "#JOURNAL#LIST#" not in pk]
    # the rest are fresh: the entry, the redemption, the key's record
    assert sorted(pk.split("#")[2] for pk in shared) == ["JOURNAL", "PROGRAM", "REDEMPTION"], shared
