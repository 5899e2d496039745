"""The local stack: template, emulator, functions, API Gateway and event sources together."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from scrip_local import template as template_module
from scrip_local.api_gateway import ApiGateway
from scrip_local.emulator import ACCOUNT_ID, Emulator
from scrip_local.event_sources import EventSources
from scrip_local.log_subscriptions import LogSubscriptions
from scrip_local.runtime import Function

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
EXAMPLE_EVENTS_KEY = "sk_local_events_example"

# What differs locally from Lambda. Metrics stay on: powertools never clears a disabled
# metric set, which then overflows after 100 requests; their EMF lines go to stdout as they
# would go to CloudWatch Logs.
LOCAL_FUNCTION_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "SCRIP_LOCAL": "true",
    # A developer's webhook receiver on localhost (plain HTTP); template.yaml never sets this.
    "SCRIP_WEBHOOKS_ALLOW_LOOPBACK_HTTP": "true",
}


def _layer_paths(template: template_module.Template) -> list[Path]:
    paths = []
    for resource in template.resources_of_type("AWS::Serverless::LayerVersion").values():
        paths.append((template.root / resource["Properties"]["ContentUri"]).resolve())
    return paths


class LocalStack:
    def __init__(
        self, template_path: Path = DEFAULT_TEMPLATE, *, aws_port: int | None = None, stack_name: str = "scrip-local"
    ) -> None:
        self.template = template_module.load(template_path)
        for path in _layer_paths(self.template):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        self.emulator = Emulator(self.template, stack_name=stack_name, aws_port=aws_port)
        self.emulator.start()
        self._set_environment()
        self.functions = {
            name: Function(spec, self.emulator.region, ACCOUNT_ID) for name, spec in self.template.functions.items()
        }
        self.gateway = ApiGateway(self.template.routes, self.functions)
        self.events = EventSources(self.emulator, self.functions, self.template.event_sources)
        self.log_subscriptions = LogSubscriptions(self.template, self.functions, self.emulator)
        self.events.deliveries.append(self.log_subscriptions.deliver)
        self._pump_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._stop = threading.Event()
        self.gateway.local_routes.update(
            {
                ("POST", "/_local/drain"): self._drain_route,
                ("POST", "/_local/schedules"): self._schedule_route,
                ("POST", "/_local/clock"): self._clock_route,
                ("GET", "/_local/health"): lambda _: Response('{"status": "ok"}', content_type="application/json"),
            }
        )

    def _set_environment(self) -> None:
        """Give the process the functions' environment (they share one process locally)."""
        merged: dict[str, str] = {}
        for spec in self.template.functions.values():
            for name, value in self.emulator.environment_for(spec.environment).items():
                if merged.get(name, value) != value:
                    raise ValueError(f"functions disagree on {name}; the local stack shares one environment")
                merged[name] = value
        os.environ.update(merged)
        for name, value in LOCAL_FUNCTION_ENVIRONMENT.items():
            os.environ.setdefault(name, value)

    # ------------------------------------------------------------- operations
    def bootstrap_organization(self, raw_key: str | None, name: str = "Local organization") -> tuple[str, str, bool]:
        """An organization holding ``raw_key`` (a new key if None): (org id, key, created?)."""
        from scrip.domain.organizations import hash_key
        from scrip.services import organizations
        from scrip.storage import organizations as organization_store

        if raw_key is not None:
            existing = organization_store.find_api_key_by_hash(hash_key(raw_key))
            if existing is not None:
                return existing.organization_id, raw_key, False
        organization = organizations.create_organization(name)
        _, raw = organizations.issue_api_key(organization.id, "local", raw_key=raw_key, label="local")
        return organization.id, raw, True

    def drain(self) -> int:
        with self._pump_lock:
            return self.events.drain()

    def fire_schedule(self, function_name: str) -> Any:
        with self._pump_lock:
            return self.events.fire_schedule(function_name)

    # ------------------------------------------------------------ local routes
    def _drain_route(self, _: Request) -> Response:
        return Response(json.dumps({"rounds": self.drain()}), content_type="application/json")

    def _schedule_route(self, request: Request) -> Response:
        name = (request.get_json(silent=True) or {}).get("function")
        if name not in self.events.schedules:
            return Response(
                json.dumps({"code": "not_found", "message": f"no schedule for {name}"}),
                status=404,
                content_type="application/json",
            )
        result = self.fire_schedule(name)
        return Response(json.dumps({"result": result}, default=str), content_type="application/json")

    def _clock_route(self, request: Request) -> Response:
        offset = float((request.get_json(silent=True) or {}).get("offset_seconds", 0))
        os.environ["SCRIP_CLOCK_OFFSET_SECONDS"] = str(offset)
        return Response(json.dumps({"offset_seconds": offset}), content_type="application/json")

    # ------------------------------------------------------------------ serving
    def serve(self, host: str = "127.0.0.1", port: int = 3000, *, background_delivery: bool = True) -> BaseWSGIServer:
        """Start serving in a thread; returns the server (``server.port`` is the bound port)."""
        self._server = make_server(host, port, self.gateway, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True).start()
        if background_delivery:
            threading.Thread(target=self._deliver_forever, name="event-sources", daemon=True).start()
        return self._server

    def _deliver_forever(self) -> None:
        while not self._stop.wait(0.05):
            try:
                with self._pump_lock:
                    self.events.tick()
            except Exception:  # noqa: BLE001 - keep delivering; the error is printed
                import traceback

                traceback.print_exc()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        self.log_subscriptions.close()
        self.emulator.stop()
