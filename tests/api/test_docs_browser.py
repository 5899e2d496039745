"""GET /v1/docs in a real headless browser with no network beyond the local stack.

The page used to load its viewer from a public CDN and was blank offline or under a strict
Content-Security-Policy; these tests open it in Chromium that can resolve no host but
127.0.0.1 and check that every operation of the OpenAPI document is rendered.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
REDOC_BUNDLE = ROOT / "functions" / "docs" / "get" / "redoc" / "redoc.standalone.js"
# npm redoc 2.5.4, package/bundles/redoc.standalone.js (functions/docs/get/redoc/README.md).
REDOC_SHA256 = "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b"

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CSP_VIOLATION = re.compile(r'violates the following Content Security Policy directive: "([a-z-]+)')


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = "no headless Chromium on PATH (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: .ci/run installs it, so CI must not skip this test")
    pytest.skip(reason)


def _open(url: str, profile: Path) -> tuple[str, str]:
    """The page's DOM once scripts have run, and the browser's console log."""
    command = [
        _browser(),
        "--headless",
        # Root (CI, this machine) cannot start Chromium's sandbox; the page is our own.
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        # Offline but for the local stack: a CDN or any other host does not resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--enable-logging=stderr",
        "--v=0",
        # Virtual time waits for the document fetch and Redoc's render before the dump.
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def test_vendored_redoc_bundle_is_the_recorded_registry_file() -> None:
    assert hashlib.sha256(REDOC_BUNDLE.read_bytes()).hexdigest() == REDOC_SHA256


def test_docs_page_loads_nothing_from_elsewhere(api: Api) -> None:
    response = api.get("/v1/docs", auth=False)
    policy = response.headers["Content-Security-Policy"]
    assert "http:" not in policy and "https:" not in policy and "*" not in policy
    assert "'unsafe-inline'" not in re.search(r"script-src [^;]*", policy).group(0)  # type: ignore[union-attr]
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(https?:)?//", response.text)


def test_docs_page_renders_every_operation_offline_in_a_headless_browser(api: Api, tmp_path: Path) -> None:
    document = api.get("/v1/openapi.json", auth=False).json()
    operations = [operation for methods in document["paths"].values() for operation in methods.values()]
    assert len(operations) > 10

    dom, console = _open(f"{api.base_url}/v1/docs", tmp_path / "profile")

    rendered = set(re.findall(r'id="operation/([^"]+)"', dom))
    assert {operation["operationId"] for operation in operations} <= rendered
    missing = [o["summary"] for o in operations if html.escape(o["summary"], quote=False) not in dom]
    assert missing == []
    # Redoc's footer logo is on Redocly's CDN: the policy blocks it and Redoc hides it on error.
    # Nothing else may be refused (the bundle, the document fetch, the search worker, styles).
    assert set(CSP_VIOLATION.findall(console)) <= {"img-src"}, console[-2000:]
