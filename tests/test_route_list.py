"""One route list: template.yaml, the local stack and the OpenAPI document must agree.

Also checks what each route's wiring promises: the handler module serves the route its
template event declares, its directory mirrors the path, and read endpoints get the
read-only role.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scrip.api.endpoint import HttpEndpoint
from scrip_local import template as template_module
from scrip_local.runtime import handler_file

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = template_module.load(ROOT / "template.yaml")


# POST endpoints that compute without writing: least privilege gives them the read role.
COMPUTE_ONLY = {("POST", "/v1/rules/validate"), ("POST", "/v1/rules/{id}/simulate")}
# GET endpoints that show a balance, its lots or its ledger lines: before answering they finish
# a committed staged transfer the balance is owed, which writes its legs (puts and updates, no
# deletes). tests/api/test_transfers.py::test_every_reader_may_finish_a_committed_transfer
# fails, through the local stack's role enforcement, for a reader left read-only.
LEDGER_READERS = {
    ("GET", "/v1/participants/{id}"),
    ("GET", "/v1/participants/{id}/balances"),
    ("GET", "/v1/participants/{id}/balances/lots"),
    ("GET", "/v1/participants/{id}/statement"),
    ("GET", "/v1/participants/{id}/activity/history"),
    ("GET", "/v1/groups/{id}/balances"),
    ("GET", "/v1/journal-entries/verify"),
}
# Reports that read only their own stream-kept index, not the ledger aggregates: they move no
# aggregates checkpoint, so they get the read-only role.
READ_ONLY_REPORTS = {("GET", "/v1/reports/expiration-schedule")}


def _template_routes() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in TEMPLATE.routes}


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_template_local_stack_and_openapi_list_the_same_routes(stack, api) -> None:  # type: ignore[no-untyped-def]
    local = {(r.method, r.path) for r in stack.gateway.routes}
    document = api.get("/v1/openapi.json", auth=False).json()
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert local == _template_routes()
    assert documented == _template_routes()


def test_every_handler_module_has_a_template_function() -> None:
    declared = {handler_file(spec)[0] for spec in TEMPLATE.functions.values()}
    on_disk = set((ROOT / "functions").rglob("app.py"))
    assert on_disk == declared


@pytest.mark.parametrize("route", TEMPLATE.routes, ids=lambda r: f"{r.method} {r.path}")
def test_handler_serves_the_route_its_template_event_declares(route: template_module.ApiRoute) -> None:
    from scrip.api.catalogue import load_module

    spec = TEMPLATE.functions[route.function]
    path, attribute = handler_file(spec)
    module = load_module(ROOT / "functions", path)
    endpoint = module.endpoint
    assert isinstance(endpoint, HttpEndpoint)
    assert getattr(module, attribute) == endpoint.handler
    declared = {
        (method.upper(), rule.replace("<", "{").replace(">", "}"))
        for rule, methods, *_ in endpoint.router._routes
        for method in (methods if isinstance(methods, (list, tuple)) else [methods])
    }
    assert declared == {(route.method, route.path)}


@pytest.mark.parametrize(
    "route", [r for r in TEMPLATE.routes if r.path != "/v1/openapi.json"], ids=lambda r: f"{r.method} {r.path}"
)
def test_handler_directory_mirrors_the_path(route: template_module.ApiRoute) -> None:
    spec = TEMPLATE.functions[route.function]
    segments = route.path.split("/")[2:]  # drop "" and "v1"
    expected = [("_" + s[1:-1]) if s.startswith("{") else s.replace(".", "_") for s in segments] + [
        route.method.lower()
    ]
    assert spec.code_dir == (ROOT / "functions").joinpath(*expected).resolve()


@pytest.mark.parametrize("route", TEMPLATE.routes, ids=lambda r: f"{r.method} {r.path}")
def test_read_endpoints_cannot_write(route: template_module.ApiRoute) -> None:
    role = TEMPLATE.resources[route.function]["Properties"]["Role"]["Fn::GetAtt"][0]
    if route.path.startswith("/v1/reports/") and (route.method, route.path) not in READ_ONLY_REPORTS:
        # A report also moves its organization's aggregates checkpoint, that item only.
        assert role == "ApiReportRole"
        (write,) = [
            s
            for p in TEMPLATE.resources[role]["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"]
            if s["Action"] == ["dynamodb:PutItem"]
        ]
        assert write["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ORG#*#RPTSEALED"]}}
        return
    if (route.method, route.path) in LEDGER_READERS:
        assert role == "ApiLedgerReadRole"
    elif route.method == "GET" or (route.method, route.path) in COMPUTE_ONLY:
        assert role in ("ApiReadRole", "ApiPublicRole")
    else:
        assert role == "ApiWriteRole"
    statements = [
        s for p in TEMPLATE.resources[role]["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]
    ]
    actions = {a for s in statements for a in s["Action"]}
    if role == "ApiReadRole":
        assert actions and all(
            a.split(":")[1] in ("GetItem", "BatchGetItem", "Query", "ConditionCheckItem") for a in actions
        )
    if role == "ApiLedgerReadRole":
        assert {a.split(":")[1] for a in actions} == {
            "GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem", "UpdateItem"
        }  # fmt: skip
