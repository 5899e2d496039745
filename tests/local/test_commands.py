"""The README's commands as a user runs them: the local stack server, the operator command
and the ``sam local invoke`` counterpart, each in its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = f"{ROOT / 'layers' / 'scrip'}{os.pathsep}{ROOT / 'local'}"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    port, aws_port = _free_port(), _free_port()
    key = "sk_test_readme_quickstart_key"
    process = subprocess.Popen(
        [sys.executable, "-m", "scrip_local", "serve", "--port", str(port), "--aws-port", str(aws_port)],
        env=_environment(SCRIP_LOCAL_API_KEY=key),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/_local/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(process.stdout.read() if process.stdout else "local stack did not start")
    yield {"base": base, "key": key, "aws": f"http://127.0.0.1:{aws_port}"}
    process.terminate()
    process.wait(timeout=20)


def _admin(served: dict[str, str], *arguments: str) -> dict:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "scrip_admin.py"), "--endpoint-url", served["aws"], *arguments],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_served_stack_answers_the_configured_key(served: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {served['key']}"}
    created = requests.post(f"{served['base']}/v1/programs", json={"name": "Coffee Club"}, headers=headers, timeout=10)
    assert created.status_code == 201
    assert (
        requests.get(f"{served['base']}/v1/programs", headers=headers, timeout=10).json()["data"][0]["name"]
        == "Coffee Club"
    )


def test_operator_command_creates_organizations_and_revokes_keys(served: dict[str, str]) -> None:
    created = _admin(served, "create-organization", "--name", "Acme")
    key = created["api_key"]
    assert key.startswith("sk_")
    headers = {"X-API-Key": key}
    assert requests.get(f"{served['base']}/v1/programs", headers=headers, timeout=10).json()["data"] == []

    second = _admin(served, "issue-key", "--organization-id", created["organization_id"], "--name", "ci")
    listed = _admin(served, "list-keys", "--organization-id", created["organization_id"])
    assert {k["id"] for k in listed["keys"]} == {created["api_key_id"], second["api_key_id"]}
    assert key not in json.dumps(listed) and second["api_key"] not in json.dumps(listed)

    _admin(served, "revoke-key", "--organization-id", created["organization_id"], "--key-id", created["api_key_id"])
    assert requests.get(f"{served['base']}/v1/programs", headers=headers, timeout=10).status_code == 401
    assert (
        requests.get(f"{served['base']}/v1/programs", headers={"X-API-Key": second["api_key"]}, timeout=10).status_code
        == 200
    )


def test_invoke_runs_the_event_processor_with_a_sample_sqs_message() -> None:
    """The sample names an event nobody stored: nothing to process, and no record failure."""
    result = subprocess.run(
        [sys.executable, "-m", "scrip_local", "invoke", "EventProcessorFunction", "-e", "events/queues/events.json"],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout[result.stdout.index("{\n") :]) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("function", "event", "status"),
    [
        ("ProgramsPostFunction", "events/programs/post.json", 201),
        ("ProgramsGetFunction", "events/programs/get.json", 200),
        ("ProgramsIdGetFunction", "events/programs/_id/get.json", 404),
        ("AssetsGetFunction", "events/assets/get.json", 200),
        ("OpenapiJsonGetFunction", "events/openapi_json/get.json", 200),
        ("ParticipantsPostFunction", "events/participants/post.json", 201),
        ("ParticipantsGetFunction", "events/participants/get.json", 200),
        ("ParticipantsIdStateTagsTagPutFunction", "events/participants/_id/state/tags/_tag/put.json", 404),
        ("GroupsPostFunction", "events/groups/post.json", 404),
        ("ParticipantsIdBalancesAdjustPostFunction", "events/participants/_id/balances/adjust/post.json", 404),
        ("JournalEntriesGetFunction", "events/journal-entries/get.json", 200),
        ("EventsPostFunction", "events/events/post.json", 202),
    ],
)
def test_invoke_runs_one_function_with_a_sample_event(function: str, event: str, status: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrip_local", "invoke", function, "-e", event],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    response = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert response["statusCode"] == status, result.stdout


def test_every_sample_event_names_a_route_of_the_template() -> None:
    from scrip_local import template

    routes = {(r.method, r.path) for r in template.load(ROOT / "template.yaml").routes}
    for path in (ROOT / "events").rglob("*.json"):
        event = json.loads(path.read_text())
        if event.get("source") == "aws.events" or "Records" in event or "awslogs" in event:
            continue  # a schedule's event, a queue's message or a log subscription's, not a route's
        assert (event["httpMethod"], event["resource"]) in routes, path


def test_invoke_runs_the_scheduled_lot_job() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrip_local", "invoke", "LotJobsFunction", "-e", "events/schedules/lots.json"],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert report == {"matured": 0, "expired": 0, "journal_entry_ids": [], "transfers_aborted": 0}
