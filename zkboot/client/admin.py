"""GET one command from ZooKeeper's admin server (``/commands/<name>``) under one deadline.

A plain HTTP/1.0 request over the four-letter-word client's socket exchange, so one deadline
bounds the whole request (a client library would give each read the full timeout afresh).
Failures are ``AdminError``s, with the same ``Kind`` names as the four-letter words'.
"""

from __future__ import annotations

import json

from zkboot.client.fourlw import Deadline, exchange
from zkboot.errors import AdminError, Kind


def get_command(host: str, port: int, command: str, timeout: float) -> dict[str, object]:
    address = f"{host}:{port}"
    request = (
        f"GET /commands/{command} HTTP/1.0\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    reply = exchange(request.encode("ascii"), host, port, Deadline.after(timeout), half_close=False, error=AdminError)
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status_line.startswith("HTTP/"):
        raise AdminError(Kind.UNEXPECTED, f"{address} answered /commands/{command} with {status_line[:40]!r}, not HTTP")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        code = status_line.split(" ")[1] if " " in status_line else "?"
        raise AdminError(Kind.UNEXPECTED, f"{address} answered /commands/{command} with HTTP {code}, not JSON")
    return document
