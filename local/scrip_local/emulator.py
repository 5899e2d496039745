"""The AWS side of the local stack: an embedded moto, or any endpoint botocore is pointed at.

Without ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_DYNAMODB`` / ``_SQS``) the stack runs moto
in-process, patched where it differs from AWS (``moto_patches``), and also serves moto's API
on ``aws_port`` so that other processes (``scrip-admin``, the AWS CLI) see the same data.
With an endpoint set, it creates the template's tables and queues there if they are missing.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from scrip_local import iam, moto_patches
from scrip_local.template import Template

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS")
ACCOUNT_ID = "123456789012"

# Local defaults that make botocore talk to moto: fake credentials, one region, and the
# classic dynamodbstreams host (botocore ≥ 1.44 uses an account-specific one moto ignores).
LOCAL_AWS_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


_shared_mock: Any = None  # one embedded moto per process, shared by every stack in it
_mock_users = 0


def _start_embedded_mock() -> None:
    global _shared_mock, _mock_users
    if _shared_mock is None:
        from moto import mock_aws

        moto_patches.apply()
        iam.apply()
        _shared_mock = mock_aws()
        _shared_mock.start()
    _mock_users += 1


def _stop_embedded_mock() -> None:
    global _shared_mock, _mock_users
    _mock_users -= 1
    if _mock_users == 0 and _shared_mock is not None:
        _shared_mock.stop()
        _shared_mock = None


def uses_external_endpoint() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


class Emulator:
    def __init__(self, template: Template, *, stack_name: str = "scrip-local", aws_port: int | None = None) -> None:
        self.template = template
        self.stack_name = stack_name
        self.aws_port = aws_port
        self.embedded = not uses_external_endpoint()
        self.region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.physical: dict[str, dict[str, str]] = {}
        self._mock: Any = None
        self._server: Any = None
        self._clients: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for name, value in LOCAL_AWS_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        self.region = os.environ["AWS_DEFAULT_REGION"]
        if self.embedded:
            # A second mock_aws().start() would reset the first one's data: stacks share one.
            _start_embedded_mock()
            self._mock = True
            if self.aws_port is not None:
                from moto.server import ThreadedMotoServer

                self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
                self._server.start()
        self._create_tables()
        self._create_queues()
        self._create_keys()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._mock:
            _stop_embedded_mock()
            self._mock = None

    # ---------------------------------------------------------------- clients
    def client(self, service: str) -> Any:
        """One client per service: creating one takes ~10 ms, and the event sources ask every round."""
        key = (service, self.region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=self.region)
        return self._clients[key]

    # -------------------------------------------------------------- resources
    def _name(self, logical_id: str, props: dict[str, Any], name_property: str) -> str:
        return str(props.get(name_property) or f"{self.stack_name}-{logical_id}")

    def _create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        existing = set(dynamodb.list_tables().get("TableNames", []))
        for logical_id, resource in self.template.resources_of_type("AWS::DynamoDB::Table").items():
            props = resource.get("Properties", {})
            name = self._name(logical_id, props, "TableName")
            if name not in existing:
                request: dict[str, Any] = {
                    "TableName": name,
                    "AttributeDefinitions": props["AttributeDefinitions"],
                    "KeySchema": props["KeySchema"],
                    "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
                }
                if props.get("GlobalSecondaryIndexes"):
                    request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
                stream = props.get("StreamSpecification")
                if stream:
                    request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
                dynamodb.create_table(**request)
                dynamodb.get_waiter("table_exists").wait(TableName=name)
                ttl = props.get("TimeToLiveSpecification")
                if ttl and ttl.get("Enabled"):
                    dynamodb.update_time_to_live(
                        TableName=name,
                        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                    )
            described = dynamodb.describe_table(TableName=name)["Table"]
            self.physical[logical_id] = {
                "Ref": name,
                "Arn": described["TableArn"],
                "StreamArn": described.get("LatestStreamArn", ""),
            }

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        queues = self.template.resources_of_type("AWS::SQS::Queue")
        # Dead-letter queues first: a redrive policy names its target's ARN.
        ordered = sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {}))
        for logical_id, resource in ordered:
            props = resource.get("Properties", {})
            name = self._name(logical_id, props, "QueueName")
            attributes: dict[str, str] = {}
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
                if key in props:
                    attributes[key] = str(self.resolve(props[key]))
            if "RedrivePolicy" in props:
                import json

                policy = {k: self.resolve(v) for k, v in props["RedrivePolicy"].items()}
                attributes["RedrivePolicy"] = json.dumps(policy)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_keys(self) -> None:
        """KMS keys, found again by alias when the stack (or an external emulator) already made them."""
        kms = self.client("kms")
        keys = self.template.resources_of_type("AWS::KMS::Key")
        if not keys:
            return
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases().get("Aliases", [])}
        for logical_id, resource in keys.items():
            alias = f"alias/{self.stack_name}-{logical_id}"
            key_id = aliases.get(alias)
            if key_id is None:
                description = str(resource.get("Properties", {}).get("Description", logical_id))
                key_id = kms.create_key(Description=description)["KeyMetadata"]["KeyId"]
                kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
            self.physical[logical_id] = {"Ref": key_id, "Arn": arn, "KeyId": key_id}

    # --------------------------------------------------------------- intrinsics
    def resolve(self, value: Any) -> Any:
        """The value of a template expression as the local stack deployed it."""
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                if argument in self.physical:
                    return self.physical[argument]["Ref"]
                if argument in self.template.parameters:
                    return self.template.parameters[argument]
                if argument == "AWS::Region":
                    return self.region
                if argument == "AWS::AccountId":
                    return ACCOUNT_ID
                if argument == "AWS::StackName":
                    return self.stack_name
                return f"{self.stack_name}-{argument}"
            if function == "Fn::GetAtt":
                logical_id, attribute = argument
                return self.physical.get(logical_id, {}).get(attribute, f"{self.stack_name}-{logical_id}-{attribute}")
            if function == "Fn::Sub" and isinstance(argument, str):
                import re

                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.resolve(_sub_reference(m.group(1)))), argument)
        return value

    def environment_for(self, environment: dict[str, Any]) -> dict[str, str]:
        return {name: str(self.resolve(value)) for name, value in environment.items()}


def _sub_reference(name: str) -> dict[str, Any]:
    if "." in name:
        return {"Fn::GetAtt": name.split(".", 1)}
    return {"Ref": name}
