"""``srvr`` from the host: podsim's own four-letter-word reader, standard library only.

The status table and the end-to-end tests judge zkboot's servers with this, not with zkboot's own
client, so that a bug in zkboot's parser cannot make its servers look right.  One deadline covers
connect, send and the read to EOF (ZooKeeper answers a four-letter word and closes).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass

# What ZooKeeper answers instead of the statistics, and the names the table shows for them.
NOT_SERVING_TEXT = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED_TEXT = "is not executed because it is not in the whitelist"
MAX_REPLY = 1 << 20  # bytes: a srvr reply is a few hundred; anything this long is not one


class ZkError(Exception):
    """No usable answer; ``kind`` says why in a word or two (refused, timed out, not serving...)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Srvr:
    mode: str  # leader, follower, observer, standalone
    zxid: int


def ask(host: str, port: int, command: str, timeout: float, tls: ssl.SSLContext | None = None) -> str:
    """The whole reply of ``host:port`` to the four-letter word ``command``, within ``timeout``
    (over TLS with ``tls``: a secure client port)."""
    deadline = time.monotonic() + timeout
    where = f"{host}:{port}"
    chunks: list[bytes] = []
    received = 0
    try:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
            if tls is not None:
                sock = stack.enter_context(tls.wrap_socket(sock))
            sock.sendall(command.encode("ascii"))
            while received <= MAX_REPLY:  # and the deadline, below
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks).decode("utf-8", "replace")
                chunks.append(chunk)
                received += len(chunk)
    except ConnectionRefusedError:
        raise ZkError("refused", f"{where} refused the connection") from None
    except TimeoutError:
        raise ZkError("timed out", f"{where} gave no whole reply within {timeout:g}s") from None
    except OSError as exc:
        raise ZkError("unreachable", f"{where}: {exc.strerror or exc}") from None
    raise ZkError("unexpected reply", f"{where} sent more than {MAX_REPLY} bytes to {command}")


def parse_srvr(text: str) -> Srvr:
    """``Mode:`` and ``Zxid:`` of a ``srvr`` reply; ZkError when the reply is not one."""
    if text.startswith(NOT_SERVING_TEXT):
        raise ZkError("not serving", text.strip())
    if NOT_WHITELISTED_TEXT in text:
        raise ZkError("not in the 4lw whitelist", text.strip())
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        return Srvr(mode=fields["Mode"], zxid=int(fields["Zxid"], 16))
    except (KeyError, ValueError):
        raise ZkError("unexpected reply", f"not a srvr reply: {text[:80]!r}") from None


def srvr(host: str, port: int = 2181, timeout: float = 0.5, tls: ssl.SSLContext | None = None) -> Srvr:
    return parse_srvr(ask(host, port, "srvr", timeout, tls))
