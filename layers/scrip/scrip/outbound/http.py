"""One webhook attempt over HTTP: connect to an address already checked, no redirects.

The connection goes to the resolved address that passed the public-address check (the host
name is kept for TLS and the Host header), so a name that re-resolves to a private address
between the check and the connection cannot be reached (DNS rebinding).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

_READ_LIMIT = 65_536


@dataclass(frozen=True)
class Response:
    status: int | None
    body: str | None
    retry_after: str | None
    error: str | None = None
    error_code: str | None = None


def post(
    *, scheme: str, host: str, address: str, port: int, path: str, headers: dict[str, str], body: bytes, timeout: float
) -> Response:
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs=ssl.CERT_REQUIRED,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            address, port, timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=1
        )
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host if port in (80, 443) else f"{host}:{port}"},
            redirect=False,
            preload_content=False,
        )
        try:
            raw = response.read(_READ_LIMIT, decode_content=True)
        finally:
            response.release_conn()
        return Response(response.status, raw.decode("utf-8", "replace"), response.headers.get("Retry-After"))
    except NewConnectionError as error:  # before the timeout clause: urllib3 derives it from ConnectTimeoutError
        return Response(None, None, None, f"connection failed: {error}", "connection_failed")
    except Urllib3Timeout as error:
        return Response(None, None, None, f"timed out after {timeout:.0f} s: {error}", "consumer_response_timeout")
    except SSLError as error:
        return Response(None, None, None, f"TLS error: {error}", "tls_error")
    except (ProtocolError, ConnectionError) as error:
        return Response(None, None, None, f"connection failed: {error}", "connection_failed")
    except HTTPError as error:
        return Response(None, None, None, f"request failed: {error}", "connection_failed")
    finally:
        pool.close()
