"""Plain helpers shared by the tests and the benchmarks: installed console scripts, a clean
environment, fake ZooKeeper homes, tree snapshots, free loopback ports, a four-letter-word call, the
paths of a real ZooKeeper started by zkboot, and a kazoo client that tries to get in.

The fixtures that use them are in tests/conftest.py; the benchmarks under tests/bench/ put the
repository root on sys.path to import this module.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts import zookeeper as upstream_zookeeper
from zkboot.client.fourlw import ask
from zkboot.errors import FourLetterError
from zkboot.installation import Installation

BIN = Path(sys.executable).parent

DEBIAN_ZKSERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")

# What zkboot.installation.examine makes of Debian's zookeeper package.
DEBIAN_INSTALLATION = Installation(
    DEBIAN_ZKSERVER,
    "fixed",
    "3.8.0",
    "log4j",
    (
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/slf4j-log4j12.jar",
        "/usr/share/java/log4j-1.2.jar",
        "/usr/share/java/netty-codec.jar",
        "/usr/share/java/servlet-api.jar",
    ),
)


@dataclass(frozen=True)
class ZooKeeper:
    """A real ZooKeeper installation the tests run: ``home`` is what ZK_HOME names."""

    name: str  # the test id
    home: Path
    version: str
    log_backend: str  # what zkboot writes the log configuration for: "log4j" or "logback"

    @property
    def zkserver(self) -> Path:
        return self.home / "bin" / "zkServer.sh"

    def missing(self) -> str | None:
        """Why this installation cannot run here, or None."""
        return None if self.zkserver.is_file() else f"{self.zkserver} is missing (./dev setup installs it)"


# Debian bookworm's package (fixed layout, log4j 1.2), and the image's ZooKeeper: upstream's
# tarball layout from Maven Central's jars (logback, the Prometheus provider), by scripts/zookeeper.py.
DEBIAN = ZooKeeper("debian-3.8", DEBIAN_ZKSERVER.parent.parent, "3.8.0", "log4j")
UPSTREAM = ZooKeeper("upstream-3.9", upstream_zookeeper.HOME, upstream_zookeeper.VERSION, "logback")
INSTALLATIONS = (DEBIAN, UPSTREAM)

# A test that depends on the server's behaviour runs once on each installation: its ``zookeeper``
# fixture (tests/conftest.py, Debian's by default) becomes each of INSTALLATIONS.
on_each_installation = pytest.mark.parametrize("zookeeper", INSTALLATIONS, ids=lambda z: z.name)

DOMAIN = "zk-hs.default.svc.cluster.local"


def old_start_pairs(statefulset: str) -> list[tuple[str, str]]:
    """The zoo.cfg pairs the kubernetes-zookeeper StatefulSet's ``start-zookeeper`` flags give pod
    <statefulset>-0, in order: the old script's keys, with ``autopurge.purgeInterval`` spelled right and
    no space in ``minSessionTimeout=4000``."""
    return [
        ("clientPort", "2181"),
        ("dataDir", "/var/lib/zookeeper/data"),
        ("dataLogDir", "/var/lib/zookeeper/data/log"),
        ("tickTime", "2000"),
        ("initLimit", "10"),
        ("syncLimit", "5"),
        ("maxClientCnxns", "60"),
        ("minSessionTimeout", "4000"),
        ("maxSessionTimeout", "40000"),
        ("autopurge.snapRetainCount", "3"),
        ("autopurge.purgeInterval", "12"),
        *((f"server.{i + 1}", f"{statefulset}-{i}.{DOMAIN}:2888:3888") for i in range(3)),
    ]


NOBODY = 65534

# Environment variables that configure zkboot or ZooKeeper (prefixes): never inherited by a test.
ZK_SETTINGS = ("ZK_", "ZOO", "JVMFLAGS", "SERVER_JVMFLAGS")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def four_letter(port: int, command: str, timeout: float = 2.0) -> str:
    """The reply of 127.0.0.1:port to a four-letter word, or '' when there is none."""
    try:
        return ask(command, port=port, timeout=timeout)
    except FourLetterError:
        return ""


def wait_until(predicate: object, timeout: float, interval: float = 0.1, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass (then fail the test)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@dataclass
class ZkPaths:
    root: Path
    client_port: int = field(default_factory=free_port)

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def flags(self) -> list[str]:
        return [
            f"--conf_dir={self.conf}",
            f"--data_dir={self.data}",
            f"--data_log_dir={self.root / 'datalog'}",
            f"--log_dir={self.root / 'log'}",
            f"--client_port={self.client_port}",
            "--heap=128M",
        ]


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    paths: ZkPaths
    output: Path

    @property
    def port(self) -> int:
        return self.paths.client_port

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process we started (by its PID) and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def script(name: str) -> str:
    """The console script installed next to this interpreter (the venv's), else the one on PATH."""
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found


def copy_scripts(directory: Path, names: Iterable[str]) -> Path:
    """This interpreter's installed scripts ``names`` copied into ``directory`` (made), modes kept."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(script(name), directory / name)
    return directory


def install_kind() -> str:
    """How zkboot is installed for this interpreter: editable or regular."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        direct_url = distribution("zkboot").read_text("direct_url.json") or ""
    except PackageNotFoundError:
        return "not installed"
    return "editable" if '"editable": true' in direct_url.replace("'", '"') else "regular (non-editable)"


def clean_env(dirs: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without zkboot/ZooKeeper settings, this venv's bin first on PATH.

    With ``dirs``: ZK_CONF_DIR, ZK_DATA_DIR, ZK_DATA_LOG_DIR and ZK_LOG_DIR point to conf, data,
    datalog and logs under it.  Then ``extra`` on top.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(ZK_SETTINGS)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    if dirs is not None:
        env.update(
            ZK_CONF_DIR=str(dirs / "conf"),
            ZK_DATA_DIR=str(dirs / "data"),
            ZK_DATA_LOG_DIR=str(dirs / "datalog"),
            ZK_LOG_DIR=str(dirs / "logs"),
        )
    env.update(extra)
    return env


def executable(path: Path, body: str = "exit 0\n") -> Path:
    """A /bin/sh script at ``path`` (parents created as needed) that runs ``body``; mode 0755."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}")
    path.chmod(0o755)
    return path


def stub_home(home: Path, body: str, jars: Iterable[str] = ()) -> Path:
    """A fake upstream ZooKeeper ``home``: bin/zkServer.sh running the shell ``body``, lib/ holding ``jars``."""
    executable(home / "bin" / "zkServer.sh", body)
    (home / "lib").mkdir()
    for jar in jars:
        (home / "lib" / jar).write_bytes(b"PK\x03\x04")
    return home


def snapshot(root: Path, mtimes: bool = False) -> dict[str, tuple[str, bytes | None, int | None]]:
    """Every entry under ``root`` by relative path: kind (file, dir, other), a file's bytes, and the
    mtime in ns with ``mtimes`` (else None).  Two equal snapshots: nothing added, removed or changed."""
    result: dict[str, tuple[str, bytes | None, int | None]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            kind, data = "file", path.read_bytes()
        else:
            kind, data = ("dir" if stat.S_ISDIR(st.st_mode) else "other"), None
        result[str(path.relative_to(root))] = (kind, data, st.st_mtime_ns if mtimes else None)
    return result


@dataclass(frozen=True)
class Unprivileged:
    """Who a command runs as under the ``unprivileged`` fixture, and how to get there."""

    uid: int
    become: Callable[[], None] | None  # preexec_fn that switches to uid; None when not root (nothing to do)

    def setpriv(self) -> list[str]:
        """An argv prefix that does what ``become`` does, through setpriv; [] when not root or no setpriv."""
        setpriv = shutil.which("setpriv")
        if self.become is None or setpriv is None:
            return []
        return [setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"]

    def own(self, path: Path) -> Path:
        """Give ``path`` to the user (as root; otherwise it is the current user's already)."""
        if self.become is not None:
            os.chown(path, self.uid, self.uid)
        return path


def become_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@dataclass(frozen=True)
class BuiltImage:
    store: object  # podsim.podman.Store, imported only when an image test runs
    name: str


def intruder_writes(hosts: str, **arguments: object) -> bool:
    """Whether a kazoo client made with ``arguments`` (TLS files, sasl_options...) gets a session
    within 5 s and creates /intruder; a refused client gets no session, or loses it first."""
    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.exceptions import KazooException  # type: ignore[import-untyped]
    from kazoo.handlers.threading import KazooTimeoutError  # type: ignore[import-untyped]

    client = KazooClient(hosts=hosts, timeout=5, **arguments)
    try:
        client.start(timeout=5)
        client.create("/intruder", b"in")
        return True
    except (KazooException, KazooTimeoutError):
        return False
    finally:
        client.stop()
        client.close()


def renewal_watches(pid: int) -> list[int]:
    """The TLS renewal watches (zkboot.start.renewal) whose parent is ``pid``, a server's JVM."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and b"zkboot.start.renewal" in (stat_file.parent / "cmdline").read_bytes():
                found.append(int(stat_file.parent.name))
        except (OSError, IndexError):
            continue  # a process that ended while it was read
    return found
