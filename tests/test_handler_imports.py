"""A handler imports what it uses: the X-Ray SDK only where the template turns it on, CEL only
when an expression is compiled or evaluated, and schema models unbuilt until a request uses them.

Each case imports a handler module in a fresh interpreter, as Lambda does on a cold start
(its folder the working directory, the layer on the path, Lambda's variables set), and looks
at what got loaded. ``bench/cold_import.py`` says what each handler's import costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ["programs/post", "queues/events", "streams/dispatch", "schedules/lots"]
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
    "SCRIP_TABLE_NAME": "scrip",
    "SCRIP_EVENT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/events",
    "SCRIP_WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks",
}
REPORT = "import app, json, sys; print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
CEL_LIBRARIES = ("celpy", "lark")
# Rules and events handlers reach scrip.domain.cel; none evaluates an expression while importing.
CEL_FREE_HANDLERS = ["rules/get", "rules/_id/get", "rules/post", "queues/events", "events/get", "participants/_id/get"]


def _loaded_modules(handler: str, prefixes: tuple[str, ...], **environment: str) -> list[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "layers" / "scrip")}
    result = subprocess.run(
        [sys.executable, "-c", REPORT.format(prefixes=prefixes)],
        cwd=ROOT / "functions" / handler,
        env=env | LAMBDA_ENVIRONMENT | environment,
        check=True,
        capture_output=True,
        text=True,
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def _loaded_sdk_modules(handler: str, **environment: str) -> list[str]:
    return _loaded_modules(handler, ("aws_xray_sdk",), **environment)


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_cold_start_loads_no_xray_sdk_by_default(handler: str) -> None:
    assert _loaded_sdk_modules(handler) == []


def test_the_xray_sdk_traces_where_the_template_turns_it_on() -> None:
    assert "aws_xray_sdk.core" in _loaded_sdk_modules("programs/post", SCRIP_XRAY_SDK="true")


@pytest.mark.parametrize("handler", CEL_FREE_HANDLERS)
def test_a_cold_start_loads_no_cel_library(handler: str) -> None:
    assert _loaded_modules(handler, CEL_LIBRARIES) == []


def test_cel_loads_with_the_first_expression() -> None:
    code = (
        "import sys; from scrip.domain import cel; before = 'celpy' in sys.modules; "
        "cel.check('event.amount > 1.0'); print(before, 'celpy' in sys.modules)"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "layers" / "scrip")}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert result.stdout.split() == ["False", "True"]


def test_a_cold_start_builds_no_schema_model() -> None:
    """Every schema model defers its build: a handler builds only what its requests use."""
    code = (
        "import json, sys, pkgutil, importlib, pydantic, scrip.api.schemas as schemas\n"
        "eager = []\n"
        "for info in pkgutil.iter_modules(schemas.__path__):\n"
        "    if info.name == 'messages':\n"
        "        continue  # the consumers' records: every invocation validates them\n"
        "    module = importlib.import_module(f'scrip.api.schemas.{info.name}')\n"
        "    for value in vars(module).values():\n"
        "        if isinstance(value, type) and issubclass(value, pydantic.BaseModel) and value.__module__ == module.__name__:\n"
        "            if value.__pydantic_complete__:\n"
        "                eager.append(value.__qualname__)\n"
        "print(json.dumps(eager))"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "layers" / "scrip")}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert json.loads(result.stdout) == []


def test_participant_schemas_do_not_import_the_ledger_models() -> None:
    assert _loaded_modules("participants/_id/get", ("scrip.api.schemas.ledger",)) == []
