"""The ``sim`` fixture and plain helpers for the end-to-end tests (and tests/bench/bench_ensemble.py).

``sim(manifest, replicas=None)`` builds a podsim Simulation from a StatefulSet (or a kustomize dir
or a YAML file), starts it and returns it; every simulation a test made is closed when the test
ends, pass or fail.  When a test fails, its report gets a section per simulation with the status
table, the pods' events and the tail of each pod's log, taken before the close.

The servers are judged with podsim's own ``srvr`` reader (podsim/zk.py), never with zkboot's
client: a bug in zkboot's parser must not make zkboot's servers look right.  Every manifest the
tests boot is in the repository (manifests/, tests/fixtures/).
Needs root (network namespaces, mounts), ``ip``, ``unshare``, ``kubectl`` (kustomize) and Debian's
ZooKeeper; the tests are skipped otherwise (and a skip fails under CI, see tests/conftest.py).
The ``e2e`` marker is registered in pyproject.toml.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet, load_kustomization, load_yaml
from podsim.zk import Srvr, ZkError
from podsim.zk import srvr as ask_srvr

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "manifests" / "base"
LEGACY = REPO / "manifests" / "overlays" / "legacy"
FIXTURES = REPO / "tests" / "fixtures"
# The old deployments' StatefulSet: OrderedReady, start-zookeeper flags, zookeeper-ready probes.
LEGACY_STATEFULSET = FIXTURES / "legacy-statefulset.yaml"
SLEEPER = FIXTURES / "sleeper-statefulset.yaml"  # one pod that sleeps: no ZooKeeper needed
ZKSERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")

READY_TIMEOUT = 120.0  # seconds to all Ready: generous for a loaded 2-core CI machine
SERVING = ("leader", "follower")  # the modes of an ensemble member that serves clients
LOG_TAIL = 40  # lines of each pod's log in a failure report

SIMS = pytest.StashKey[list[Simulation]]()


def missing_requirements() -> str | None:
    """Why the simulator cannot run here, or None."""
    if os.geteuid() != 0:
        return "podsim needs root (network namespaces, bind mounts)"
    for tool in ("ip", "unshare", "kubectl"):
        if shutil.which(tool) is None:
            return f"podsim needs {tool} on PATH"
    if not ZKSERVER.exists():
        return f"needs Debian's zookeeper package ({ZKSERVER})"
    return None


@functools.cache
def load(manifest: Path) -> StatefulSet:
    """The StatefulSet of a kustomize dir or a YAML file."""
    if manifest.is_dir():
        return load_kustomization(manifest)
    return load_yaml(manifest.read_text())


def with_replicas(sts: StatefulSet, replicas: int) -> StatefulSet:
    """``sts`` scaled to ``replicas``, with the ensemble size zkboot reads changed along: the
    ``ZK_REPLICAS`` variable when the manifest sets it, and any ``--servers=N`` flag in the command
    (a list item or inside an ``sh -c`` string)."""
    env = dict(sts.env)
    if "ZK_REPLICAS" in env:
        env["ZK_REPLICAS"] = str(replicas)
    command = tuple(re.sub(r"--servers=\d+", f"--servers={replicas}", part) for part in sts.command)
    return dataclasses.replace(sts, replicas=replicas, env=env, command=command)


def srvr(sim: Simulation, ordinal: int) -> Srvr | None:
    """What pod ``ordinal``'s server says to ``srvr`` from the host, or None when it does not answer."""
    try:
        return ask_srvr(sim.address(ordinal))
    except ZkError:
        return None


def modes(sim: Simulation) -> list[str]:
    return [sim.mode(i) for i in range(sim.replicas)]


def healthy(sim: Simulation) -> bool:
    """Every pod running and Ready, every server a leader or follower, exactly one leader."""
    pods = [sim.pods.get(i) for i in range(sim.replicas)]
    if not all(pod is not None and pod.running() and pod.ready for pod in pods):
        return False
    seen = modes(sim)
    return all(mode in SERVING for mode in seen) and seen.count("leader") == 1


def wait_healthy(sim: Simulation, timeout: float = READY_TIMEOUT, what: str = "") -> float:
    """Seconds until ``healthy(sim)``; SimulationError (with the table) after ``timeout``."""
    label = f"all {sim.replicas} pods Ready with one leader" + (f" ({what})" if what else "")
    return sim.wait(lambda: healthy(sim), timeout, label)


def leader(sim: Simulation) -> int:
    found = [i for i, mode in enumerate(modes(sim)) if mode == "leader"]
    assert len(found) == 1, f"expected one leader, modes {modes(sim)}\n{sim.table()}"
    return found[0]


def log_text(sim: Simulation, ordinal: int) -> str:
    path = sim.root / "logs" / f"{sim.sts.name}-{ordinal}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def dump(sim: Simulation) -> str:
    """The table, each pod's events and the tail of each pod's log: what a failure report needs."""
    parts = [f"run {sim.run_id}, {sim.sts.name} ({sim.sts.policy}), files under {sim.root}"]
    try:
        parts.append(sim.table())
    except Exception as exc:  # a report must not fail while reporting
        parts.append(f"(no table: {exc!r})")
    for _, pod in sorted(sim.pods.items()):
        parts.append(f"--- events of {pod.hostname} ---\n" + "\n".join(pod.events[-15:]))
    for path in sorted((sim.root / "logs").glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        parts.append(f"--- last {LOG_TAIL} lines of {path} ---\n" + "\n".join(lines[-LOG_TAIL:]))
    return "\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed setup or call gets the state of the test's simulations (still running then)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and call.when in ("setup", "call"):
        for sim in item.stash.get(SIMS, []):
            if not sim.closed:
                report.sections.append((f"podsim {sim.run_id} at the failure", dump(sim)))


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Callable[..., Simulation]]:
    """A factory: ``sim(manifest, replicas=None)`` -> a started Simulation, closed after the test."""
    made: list[Simulation] = []
    request.node.stash[SIMS] = made

    def make(manifest: StatefulSet | Path, replicas: int | None = None) -> Simulation:
        sts = manifest if isinstance(manifest, StatefulSet) else load(manifest)
        if replicas is not None:
            sts = with_replicas(sts, replicas)
        simulation = Simulation(sts)
        made.append(simulation)
        simulation.start()
        return simulation

    try:
        yield make
    finally:
        for simulation in made:
            simulation.close()
