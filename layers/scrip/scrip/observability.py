"""Logger and metrics shared by every function, and the one decorator that makes a handler of them.

Names come from the template's environment (``POWERTOOLS_SERVICE_NAME``,
``POWERTOOLS_METRICS_NAMESPACE``); the defaults only matter when code is imported outside a
function (tests, tools) before that environment exists.

Tracing: every function runs with Lambda's active tracing (``Tracing: Active`` in the
template's Globals), so X-Ray records each invocation, its cold start and API Gateway's part
with no code here. The X-Ray SDK (powertools' ``Tracer``) would add a subsegment per handler
and per AWS call, but importing it costs about as much as ``import boto3`` again on every
cold start of every function (``bench/results/cold_import.md``): it is loaded only where
``SCRIP_XRAY_SDK`` (the template's ``XRaySdk`` parameter) turns it on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

# Tracer's module loads the SDK only when a Tracer is made.
from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "scrip")
XRAY_SDK_ENV = "SCRIP_XRAY_SDK"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Scrip"), service=SERVICE)


def xray_sdk_enabled() -> bool:
    return os.environ.get(XRAY_SDK_ENV, "false").strip().lower() in ("1", "true", "yes", "on")


def lambda_handler[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """``handler`` with the invocation's context in its logs, its metrics flushed, traced if the SDK is on."""
    wrapped: Callable[..., Any] = handler
    if xray_sdk_enabled():
        wrapped = Tracer(service=SERVICE).capture_lambda_handler(capture_response=False)(wrapped)
    wrapped = metrics.log_metrics(raise_on_empty_metrics=False)(wrapped)
    wrapped = logger.inject_lambda_context(clear_state=True)(wrapped)
    return cast(Handler, wrapped)
