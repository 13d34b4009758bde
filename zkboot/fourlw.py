"""A tiny four-letter-word client: standard library only, one overall deadline, errors with names.

The probes import this every few seconds in every pod, so it imports ``socket`` and nothing else
up front (``ssl`` only for TLS).  The old ``echo ruok | nc`` had no timeout and hung the
kubelet's exec when a server accepted and never answered; here connect, send and read share one
deadline, and a reply that is empty or cut by a reset is tried once more while time remains
(ZooKeeper closes four-letter connections early when it is busy starting up).
"""

from __future__ import annotations

import socket
import time

TYPE_CHECKING = False  # typing itself costs a probe ~2 ms to import
if TYPE_CHECKING:
    import ssl

REFUSED = "refused"
TIMED_OUT = "timed out"
NOT_WHITELISTED = "not in the 4lw whitelist"
NOT_SERVING = "not serving"
UNEXPECTED = "unexpected reply"
UNREACHABLE = "unreachable"

NOT_SERVING_TEXT = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED_TEXT = "is not executed because it is not in the whitelist"


class FourLetterError(Exception):
    """No usable answer.  ``kind`` is one of the constants above; the text says the rest."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Deadline:
    """Seconds left until a fixed moment; raises TIMED_OUT once there are none."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise FourLetterError(TIMED_OUT, f"timed out after {self.seconds:g}s")
        return remaining


def ask(
    command: str,
    host: str = "127.0.0.1",
    port: int = 2181,
    timeout: float = 1.0,
    tls: ssl.SSLContext | None = None,
) -> str:
    """The server's whole reply to ``command``; FourLetterError when there is no usable one.

    A reply saying the command is not whitelisted, or that the server is not serving, is
    raised as such (NOT_WHITELISTED, NOT_SERVING) rather than returned.
    """
    deadline = Deadline(timeout)
    payload = command.encode("ascii")
    try:
        reply = exchange(payload, host, port, deadline, tls, half_close=tls is None).decode("utf-8", "replace")
    except FourLetterError as exc:
        if exc.kind != UNEXPECTED:
            raise
        raise FourLetterError(UNEXPECTED, f"{exc.detail} to {command}") from None
    if NOT_WHITELISTED_TEXT in reply:
        raise FourLetterError(NOT_WHITELISTED, f"{command} is {NOT_WHITELISTED} of {host}:{port}")
    if reply.startswith(NOT_SERVING_TEXT):
        raise FourLetterError(NOT_SERVING, f"{host}:{port} is not serving requests")
    return reply


def exchange(
    payload: bytes,
    host: str,
    port: int,
    deadline: Deadline,
    tls: ssl.SSLContext | None = None,
    half_close: bool = True,
    retry: bool = True,
) -> bytes:
    """Send ``payload`` and read the reply to EOF before ``deadline``; once more if it was empty."""
    try:
        reply = _once(payload, host, port, deadline, tls, half_close)
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        reply = b""  # a reset, even one that lands before we finish sending: worth the one retry
    except ConnectionRefusedError:
        raise FourLetterError(REFUSED, f"{host}:{port} refused the connection") from None
    except TimeoutError:
        raise FourLetterError(TIMED_OUT, f"{host}:{port} timed out after {deadline.seconds:g}s") from None
    except OSError as exc:
        raise FourLetterError(UNREACHABLE, f"{host}:{port}: {exc.strerror or exc}") from None
    if reply:
        return reply
    if retry and deadline.end - time.monotonic() > 0:
        return exchange(payload, host, port, deadline, tls, half_close, retry=False)
    raise FourLetterError(UNEXPECTED, f"{host}:{port} closed the connection without a reply")


def _once(
    payload: bytes, host: str, port: int, deadline: Deadline, tls: ssl.SSLContext | None, half_close: bool
) -> bytes:
    with socket.create_connection((host, port), timeout=deadline.left()) as raw:
        sock = raw
        if tls is not None:
            sock = tls.wrap_socket(raw, server_hostname=host if tls.check_hostname else None)
        sock.settimeout(deadline.left())
        sock.sendall(payload)
        if half_close:
            # ZooKeeper answers and closes; some proxies wait for our EOF first.  A peer that has
            # already reset the connection makes this fail with ENOTCONN: read what there is.
            try:  # noqa: SIM105 (contextlib costs a probe an import)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        chunks = []
        while True:
            sock.settimeout(deadline.left())
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
