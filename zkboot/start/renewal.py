"""Renewed TLS certificates, taken without a restart.

ZooKeeper reloads a key store when its file is replaced (``sslQuorumReloadCertFiles``; the client
port reads its key store at each connection), but the key stores are zkboot's own files, made at
start from the Secret (tls.py: the key re-wrapped as PKCS#8), and the kubelet renews a Secret by
swapping a symlink that ZooKeeper's watch does not see.  So ``zkboot start``, just before its
exec, leaves this small process beside the server: every ``--tls-reload-interval`` seconds it
compares the Secrets' files with what the start read, and when they changed it makes the key store
again, with the start's own checks, and replaces the file atomically; a renewal that fails a check
is reported and ZooKeeper keeps the certificate it has.

It learns what to watch from a pipe on its stdin, whose other end the server inherits and never
writes: when the server's process ends, the pipe reports end of file and the watch ends with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from zkboot.client.access import TlsDir
from zkboot.errors import EnvironmentProblem
from zkboot.report import Reporter
from zkboot.start import files, tls
from zkboot.start.tls import KeyStore, fingerprint

MODULE = "zkboot.start.renewal"
SPEC_LIMIT = 1 << 16  # what the start sends: a few paths per key store


@dataclass(frozen=True, slots=True)
class Watched:
    """A key store to keep in step with its Secret."""

    label: str  # the setting naming the Secret, with its value
    source: str  # the Secret's dir
    keystore: str  # the key store's path
    fingerprint: str  # of the Secret's files the key store was last made from


def spawn(stores: Sequence[Watched], interval: int, program: str, log_format: str) -> str | None:
    """Start the watch, its pipe's writing end left open across the coming exec; a warning when
    it could not be started (the server starts anyway, and a renewal then needs a restart)."""
    spec = {"interval": interval, "program": program, "format": log_format, "stores": [asdict(w) for w in stores]}
    reading, writing = os.pipe()
    try:
        # close_fds: the writing end must not be the watch's own, or its end of file never comes.
        subprocess.Popen([sys.executable, "-m", MODULE], stdin=reading, close_fds=True)
    except OSError as exc:
        os.close(writing)
        return f"the TLS renewal watch did not start ({exc.strerror}); a renewed certificate needs a restart"
    finally:
        os.close(reading)
    try:
        os.write(writing, (json.dumps(spec) + "\n").encode())
    except OSError as exc:  # the watch ended at once
        os.close(writing)
        return f"the TLS renewal watch did not start ({exc.strerror}); a renewed certificate needs a restart"
    os.set_inheritable(writing, True)  # held by the server until it ends
    return None


def watched(stores: Sequence[KeyStore], path_of: dict[str, str]) -> tuple[Watched, ...]:
    """The key stores a start wrote (role -> path), as the watch takes them."""
    return tuple(Watched(s.label, s.source, path_of[s.role], s.fingerprint) for s in stores if s.text is not None)


def recheck(store: Watched, report: Reporter) -> Watched:
    """Make the key store again when its Secret's files changed; the store as now made from."""
    seen = fingerprint(TlsDir(store.source))
    if seen == store.fingerprint or not seen:  # unchanged, or in the middle of a swap
        return store
    try:
        text = tls.keystore(store.label, TlsDir(store.source))
    except EnvironmentProblem as exc:
        report.warn(f"{exc.problems[0]}; the renewal is not taken, ZooKeeper keeps its certificate")
        return replace(store, fingerprint=seen)
    try:
        files.write_atomic(Path(store.keystore), text, 0o600)
    except OSError as exc:
        report.warn(f"{store.keystore}: cannot write the renewed key store ({exc.strerror}); tried again later")
        return store
    report("renewal", f"{store.label}: the renewed certificate is in {store.keystore}; ZooKeeper reloads it")
    return replace(store, fingerprint=seen)


def watch(stores: Sequence[Watched], interval: float, report: Reporter, pipe: int = 0) -> None:
    """Recheck every ``interval`` seconds until ``pipe`` (the server's) reports end of file."""
    current = list(stores)
    while True:  # as long as the server runs
        ready, _, _ = select.select([pipe], [], [], interval)
        if ready and not os.read(pipe, SPEC_LIMIT):
            return  # the server ended
        current = [recheck(store, report) for store in current]


def read_spec(fd: int) -> tuple[float, Reporter, list[Watched]]:
    """The start's one line, read unbuffered (the pipe is watched for its end afterwards): the
    interval, the reporter and the key stores."""
    line = b""
    while not line.endswith(b"\n") and len(line) < SPEC_LIMIT:
        chunk = os.read(fd, SPEC_LIMIT - len(line))
        if not chunk:
            break
        line += chunk
    spec = json.loads(line)
    report = Reporter(str(spec["program"]), str(spec["format"]))
    stores = [Watched(**{key: str(value) for key, value in item.items()}) for item in spec["stores"]]
    return float(spec["interval"]), report, stores


def main() -> int:
    interval, report, stores = read_spec(sys.stdin.fileno())
    with contextlib.suppress(KeyboardInterrupt):  # a terminal's Ctrl-C reaches the watch too
        watch(stores, interval, report, sys.stdin.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
