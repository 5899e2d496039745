"""Finding every HTTP endpoint module under ``functions/``.

Handler directories mirror the API's paths (``functions/programs/_id/assets/post/app.py`` is
``POST /v1/programs/{id}/assets``) and are not a Python package, so modules are loaded by
file path under a name derived from that path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from scrip.api.endpoint import HttpEndpoint

HANDLER_FILE = "app.py"


def module_name(functions_root: Path, handler_file: Path) -> str:
    relative = handler_file.relative_to(functions_root).with_suffix("")
    return "scrip_functions." + ".".join(relative.parts)


def load_module(functions_root: Path, handler_file: Path) -> ModuleType:
    name = module_name(functions_root, handler_file)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, handler_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # A half-run module left behind would be served, without its route, on the next call.
        del sys.modules[name]
        raise
    return module


def http_endpoints(functions_root: Path) -> list[HttpEndpoint]:
    found = []
    for handler_file in sorted(functions_root.rglob(HANDLER_FILE)):
        module = load_module(functions_root, handler_file)
        endpoint = getattr(module, "endpoint", None)
        if isinstance(endpoint, HttpEndpoint):
            found.append(endpoint)
    return found
