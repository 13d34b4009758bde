"""Shared helpers: free loopback ports, a four-letter-word call, and a real ZooKeeper started by zkboot."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zkboot.fourlw import FourLetterError, ask

BIN = Path(sys.executable).parent
DEBIAN_ZKSERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI set, a skipped test is a failure: a skip there hides a missing install step."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped with CI set: {report.longrepr}"


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


@pytest.fixture
def zk_launcher(tmp_path: Path) -> Iterator[object]:
    """Start ``start-zookeeper`` (or any command) with a private tree; stops all it started."""
    if not DEBIAN_ZKSERVER.exists():
        pytest.skip("Debian's zookeeper package is not installed (apt-get install -y zookeeper)")
    started: list[subprocess.Popen[bytes]] = []

    def launch(command: Sequence[str], paths: ZkPaths, env_extra: dict[str, str] | None = None) -> Started:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZK_")}
        env.update({"ZK_HOSTNAME": "zk-0", "JMXDISABLE": "true"})
        env.update(env_extra or {})
        output = paths.root / f"output-{len(started)}.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(list(command), stdout=sink, stderr=subprocess.STDOUT, env=env)
        started.append(process)
        return Started(process, paths, output)

    yield launch
    for process in started:
        stop(process)


def script(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"console script {name} is not installed"
    return found
