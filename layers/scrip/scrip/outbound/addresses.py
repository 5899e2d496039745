"""Resolving an endpoint's host to the addresses a delivery may connect to."""

from __future__ import annotations

import socket


def resolve(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(answer[4][0]) for answer in answers})
