"""What a journal entry costs in DynamoDB (issue P8), counted with ``DynamoMeter``.

* The entry item and its organization list line are each under 1 KB: 2 write units each in the
  balance transaction (a 1.3 KB item costs 4).
* ``LedgerTotalsFunction`` applies an entry once: the list line does not match its stream
  filter, so no second, refused transaction.
* A stream batch of entries is totalled in one transaction: a marker per entry and one update
  per total shard touched, not three items per entry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from scrip.services import totals
from scrip.storage import keys, table
from scrip.storage import ledger as ledger_store
from scrip_local.metering import DynamoMeter, item_size
from scrip_local.stack import LocalStack
from tests.api.ledger_helpers import make_ledger
from tests.conftest import Api


def _rule_and_event(api: Api) -> tuple[str, str]:
    """A program with one CREDIT rule, as the event cost bench has: an event's entry carries
    an event id, a rule id and the program's name."""
    program = api.create_program(name="Write units")
    asset = api.create_asset(program["id"], symbol="WU")
    response = api.post(
        "/v1/rules",
        json={
            "program_id": program["id"],
            "name": "base earn",
            "condition": "event.type == 'purchase'",
            "actions": [{"type": "CREDIT", "asset_id": asset["id"], "amount": "event.amount * 10"}],
        },
    )
    assert response.status_code == 201, response.text
    return program["id"], asset["id"]


def _post_event(api: Api, program_id: str, key: str) -> None:
    response = api.post(
        "/v1/events",
        json={
            "program_id": program_id,
            "external_id": "write-units-member",
            "idempotency_key": key,
            "event_timestamp": "2026-03-02T18:04:00Z",
            "event_data": {"type": "purchase", "amount": 120, "mcc": "5812", "channel": "app"},
        },
    )
    assert response.status_code in (201, 202), response.text


def _mine(org: str, keys: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [key for key in keys if key[0].startswith(f"ORG#{org}#")]


def _totals_calls(meter: DynamoMeter, org: str) -> list[tuple[bool, list[tuple[str, str, int]]]]:
    """(committed, the items of ``org`` written) per totals transaction that wrote any: a drain
    also delivers what other tests' organizations left in the stream, and a batch mixes them."""
    found = []
    # Known by what they write (the entry markers), not by the function name: a test that
    # wraps the function's ``invoke`` (test_ledger_totals) hides it from the meter afterwards.
    for call in meter.select(operation="TransactWriteItems"):
        mine = _mine(org, call.written_keys)
        if any("#TOTALAPPLIED#" in pk for pk, _, _ in mine):
            found.append((call.ok, mine))
    return found


def _journal_writes(meter: DynamoMeter, org: str) -> list[tuple[str, str, int]]:
    """(PK, SK, units) of the journal items the event processor's transactions wrote for ``org``."""
    return [
        key
        for call in meter.select("EventProcessorFunction", "TransactWriteItems")
        for key in _mine(org, call.written_keys)
        if "#JOURNAL#" in key[0]
    ]


def test_an_event_credits_entry_and_list_line_cost_two_units_each(api: Api, stack: LocalStack) -> None:
    program_id, _ = _rule_and_event(api)
    _post_event(api, program_id, "warm")  # the participant exists before the measured event
    stack.drain()
    with DynamoMeter() as meter:
        _post_event(api, program_id, "measured")
        stack.drain()
    written = _journal_writes(meter, api.organization_id)
    assert len(written) == 2, written  # the entry and its list line
    assert all(units == 2 for _, _, units in written), written
    # every credit writes its line to one of the list's shards: at 1,000 WU/s a key, the list
    # must not cap an organization below 10,000 entries/s
    line_units = next(
        units for pk, _, units in written if pk.startswith(keys.journal_list(api.organization_id, 0)[:-1])
    )
    assert 1000 * keys.JOURNAL_LIST_SHARDS / line_units >= 10_000
    # and what the list shows is the whole entry, read back from the entry item
    page = api.get(f"/v1/journal-entries?program_id={program_id}&limit=1").json()["data"]
    assert page and page[0]["rule_id"] and page[0]["program_name"] == "Write units"
    assert len(page[0]["postings"]) == 2


def test_one_credit_runs_the_totals_transaction_once(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    alice = ledger.participant()
    stack.drain()
    with DynamoMeter() as meter:
        assert ledger.adjust(alice, "30").status_code == 200
        stack.drain()
    calls = _totals_calls(meter, api.organization_id)
    assert len(calls) == 1 and calls[0][0], calls
    assert totals.system_total(api.organization_id, "SYSTEM_ISSUANCE", ledger.points["id"]) == Decimal(-30)


def test_a_stream_batch_of_entries_is_totalled_in_one_transaction(api: Api, stack: LocalStack) -> None:
    ledger = make_ledger(api)
    people = [ledger.participant() for _ in range(5)]
    stack.drain()
    for person in people:
        assert ledger.adjust(person, "10").status_code == 200
    with DynamoMeter() as meter:
        stack.drain()  # the five entries reach the totals function in one batch
    calls = _totals_calls(meter, api.organization_id)
    assert len(calls) == 1 and calls[0][0], calls
    # five markers, one org-wide and one per-program total shard: 7 items, not 15
    ((_, written),) = calls
    totalled = [key for key in written if "#RPT" not in key[0]]
    assert len(totalled) == 7 and sum(units for _, _, units in totalled) == 14, written
    # and the report aggregates: a row per level (month, day, hour, minute) and the minute's
    # count, shared by the five (twice that if they straddle a minute), under 1 KB each
    report = [key for key in written if "#RPT" in key[0]]
    assert 5 <= len(report) <= 10 and all(units == 2 for _, _, units in report), report
    org, points = api.organization_id, ledger.points["id"]
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points) == Decimal(-50)
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points, ledger.program["id"]) == Decimal(-50)


