"""Timestamps are accepted only when they can be stored and read back (issue P6).

A year-579 `event_timestamp` was accepted, stored as ``579-02-03T...`` and made every later
read of the event, and of the organization's event list, answer 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from scrip.storage import table
from scrip_local.stack import LocalStack
from tests.api.events_helpers import send
from tests.conftest import Api


def _event(program_id: str, timestamp: str, key: str) -> dict[str, Any]:
    return {
        "program_id": program_id,
        "idempotency_key": key,
        "external_id": "cust_ts",
        "event_timestamp": timestamp,
        "event_data": {},
    }


@pytest.mark.parametrize(
    "timestamp",
    [
        "0579-02-03T12:20:16.8Z",  # a four-digit year, but before the documented bounds
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # not even representable in UTC
        "579-02-03T12:20:16Z",
        "2025-03-02T18:04:00",  # no offset
        "2025-03-02",
    ],
)
def test_a_timestamp_out_of_bounds_or_shape_is_refused(api: Api, timestamp: str) -> None:
    program = api.create_program()
    response = api.post("/v1/events", json=_event(program["id"], timestamp, "k"))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert "between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z" in body["message"]

    batch = api.post("/v1/events/batch", json={"events": [_event(program["id"], timestamp, "k")]})
    assert batch.status_code == 202, batch.text
    (result,) = batch.json()["results"]
    assert result["status"] == "error" and "between 1970-01-01T00:00:00Z" in result["error"]


def test_the_bounds_are_accepted_and_read_back_as_sent(api: Api) -> None:
    program = api.create_program()
    first = send(api, program["id"], {}, timestamp="1970-01-01T00:00:00Z")
    last = send(api, program["id"], {}, timestamp="9999-12-31T23:59:59Z")

    assert api.get(f"/v1/events/{first['id']}").json()["event_timestamp"] == "1970-01-01T00:00:00.000000Z"
    assert api.get(f"/v1/events/{last['id']}").json()["event_timestamp"] == "9999-12-31T23:59:59.000000Z"
    listed = api.get(f"/v1/events?program_id={program['id']}&sort_by=event_timestamp&sort_dir=asc")
    assert listed.status_code == 200, listed.text
    assert [e["id"] for e in listed.json()["data"]] == [first["id"], last["id"]]


def test_the_openapi_text_states_the_bounds(api: Api) -> None:
    document = api.get("/v1/openapi.json", auth=False).json()
    assert "9999-12-31T23:59:59Z" in str(document["components"]["schemas"])


def test_an_event_stored_with_a_short_year_reads_back(api: Api, stack: LocalStack) -> None:
    """Events stored before years were padded keep answering 200, in full and in lists."""
    program = api.create_program()
    event = send(api, program["id"], {})
    client = table.client()
    client.update_item(
        TableName=table.table_name(),
        Key={"PK": f"ORG#{api.organization_id}#EVENT#{event['id']}", "SK": "#"},
        # The event time is stored as the event-time index's sort key, ``<event_timestamp>#<id>``.
        UpdateExpression="SET gt = :odd",
        ExpressionAttributeValues={":odd": f"579-02-03T12:20:16.800000+00:00#{event['id']}"},
    )

    single = api.get(f"/v1/events/{event['id']}")
    assert single.status_code == 200, single.text
    assert single.json()["event_timestamp"] == "0579-02-03T12:20:16.800000Z"
    listed = api.get(f"/v1/events?program_id={program['id']}")
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"][0]["event_timestamp"] == "0579-02-03T12:20:16.800000Z"


@pytest.mark.parametrize(
    "query",
    ["from=0001-01-01T00:00:00%2B01:00", "event_to=9999-12-31T23:59:59-05:00", "event_from=0579-01-01T00:00:00Z"],
)
def test_list_filters_at_the_edges_of_time_answer(api: Api, query: str) -> None:
    response = api.get(f"/v1/events?{query}")
    assert response.status_code in (200, 400), response.text


def test_a_lot_expiry_out_of_bounds_is_refused_at_validation(api: Api) -> None:
    program = api.create_program()
    asset = api.create_asset(program["id"], symbol="TSLOT", inventory_mode="LOT")
    action = {"type": "CREDIT", "asset_id": asset["id"], "amount": "1", "expires_at": "0579-01-01T00:00:00Z"}
    response = api.post(
        "/v1/rules", json={"program_id": program["id"], "name": "r", "condition": "true", "actions": [action]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
