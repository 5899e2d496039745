"""``template.yaml`` stays short, and stays under CloudFormation's 500 resources as routes come.

What every function shares lives in ``Globals``; an endpoint's block says only what is its
own (its folder, its role, its route), so a new route is copied from a neighbour without
copying settings. The resource count is the one CloudFormation sees: after the SAM transform
(run offline with ``samtranslator``, as ``sam deploy`` runs it in the service).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from scrip_local import template as template_module

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
TEMPLATE = template_module.load(TEMPLATE_PATH)

CLOUDFORMATION_RESOURCE_LIMIT = 500
# 40 at P7; P11's automation trigger and cancel routes are two of them, its subscription list and
# refresh routes two more; P12's four report routes four more, its journal audit route one more,
# its usage and two log routes three more; the expiration schedule report one more.
ROUTES_TO_COME = 27
# Alarms (queues, dead-letter queues, stream consumers, API errors and latency) and any log
# group beyond the shared one: what operating the stack will add besides routes. P12's request
# log subscription took four (the filter, its permission, the ingest function and its log group).
ALARMS_AND_LOG_GROUPS = 96
ENDPOINT_PROPERTIES = {"CodeUri", "Role", "Events"}


def _document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(TEMPLATE_PATH.read_text(), Loader=template_module._CfnLoader)  # noqa: S506
    return document


def _transformed_resources(document: dict[str, Any]) -> dict[str, Any]:
    """The resources CloudFormation creates from ``document`` (code locations as ``sam package`` leaves them)."""
    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        for location in ("CodeUri", "ContentUri"):
            if location in resource.get("Properties", {}):
                resource["Properties"][location] = f"s3://artifacts/{resource['Properties'][location]}"
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    resources: dict[str, Any] = translator.translate(document, parameter_values={})["Resources"]
    return resources


def _endpoint_logical_id(method: str, path: str) -> str:
    """``POST /v1/programs/{id}/assets/{assetId}/fund`` → ``ProgramsIdAssetsAssetIdFundPostFunction``."""
    words = re.findall(r"[A-Za-z0-9]+", path.removeprefix("/v1/"))
    return "".join(word[0].upper() + word[1:] for word in words) + method.capitalize() + "Function"


def test_routes_to_come_fit_under_cloudformations_resource_limit() -> None:
    document = _document()
    resources = _transformed_resources(document)
    # What one more route costs, measured: a copy of an endpoint on a new path.
    route = next(r for r in TEMPLATE.routes if r.path != "/v1/openapi.json")
    another = copy.deepcopy(document["Resources"][route.function])
    another["Properties"]["Events"]["Api"]["Properties"]["Path"] = "/v1/route-to-come"
    document["Resources"]["RouteToComeFunction"] = another
    per_route = len(_transformed_resources(document)) - len(resources)
    assert per_route == 2  # the function and API Gateway's permission to invoke it
    expected = len(resources) + ROUTES_TO_COME * per_route + ALARMS_AND_LOG_GROUPS
    assert expected <= CLOUDFORMATION_RESOURCE_LIMIT, (len(resources), per_route)


@pytest.mark.parametrize(
    "route", [r for r in TEMPLATE.routes if r.path != "/v1/openapi.json"], ids=lambda r: f"{r.method} {r.path}"
)
def test_an_endpoint_block_says_only_what_is_its_own(route: template_module.ApiRoute) -> None:
    resource = TEMPLATE.resources[route.function]
    properties = resource["Properties"]
    assert set(properties) == ENDPOINT_PROPERTIES, "the rest belongs in Globals"
    assert route.function == _endpoint_logical_id(route.method, route.path)
    assert properties["Events"] == {
        "Api": {
            "Type": "Api",
            "Properties": {"RestApiId": {"Ref": "Api"}, "Path": route.path, "Method": route.method.lower()},
        }
    }


def test_every_function_runs_the_handler_of_its_folder_unless_it_says_otherwise() -> None:
    defaults = _document()["Globals"]["Function"]
    assert defaults["Handler"] == "app.handler"
    own_handlers = {name for name, r in TEMPLATE.resources.items() if "Handler" in r.get("Properties", {})}
    assert own_handlers == {"OpenapiJsonGetFunction"}  # it gathers every handler's route
    assert {spec.handler for name, spec in TEMPLATE.functions.items() if name not in own_handlers} == {"app.handler"}


# Lambda's default quota: more filters on one event source mapping fail the deployment unless
# the account asked for up to 10 (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
FILTERS_PER_EVENT_SOURCE = 5


def test_every_event_source_has_at_most_lambdas_default_number_of_filters() -> None:
    document = _document()
    counted = 0
    for name, resource in document["Resources"].items():
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            filters = (event.get("Properties", {}).get("FilterCriteria") or {}).get("Filters") or []
            counted += bool(filters)
            assert len(filters) <= FILTERS_PER_EVENT_SOURCE, (name, event_name, len(filters))
    assert counted >= 2  # the stream consumers' filters were found