def test_entry_item_sizes_stay_under_one_kilobyte(api: Api, stack: LocalStack) -> None:
    """The sizes themselves, for a wallet-drawn credit (three postings) too."""
    ledger = make_ledger(api)
    alice = ledger.participant()
    assert ledger.fund("500").status_code == 200
    stack.drain()
    with DynamoMeter() as meter:
        assert ledger.adjust(alice, "12.50", asset=ledger.cash).status_code == 200
    sizes = _sizes(meter)
    assert sizes and all(size <= 1024 for size in sizes.values()), sizes


def _sizes(meter: DynamoMeter) -> dict[str, int]:
    found: dict[str, int] = {}
    for call in meter.select(operation="TransactWriteItems"):
        for pk, sk, _ in call.written_keys:
            if "#JOURNAL#" in pk:
                got: Any = table.client().get_item(TableName=table.table_name(), Key={"PK": pk, "SK": sk})
                found[pk] = item_size(got["Item"])
    return found


def test_a_batch_partly_applied_before_applies_the_rest_once(api: Api, stack: LocalStack) -> None:
    """A redelivered batch whose first entries were applied: the batch's transaction is
    refused, then each entry goes alone and only the new ones count."""
    ledger = make_ledger(api)
    alice = ledger.participant()
    stack.drain()
    ids = [ledger.adjust(alice, str(amount)).json()["journal_entry_id"] for amount in (1, 2, 3, 4)]
    org, points = api.organization_id, ledger.points["id"]

    def image(entry_id: str) -> dict[str, Any]:
        key = {"PK": keys.journal_entry(org, entry_id), "SK": keys.ENTITY_SK}
        return dict(table.client().get_item(TableName=table.table_name(), Key=key)["Item"])

    images = [image(entry_id) for entry_id in ids]
    assert totals.apply_committed_entries(images[:2]) == 2
    with DynamoMeter() as meter:
        assert totals.apply_committed_entries(images) == 2
    calls = meter.select(operation="TransactWriteItems", this_thread=True)
    assert [c.ok for c in calls] == [False, False, False, True, True]  # the batch, then one by one
    assert totals.apply_committed_entries(images) == 0
    stack.drain()  # the stream brings the four again: nothing changes
    assert totals.system_total(org, "SYSTEM_ISSUANCE", points) == Decimal(-10)


def test_entries_stored_before_the_compact_layout_still_read() -> None:
    posting = {
        "id": "p1",
        "amount": Decimal(5),
        "asset_id": "a1",
        "asset_symbol": "PTS",
        "bucket": "AVAILABLE",
        "entity_type": "PARTICIPANT",
        "owner_id": "u1",
        "account_program_id": None,
        "program_id": "g1",
    }
    item = {
        "id": "e1",
        "organization_id": "o1",
        "action_type": "CREDIT",
        "program_id": "g1",
        "created_at": "2026-01-02T03:04:05.000000Z",
        "prev_hash": "0" * 64,
        "entry_hash": "f" * 64,
        "scale": Decimal(0),
        "postings": [posting],
    }
    entry = ledger_store.entry_from_item(item)
    (read,) = entry.postings
    assert (read.id, read.asset_id, read.asset_symbol, read.program_id, read.amount) == ("p1", "a1", "PTS", "g1", 5)
