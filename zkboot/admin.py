"""GET one command from ZooKeeper's admin server (``/commands/<name>``) under a deadline."""

from __future__ import annotations

import http.client
import json

from zkboot.fourlw import REFUSED, TIMED_OUT, UNEXPECTED, UNREACHABLE, Deadline, FourLetterError


def get_command(host: str, port: int, command: str, timeout: float) -> dict[str, object]:
    deadline = Deadline(timeout)
    address = f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=deadline.left())
    try:
        connection.request("GET", f"/commands/{command}", headers={"Accept": "application/json"})
        if connection.sock is not None:
            connection.sock.settimeout(deadline.left())
        response = connection.getresponse()
        body = response.read()
    except ConnectionRefusedError:
        raise FourLetterError(REFUSED, f"{address} refused the connection") from None
    except TimeoutError:
        raise FourLetterError(TIMED_OUT, f"{address} timed out after {timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FourLetterError(UNREACHABLE, f"{address}: {exc}") from None
    finally:
        connection.close()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        detail = f"{address} answered /commands/{command} with HTTP {response.status}, not JSON"
        raise FourLetterError(UNEXPECTED, detail)
    return document
