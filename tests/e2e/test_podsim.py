"""The simulator's own promises: scaling, cleanup on SIGTERM, and one line without root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from podsim.net import NETNS_ETC
from tests.conftest import Unprivileged
from tests.e2e.conftest import BASE, REPO, load, missing_requirements, wait_healthy

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_scale_down_then_up_keeps_the_pvc(sim: Any) -> None:
    simulation = sim(BASE)
    wait_healthy(simulation)
    myid = simulation.myid(2)
    simulation.scale(2)
    simulation.wait(lambda: 2 not in simulation.pods, 60, "pod 2 removed")
    assert simulation.net.namespace(2) not in netns_names()
    hosts = (NETNS_ETC / simulation.net.namespace(0) / "hosts").read_text()
    assert "zk-2." not in hosts and "zk-1.zk-hs.default.svc.cluster.local" in hosts
    simulation.wait(lambda: simulation.ready_count() == 2, 60, "the two remaining pods Ready (quorum of 3)")

    simulation.scale(3)
    wait_healthy(simulation, what="after scaling back up")
    assert simulation.myid(2) == myid  # the same PVC, kept while the pod was gone


def test_sigterm_cleans_up_everything(tmp_path: Path) -> None:
    before = netns_names()
    log = tmp_path / "podsim.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "podsim", "--no-demo", "--replicas", "1"],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "running; Ctrl-C" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        run_line = log.read_text().splitlines()[0]
        run_id = run_line.split()[2].rstrip(":")
        assert any(name.startswith(f"zkbsim-{run_id}-") for name in netns_names())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert netns_names() == before
    assert not list(NETNS_ETC.glob(f"zkbsim-{run_id}-*"))
    assert not Path(f"/var/tmp/podsim-{run_id}").exists()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=10, check=True).stdout
    assert f"zb{run_id}" not in links
    java = subprocess.run(["pgrep", "-f", f"podsim-{run_id}"], capture_output=True, text=True, timeout=10)
    assert java.stdout == ""


def test_without_root_it_says_so_in_one_line(unprivileged: Unprivileged) -> None:
    if unprivileged.become is None:
        pytest.skip("already not root: nothing to drop")
    result = subprocess.run(
        [sys.executable, "-m", "podsim", "--no-demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=unprivileged.become,
        env={**os.environ, "HOME": "/tmp"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["podsim: podsim needs root (network namespaces, bind mounts): run it as root"]
    assert "Traceback" not in result.stdout + result.stderr


def test_loading_the_base_gives_what_the_simulator_needs() -> None:
    sts = load(BASE)
    assert (sts.name, sts.service, sts.policy) == ("zk", "zk-hs", "Parallel")
    assert sts.readiness is not None and sts.readiness.command == ("zkboot", "probe", "ready")
    assert sts.memory_limit == 1 << 30
