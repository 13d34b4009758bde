"""A small four-letter-word client: one overall deadline, failures with names.

The old ``echo ruok | nc`` had no timeout and hung the kubelet's exec when a server accepted and
never answered; here connect, send and read share one deadline, and a reply that is empty or cut
by a reset is tried once more while time remains (ZooKeeper closes four-letter connections early
when it is busy starting up).  A reply is read up to MAX_REPLY and no further: a peer that floods
gets an error, not the process's memory.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zkboot.errors import FourLetterError, Kind, QueryError

if TYPE_CHECKING:
    import ssl

NOT_SERVING_TEXT = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED_TEXT = "is not executed because it is not in the whitelist"
MAX_REPLY = 1 << 20  # bytes: mntr, the longest reply zkboot asks for, is a few KiB


@dataclass(frozen=True, slots=True)
class Deadline:
    """A fixed moment ``seconds`` after it was made; ``left()`` raises TimeoutError once it has passed."""

    seconds: float
    end: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
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
    raised as such (``Kind.NOT_WHITELISTED``, ``Kind.NOT_SERVING``) rather than returned.
    """
    deadline = Deadline.after(timeout)
    payload = command.encode("ascii")
    try:
        reply = exchange(payload, host, port, deadline, tls, half_close=tls is None).decode("utf-8", "replace")
    except FourLetterError as exc:
        if exc.kind != Kind.UNEXPECTED:
            raise
        raise FourLetterError(Kind.UNEXPECTED, f"{exc.detail} to {command}") from None
    if NOT_WHITELISTED_TEXT in reply:
        raise FourLetterError(Kind.NOT_WHITELISTED, f"{command} is {Kind.NOT_WHITELISTED} of {host}:{port}")
    if reply.startswith(NOT_SERVING_TEXT):
        raise FourLetterError(Kind.NOT_SERVING, f"{host}:{port} is not serving requests")
    return reply


class _Flooded(Exception):
    """The reply passed MAX_REPLY."""


def exchange(
    payload: bytes,
    host: str,
    port: int,
    deadline: Deadline,
    tls: ssl.SSLContext | None = None,
    half_close: bool = True,
    retry: bool = True,
    error: type[QueryError] = FourLetterError,
) -> bytes:
    """Send ``payload`` and read the reply to EOF before ``deadline``; once more if it was empty.

    Failures are raised as ``error`` (the caller's kind of query) with a ``Kind``.
    """
    try:
        reply = _once(payload, host, port, deadline, tls, half_close)
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        reply = b""  # a reset, even one that lands before we finish sending: worth the one retry
    except _Flooded:
        raise error(Kind.UNEXPECTED, f"{host}:{port} sent more than {MAX_REPLY >> 20} MiB") from None
    except ConnectionRefusedError:
        raise error(Kind.REFUSED, f"{host}:{port} refused the connection") from None
    except TimeoutError:
        raise error(Kind.TIMED_OUT, f"{host}:{port} timed out after {deadline.seconds:g}s") from None
    except OSError as exc:
        raise error(Kind.UNREACHABLE, f"{host}:{port}: {exc.strerror or exc}") from None
    if reply:
        return reply
    if retry and deadline.end - time.monotonic() > 0:
        return exchange(payload, host, port, deadline, tls, half_close, retry=False, error=error)
    raise error(Kind.UNEXPECTED, f"{host}:{port} closed the connection without a reply")


def _once(
    payload: bytes, host: str, port: int, deadline: Deadline, tls: ssl.SSLContext | None, half_close: bool
) -> bytes:
    sock = _connect(host, port, deadline)
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host if tls.check_hostname else None)
        sock.settimeout(deadline.left())
        sock.sendall(payload)
        if half_close:
            # ZooKeeper answers and closes; some proxies wait for our EOF first.  A peer that has
            # already reset the connection makes this fail with ENOTCONN: read what there is.
            try:  # noqa: SIM105 (suppress() would hide which call may fail)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        chunks = []
        size = 0
        while True:
            sock.settimeout(deadline.left())
            chunk = sock.recv(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY:
                raise _Flooded
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def _connect(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A connected socket to the first address of ``host`` that accepts, before the deadline."""
    error: OSError | None = None
    for family, _type, _proto, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.left())
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address for {host}")
