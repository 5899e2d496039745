"""Operator command: organizations and API keys (there is no dashboard; decision 6).

Works against the local stack (``--endpoint-url http://127.0.0.1:4566``, the embedded
emulator's port) or a deployed stack (``--stack-name scrip`` reads the table from the stack's
outputs, or give ``--table-name``). A key is printed once, when it is issued: only its hash
is stored.

    python tools/scrip_admin.py --stack-name scrip create-organization --name "Acme"
    python tools/scrip_admin.py --stack-name scrip issue-key --organization-id <id>
    python tools/scrip_admin.py --stack-name scrip list-keys --organization-id <id>
    python tools/scrip_admin.py --stack-name scrip revoke-key --organization-id <id> --key-id <id>
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "scrip"))


def _table_from_stack(stack_name: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "TableName":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack_name} has no TableName output")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scrip_admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--stack-name", help="deployed stack whose TableName output to use")
    target.add_argument("--table-name", help="the table name itself")
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local stack's http://127.0.0.1:4566")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-organization", help="create an organization and its first key")
    create.add_argument("--name", required=True)
    issue = commands.add_parser("issue-key", help="issue another key")
    issue.add_argument("--organization-id", required=True)
    issue.add_argument("--name", default="default")
    listing = commands.add_parser("list-keys", help="list keys (never their secret)")
    listing.add_argument("--organization-id", required=True)
    revoke = commands.add_parser("revoke-key", help="revoke a key: it answers 401 from then on")
    revoke.add_argument("--organization-id", required=True)
    revoke.add_argument("--key-id", required=True)
    arguments = parser.parse_args(argv)

    if arguments.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = arguments.endpoint_url
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }.items():
            os.environ.setdefault(name, value)
    if arguments.stack_name:
        os.environ["SCRIP_TABLE_NAME"] = _table_from_stack(arguments.stack_name)
    elif arguments.table_name:
        os.environ["SCRIP_TABLE_NAME"] = arguments.table_name
    else:
        os.environ.setdefault("SCRIP_TABLE_NAME", "scrip-local-Table")

    from scrip.services import organizations

    if arguments.command == "create-organization":
        organization = organizations.create_organization(arguments.name)
        key, raw = organizations.issue_api_key(organization.id)
        result = {"organization_id": organization.id, "api_key_id": key.id, "api_key": raw}
    elif arguments.command == "issue-key":
        key, raw = organizations.issue_api_key(arguments.organization_id, arguments.name)
        result = {"organization_id": key.organization_id, "api_key_id": key.id, "api_key": raw}
    elif arguments.command == "list-keys":
        result = {
            "keys": [
                {"id": k.id, "name": k.name, "prefix": k.display_prefix, "status": k.status.value}
                for k in organizations.list_api_keys(arguments.organization_id)
            ]
        }
    else:
        revoked = organizations.revoke_api_key(arguments.organization_id, arguments.key_id)
        result = {"api_key_id": revoked.id, "status": revoked.status.value}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
