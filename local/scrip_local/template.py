"""Reading ``template.yaml``: functions, their events, and the resources they name.

Only what the local stack needs is interpreted: ``AWS::Serverless::Function`` (with Globals),
``AWS::DynamoDB::Table``, ``AWS::SQS::Queue`` and the intrinsic functions used in
environment variables and event sources (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scrip_local import iam


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _short, _long in {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "ImportValue": "Fn::ImportValue",
    "FindInMap": "Fn::FindInMap",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Condition": "Condition",
}.items():
    _CfnLoader.add_constructor(f"!{_short}", _tag(_long))


@dataclass(frozen=True)
class ApiRoute:
    method: str  # upper case
    path: str  # as in the template: /v1/programs/{id}
    function: str


@dataclass(frozen=True)
class EventSource:
    """A non-API event of a function: Schedule, DynamoDB or SQS."""

    function: str
    kind: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    timeout: int
    memory: int
    # What its role allows on DynamoDB (``scrip_local.iam``); None: not restricted.
    dynamodb_grants: tuple[iam.Grant, ...] | None = None


@dataclass
class Template:
    root: Path
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)
    event_sources: list[EventSource] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r.get("Type") == kind}


def load(path: Path) -> Template:
    document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    template = Template(root=path.parent.resolve())
    template.resources = document.get("Resources", {})
    template.parameters = {name: spec.get("Default") for name, spec in document.get("Parameters", {}).items()}
    defaults = document.get("Globals", {}).get("Function", {})
    for name, resource in template.resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**defaults, **resource.get("Properties", {})}
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        template.functions[name] = FunctionSpec(
            logical_id=name,
            code_dir=(template.root / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            environment=environment,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            dynamodb_grants=iam.role_grants(template.resources, props.get("Role")),
        )
        for event in (props.get("Events") or {}).values():
            kind, event_props = event["Type"], event.get("Properties", {})
            if kind == "Api":
                template.routes.append(ApiRoute(event_props["Method"].upper(), event_props["Path"], name))
            else:
                template.event_sources.append(EventSource(name, kind, event_props))
    return template
