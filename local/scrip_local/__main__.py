"""``python -m scrip_local serve`` (the local stack) and ``invoke`` (a ``sam local invoke``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from scrip_local.stack import DEFAULT_TEMPLATE, EXAMPLE_EVENTS_KEY, LocalStack


def serve(arguments: argparse.Namespace) -> int:
    stack = LocalStack(Path(arguments.template), aws_port=arguments.aws_port)
    org_id, key, created = stack.bootstrap_organization(os.environ.get("SCRIP_LOCAL_API_KEY"))
    server = stack.serve(arguments.host, arguments.port)
    routes = len(stack.template.routes)
    print(
        f"Scrip local stack: {routes} routes on http://{arguments.host}:{server.port}/v1/ "
        f"(docs: http://{arguments.host}:{server.port}/v1/docs)",
        flush=True,
    )
    if stack.emulator.embedded and arguments.aws_port:
        print(f"Embedded AWS emulator (moto) on http://127.0.0.1:{arguments.aws_port}", flush=True)
    if created and not os.environ.get("SCRIP_LOCAL_API_KEY"):
        print(f"Organization {org_id} created. API key (shown once): {key}", flush=True)
    else:
        print(f"Organization {org_id} uses the key from SCRIP_LOCAL_API_KEY", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    stack.stop()
    return 0


def invoke(arguments: argparse.Namespace) -> int:
    stack = LocalStack(Path(arguments.template))
    if arguments.function not in stack.functions:
        print(
            f"no function {arguments.function}; the template has: {', '.join(sorted(stack.functions))}", file=sys.stderr
        )
        return 2
    if stack.emulator.embedded:
        # Sample events in events/ authenticate with this key: give it an organization.
        stack.bootstrap_organization(os.environ.get("SCRIP_LOCAL_API_KEY", EXAMPLE_EVENTS_KEY))
    event = json.loads(Path(arguments.event).read_text()) if arguments.event else {}
    result = stack.functions[arguments.function].invoke(event)
    print(json.dumps(result, indent=2, default=str))
    stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scrip_local", description=__doc__)
    parser.add_argument("--template", default=str(DEFAULT_TEMPLATE))
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the API and deliver events")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    serve_parser.add_argument("--aws-port", type=int, default=int(os.environ.get("SCRIP_LOCAL_AWS_PORT", "4566")))
    invoke_parser = commands.add_parser("invoke", help="run one function with an event file and print its response")
    invoke_parser.add_argument("function", help="logical id of the function in template.yaml")
    invoke_parser.add_argument("-e", "--event", help="event file, e.g. events/programs/post.json")
    arguments = parser.parse_args(argv)
    return serve(arguments) if arguments.command == "serve" else invoke(arguments)


if __name__ == "__main__":
    sys.exit(main())
