"""Schemathesis over our own OpenAPI document: no generated request is answered 5xx.

Two bounded, seeded runs against the session's local stack, as one organization:

* examples and fuzzing over every operation, a few cases each (positive and negative data:
  wrong types, out-of-range values, bodies that are not JSON or not UTF-8), with path ids
  aimed at resources the organization holds, so that fuzzed bodies reach the services and
  the ledger instead of stopping at ``404``;
* the coverage phase (every boundary of every parameter, and bodies sent under media types the
  document does not declare) over one operation of each shape: the request body is judged
  once for every route (``scrip.api.endpoint``), so these stand for the rest, and running it
  over all 109 operations costs minutes.

Only ``not_a_server_error`` is checked: the document lists the success and validation answers,
not every 4xx an operation can give, so the conformance checks would report our documented
404/409/415/422 answers. A failure prints schemathesis's report with a ``curl`` line that
reproduces it; the seed makes the generated cases the same on every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scrip_local.stack import LocalStack
from tests.conftest import Api

SEED = "20260601"
EXAMPLES_PER_OPERATION = "5"
TIMEOUT_SECONDS = 240
# One operation per body shape and method, and a paged list with its query bounds.
COVERAGE_PATHS = r"^/v1/(programs|programs/\{id\}|rules/validate|participants/\{id\}/state/tags)$"


def run_schemathesis(stack: LocalStack, api: Api, workdir: Path, *options: str, config: str = "") -> None:
    base_url = stack.base_url  # type: ignore[attr-defined]
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(config)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        f"{base_url}/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {api.key}",
        "--checks",
        "not_a_server_error",
        "--seed",
        SEED,
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        "--output-sanitize",
        "true",
        *options,
    ]
    # The working directory is where schemathesis keeps its crash cache: never the repository.
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert done.returncode == 0, f"schemathesis {' '.join(options)} found failures:\n{done.stdout[-20000:]}"


def created(response: Any) -> str:
    assert response.status_code in (201, 202), response.text
    return str(response.json()["id"])


def resources(api: Api) -> dict[str, dict[str, str]]:
    """Parameters naming resources of ``api``'s organization: path parameters per path prefix
    (``/v1/<prefix>/{...}``), and under ``body`` the ids that request bodies refer to."""
    program = api.create_program()["id"]
    asset = api.create_asset(program)["id"]
    participant = created(api.post("/v1/participants", json={"external_id": "fuzz", "program_id": program}))
    members = [{"participant_id": participant, "role": "ADMIN"}]
    group = created(api.post("/v1/groups", json={"name": "Fuzzers", "members": members}))
    actions = [{"type": "CREDIT", "asset_id": asset, "amount": "10"}]
    rule_body = {"program_id": program, "name": "ten", "condition": 'event.type == "purchase"', "actions": actions}
    rule = created(api.post("/v1/rules", json=rule_body))
    hook = created(api.post("/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "enabled_events": ["*"]}))
    event_body = {"program_id": program, "external_id": "fuzz", "idempotency_key": "fuzz-1"}
    event_body |= {"event_timestamp": "2026-01-01T00:00:00Z", "event_data": {"type": "purchase"}}
    event = created(api.post("/v1/events", json=event_body))
    return {
        "body": {"program_id": program, "asset_id": asset},
        "programs": {"path.id": program, "path.assetId": asset},
        "assets": {"path.id": asset},
        "participants": {"path.id": participant},
        "groups": {"path.id": group, "path.participantId": participant},
        "rules": {"path.id": rule},
        "webhook-endpoints": {"path.id": hook},
        "events": {"path.id": event},
    }


def aimed_config(by_prefix: dict[str, dict[str, str]]) -> str:
    """Fixed path ids for every operation under each prefix but ``DELETE`` (which would archive
    the resource for the operations after it); ``DELETE`` and the coverage run keep generated,
    mostly unknown, ids. The bodies' ``program_id`` and ``asset_id`` name the organization's
    program and asset in most cases (so that ledger operations run), generated values in the rest."""
    body = by_prefix["body"]
    # Top-level keys come first: in TOML a key after a table header belongs to that table.
    bindings = ", ".join(f'"body.{name}" = {{ dictionary = "{name}", probability = 0.8 }}' for name in body)
    blocks = [f"parameters = {{ {bindings} }}\n"]
    for name, value in body.items():
        blocks.append(f"[dictionaries.{name}]\nvalues = [{json.dumps(value)}]\n")
    for prefix, parameters in by_prefix.items():
        if prefix == "body":
            continue
        values = ", ".join(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in parameters.items())
        blocks.append(
            "[[operations]]\n"
            f"include-path-regex = {json.dumps('^/v1/' + prefix + '/[{]')}\n"
            'exclude-method = "DELETE"\n'
            f"parameters = {{ {values} }}\n"
        )
    return "\n".join(blocks)


def test_fuzzing_every_operation_finds_no_server_error(stack: LocalStack, api: Api, tmp_path: Path) -> None:
    config = aimed_config(resources(api))
    run_schemathesis(
        stack,
        api,
        tmp_path,
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        EXAMPLES_PER_OPERATION,
        config=config,
    )


def test_coverage_of_each_request_shape_finds_no_server_error(stack: LocalStack, api: Api, tmp_path: Path) -> None:
    # Other methods on a known path are API Gateway's 404, never a function: not worth the time.
    run_schemathesis(
        stack,
        api,
        tmp_path,
        "--phases",
        "coverage",
        "--include-path-regex",
        COVERAGE_PATHS,
        "--max-examples",
        EXAMPLES_PER_OPERATION,
        config="[phases.coverage]\nunexpected-methods = []\n",
    )
