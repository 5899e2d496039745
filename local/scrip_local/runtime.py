"""Running a template function in-process, the way Lambda runs it.

A function's handler module is loaded from its ``CodeUri`` by file path, once per simulated
container. Lambda gives each container one request at a time, so a function keeps a pool
of containers: concurrent requests get separate module instances (separate globals), and a
request never shares a container with another in flight.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from scrip_local import iam
from scrip_local.template import FunctionSpec

MAX_CONTAINERS = 8
_module_counter = itertools.count()
# Lambda's containers are processes, each importing its own modules; here they share one
# interpreter, whose imports of shared modules (scrip, powertools) from two threads at once
# fail with _DeadlockError or "cannot import name" (1 in 3 fresh stacks at 118 concurrent
# cold starts), or hand a container a partly initialised module. Cold starts take turns.
_COLD_START = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def handler_file(spec: FunctionSpec) -> tuple[Path, str]:
    """The file and attribute named by ``Handler`` (``app.handler`` or ``a.b.app.handler``)."""
    module_path, _, attribute = spec.handler.rpartition(".")
    return spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py"), attribute


def _load(spec: FunctionSpec) -> Any:
    path, attribute = handler_file(spec)
    safe = re.sub(r"\W", "_", spec.logical_id)
    name = f"scrip_local_functions.{safe}_{next(_module_counter)}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise FileNotFoundError(f"{spec.logical_id}: no handler module at {path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return getattr(module, attribute)


class Function:
    def __init__(self, spec: FunctionSpec, region: str, account_id: str) -> None:
        self.spec = spec
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{spec.logical_id}"
        self._idle: list[Any] = []
        self._containers = 0
        self._available = threading.Condition()
        self.invocations = 0

    def _acquire(self) -> Any:
        with self._available:
            while not self._idle and self._containers >= MAX_CONTAINERS:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._containers += 1
        try:
            with _COLD_START:  # outside the pool's lock: warm containers go on serving
                return _load(self.spec)
        except BaseException:
            with self._available:
                self._containers -= 1
                self._available.notify()
            raise

    def _release(self, handler: Any) -> None:
        with self._available:
            self._idle.append(handler)
            self._available.notify()

    def invoke(self, event: Any) -> Any:
        handler = self._acquire()
        try:
            self.invocations += 1
            context = LambdaContext(
                function_name=self.spec.logical_id,
                memory_limit_in_mb=self.spec.memory,
                invoked_function_arn=self.arn,
                aws_request_id=str(uuid.uuid4()),
                deadline=time.monotonic() + self.spec.timeout,
            )
            with iam.running_as(self.spec.dynamodb_grants):
                return handler(event, context)
        finally:
            self._release(handler)
