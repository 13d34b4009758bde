"""The simulator's own promises: scaling, cleanup on SIGTERM, removal of what a killed run left
behind, and one line without root."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podsim.cluster import Simulation
from podsim.net import NETNS_ETC
from podsim.runs import Record
from tests.conftest import Unprivileged
from tests.e2e.conftest import BASE, REPO, SLEEPER, load, missing_requirements, wait_healthy

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def link_names() -> set[str]:
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, timeout=10, check=True).stdout
    return {str(link["ifname"]) for link in json.loads(out)}


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


# -- what a run killed before its cleanup leaves behind ----------------------------------------------

# A podsim run in a process of its own: boots tests/fixtures' sleeper (one pod running `sleep 600`),
# writes its run id and the pod's PID to a file once the pod runs, then waits for its stdin to close.
CHILD = """
import json, sys
from pathlib import Path
from podsim.cluster import Simulation
from podsim.manifest import load_yaml

manifest, info = Path(sys.argv[1]), Path(sys.argv[2])
with Simulation(load_yaml(manifest.read_text())) as sim:
    sim.start()
    sim.wait(lambda: 0 in sim.pods and sim.pods[0].running(), 60, "the pod running")
    info.with_suffix(".new").write_text(json.dumps({"run": sim.run_id, "pid": sim.pods[0].process.pid}))
    info.with_suffix(".new").rename(info)
    sys.stdin.read()
"""
CHILD_TIMEOUT = 60.0  # seconds for a child's pod to run, and for a child to end


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    info: Path
    log: Path
    run: str = ""
    pod: Record | None = None  # the pod's container: `sleep 600` once its setup has exec'd it


def start_child(directory: Path) -> Child:
    directory.mkdir()
    log = directory / "podsim.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(SLEEPER), str(directory / "info.json")],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Child(process, directory / "info.json", log)


def wait_for_pod(child: Child) -> None:
    """Until the child's pod runs `sleep 600` (SETUP has exec'd it): its run id and pod recorded."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    while not child.info.exists():
        assert child.process.poll() is None, child.log.read_text()
        assert time.monotonic() < deadline, f"the child's pod did not run\n{child.log.read_text()}"
        time.sleep(0.1)
    info = json.loads(child.info.read_text())
    child.run, pid = info["run"], info["pid"]
    child.pod = Record.of(pid)
    cmdline = Path(f"/proc/{pid}/cmdline")
    while not (cmdline.exists() and cmdline.read_bytes() == b"sleep\x00600\x00"):
        assert child.pod is not None and child.pod.alive(), f"pod process {pid} ended\n{child.log.read_text()}"
        assert time.monotonic() < deadline, f"pod process {pid} never became sleep 600"
        time.sleep(0.05)


def leftovers(child: Child) -> dict[str, bool]:
    """Which of what the child's run made exist now."""
    links = link_names()
    return {
        "namespace": f"zkbsim-{child.run}-0" in netns_names(),
        "bridge": f"zb{child.run}" in links,
        "veth": f"zb{child.run}h0" in links,
        "/etc/netns entry": (NETNS_ETC / f"zkbsim-{child.run}-0").exists(),
        "run dir": Path(f"/var/tmp/podsim-{child.run}").exists(),
        "sleep process": child.pod is not None and child.pod.alive(),
    }


def end_child(child: Child) -> None:
    """Stop the child (closing its stdin lets it clean up; SIGKILL after CHILD_TIMEOUT), then remove
    by hand whatever of its run is left, so that a failing test leaves nothing behind."""
    if child.process.poll() is None:
        with contextlib.suppress(BrokenPipeError):
            assert child.process.stdin is not None
            child.process.stdin.close()
        try:
            child.process.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait(timeout=30)
    if child.pod is not None and child.pod.alive():
        os.killpg(child.pod.pid, signal.SIGKILL)  # the container leads its own process group
    if child.run:
        subprocess.run(["ip", "netns", "del", f"zkbsim-{child.run}-0"], capture_output=True, timeout=10, check=False)
        for link in (f"zb{child.run}h0", f"zb{child.run}"):
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=10, check=False)
        shutil.rmtree(NETNS_ETC / f"zkbsim-{child.run}-0", ignore_errors=True)
        shutil.rmtree(f"/var/tmp/podsim-{child.run}", ignore_errors=True)


@contextlib.contextmanager
def children(tmp_path: Path, *names: str) -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        for name in names:
            started.append(start_child(tmp_path / name))
        yield started
    finally:
        for child in started:
            end_child(child)


def test_the_next_start_removes_what_a_killed_run_left_behind(sim: Callable[..., Simulation], tmp_path: Path) -> None:
    """A run SIGKILLed (no cleanup at all) leaves its namespace, bridge, veth, /etc/netns entry,
    run dir and its pod's process; the next Simulation's start removes them all, and leaves a run
    whose owner is alive alone."""
    with children(tmp_path, "killed", "alive") as (killed, alive):
        for child in (killed, alive):
            wait_for_pod(child)
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(timeout=30)
        everything = dict.fromkeys(leftovers(killed), True)
        assert leftovers(killed) == everything, "the killed run left less behind than expected"

        simulation = sim(SLEEPER, replicas=0)  # start() removes the leftovers before its bridge

        assert leftovers(killed) == dict.fromkeys(everything, False)
        assert killed.run in simulation.removed_runs
        assert leftovers(alive) == everything
        assert alive.run not in simulation.removed_runs
        assert alive.process.poll() is None
