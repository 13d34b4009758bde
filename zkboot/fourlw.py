"""A tiny four-letter-word client (standard library only): the probe path imports this.

One overall deadline covers connect, send and read: the old ``echo ruok | nc`` had none and hung
the kubelet's exec when a server accepted and never answered.
"""

from __future__ import annotations

import socket
import time


class FourLetterError(Exception):
    """The command got no usable answer; ``reason`` is one short phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ask(command: str, host: str = "127.0.0.1", port: int = 2181, timeout: float = 1.0) -> str:
    """Send ``command``, half-close, and read the reply to EOF, all within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FourLetterError(f"timed out after {timeout:g}s")
        return left

    try:
        with socket.create_connection((host, port), timeout=remaining()) as sock:
            sock.sendall(command.encode("ascii"))
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                sock.settimeout(remaining())
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except ConnectionRefusedError:
        raise FourLetterError(f"connection refused by {host}:{port}") from None
    except TimeoutError:
        raise FourLetterError(f"timed out after {timeout:g}s") from None
    except OSError as exc:
        raise FourLetterError(f"{host}:{port}: {exc.strerror or exc}") from None
    return b"".join(chunks).decode("utf-8", errors="replace")
