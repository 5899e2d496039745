"""Where a request's log line goes: one JSON line on stdout, off the request's own latency path.

Lambda sends a function's stdout to its log group (every API function shares one, see
``template.yaml``), and the group's subscription filter hands lines carrying
``domain.request_logs.LINE_KEY`` to the ingest function, which stores them. Writing the line
is a ``print``: no DynamoDB write, no network call while the client waits.

The local stack has no CloudWatch Logs: it calls ``capture()`` to keep the lines in memory and
delivers them to the ingest function itself (``scrip_local.log_subscriptions``).
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any

# Lines kept by the local stack (deque appends and pops are atomic: handler threads share it).
_captured: deque[str] | None = None


def emit(line: dict[str, Any]) -> None:
    text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
    if _captured is not None:
        _captured.append(text)
        return
    # One write of the whole line: Lambda makes one log event of each line of stdout.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def capture() -> deque[str]:
    """Keep lines in memory from now on (the local stack); the buffer they go to."""
    global _captured
    if _captured is None:
        _captured = deque()
    return _captured


def release() -> None:
    """Print lines again (the local stack stopped)."""
    global _captured
    _captured = None
