"""Plain helpers for the end-to-end tests (and tests/bench/bench_ensemble.py).

The ``sim`` fixture (tests/e2e/conftest.py) builds a podsim Simulation from a StatefulSet (or a
kustomize dir or a YAML file) and starts it; these helpers load manifests, wait for an ensemble to
be healthy, find its leader and read its pods' logs.

The servers are judged with podsim's own ``srvr`` reader (podsim/zk.py), never with zkboot's
client: a bug in zkboot's parser must not make zkboot's servers look right.  Every manifest the
tests boot is in the repository (manifests/, tests/fixtures/).

Observers for tests that change an ensemble while it serves (each a thread, bounded in count and
time, stopped with a bounded join by ``stop()`` or by leaving its ``with`` block):
- ``LeaderWatch(sim)``: every 100 ms, every pod's ``srvr`` mode at once; the most leaders any
  poll saw (``max_leaders``), the polls that saw more than one (``split_polls()``);
- ``Writer(sim)``: sequential znodes ``/writes/w-`` through a client knowing every pod, about every
  50 ms; ``acknowledged`` (the names whose create returned), ``failed`` (attempts that raised);
- ``check_all_members(sim, acknowledged)``: each member read on its own (after a sync): what it
  lacks and what it holds; ``assert_all_members_agree`` fails, naming each member, unless every
  acknowledged write is on every member and all members hold the same znodes.
Needs root (network namespaces, mounts), ``ip``, ``unshare``, ``kubectl`` (kustomize) and Debian's
ZooKeeper; the tests are skipped otherwise (and a skip fails under CI, see tests/conftest.py).
The ``e2e`` marker is registered in pyproject.toml.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet, load_kustomization, load_yaml
from podsim.zk import Srvr, ZkError
from podsim.zk import srvr as ask_srvr
from tests.helpers import INSTALLATIONS, ZooKeeper

REPO = Path(__file__).resolve().parents[2]

BASE = REPO / "manifests" / "base"

LEGACY = REPO / "manifests" / "overlays" / "legacy"

FIXTURES = REPO / "tests" / "fixtures"

# The old deployments' StatefulSet: OrderedReady, start-zookeeper flags, zookeeper-ready probes.
LEGACY_STATEFULSET = FIXTURES / "legacy-statefulset.yaml"

SLEEPER = FIXTURES / "sleeper-statefulset.yaml"  # one pod that sleeps: no ZooKeeper needed


READY_TIMEOUT = 120.0  # seconds to all Ready: generous for a loaded 2-core CI machine

SERVING = ("leader", "follower")  # the modes of an ensemble member that serves clients

LOG_TAIL = 40  # lines of each pod's log in a failure report

FOURLW_LINE = re.compile(r"Processing (srvr|ruok|mntr) command from")


def missing_requirements() -> str | None:
    """Why the simulator cannot run here, or None."""
    if os.geteuid() != 0:
        return "podsim needs root (network namespaces, bind mounts)"
    for tool in ("ip", "unshare", "kubectl"):
        if shutil.which(tool) is None:
            return f"podsim needs {tool} on PATH"
    for zookeeper in INSTALLATIONS:
        why = zookeeper.missing()
        if why:
            return why
    return None


@functools.cache
def load(manifest: Path) -> StatefulSet:
    """The StatefulSet of a kustomize dir or a YAML file."""
    if manifest.is_dir():
        return load_kustomization(manifest)
    return load_yaml(manifest.read_text())


def on_installation(sts: StatefulSet, zookeeper: ZooKeeper) -> StatefulSet:
    """``sts`` with its pods running ``zookeeper`` (ZK_HOME in the container's environment: pods
    run this machine's files in host mode); a changed ZK_HOME is a new template revision."""
    return dataclasses.replace(sts, env={**sts.env, "ZK_HOME": str(zookeeper.home)})


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
        return ask_srvr(sim.address(ordinal), sim.client_port, tls=sim.client_tls)
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
        # A LeaderWatch makes every server log each srvr it answers: those lines would fill the tail.
        lines = [line for line in path.read_text(errors="replace").splitlines() if not FOURLW_LINE.search(line)]
        parts.append(
            f"--- last {LOG_TAIL} lines of {path} (four-letter words left out) ---\n" + "\n".join(lines[-LOG_TAIL:])
        )
    return "\n".join(parts)


# For a test whose pods run from the image docker/Dockerfile builds (podman, securityContext
# honoured; marker ``image``), not from this machine's files (host, the default).
IMAGE_MODE = pytest.mark.parametrize("sim", [pytest.param("image", marks=pytest.mark.image)], indirect=True)


class _Observer:
    """A daemon thread running ``_run`` until ``stop()``; ``with`` starts and stops it.  ``stop()``
    joins within ``JOIN_TIMEOUT`` and raises AssertionError if the thread is still alive or failed."""

    JOIN_TIMEOUT = 10.0

    def __init__(self, name: str) -> None:
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._guarded, name=name, daemon=True)

    def __enter__(self) -> _Observer:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.stop()
        else:  # the test's own failure is the one to report; still stop the thread
            self.stopping.set()
            self.thread.join(timeout=self.JOIN_TIMEOUT)

    def _guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by stop(), in the test's thread
            self.error = exc

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=self.JOIN_TIMEOUT)
        assert not self.thread.is_alive(), f"{self.thread.name} did not stop within {self.JOIN_TIMEOUT:g}s"
        assert self.error is None, f"{self.thread.name} failed: {self.error!r}"


@dataclass(frozen=True)
class Poll:
    at: float  # seconds since the watch started
    modes: dict[int, str]  # ordinal -> srvr mode, or why there is none (refused, timed out, ...)

    @property
    def leaders(self) -> frozenset[int]:
        return frozenset(i for i, mode in self.modes.items() if mode == "leader")


class LeaderWatch(_Observer):
    """Every PERIOD, asks every pod that exists for its ``srvr`` mode, all at once (each within
    SRVR_TIMEOUT, so a hung pod delays a poll by that much at most), and records the poll."""

    PERIOD = 0.1
    SRVR_TIMEOUT = 0.3
    MAX_SECONDS = 600.0

    def __init__(self, sim: Simulation) -> None:
        super().__init__("leader-watch")
        self.sim = sim
        self.polls: list[Poll] = []
        self.started = time.monotonic()

    def __enter__(self) -> LeaderWatch:
        super().__enter__()
        return self

    def _mode(self, ordinal: int) -> str:
        try:
            return ask_srvr(
                self.sim.address(ordinal), self.sim.client_port, self.SRVR_TIMEOUT, self.sim.client_tls
            ).mode
        except ZkError as exc:
            return exc.kind

    def _run(self) -> None:
        self.started = time.monotonic()
        deadline = self.started + self.MAX_SECONDS
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="leader-watch") as pool:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                began = time.monotonic()
                ordinals = self.sim.ordinals()
                modes = dict(zip(ordinals, pool.map(self._mode, ordinals), strict=True))
                self.polls.append(Poll(began - self.started, modes))
                self.stopping.wait(max(0.0, self.PERIOD - (time.monotonic() - began)))

    @property
    def max_leaders(self) -> int:
        return max((len(poll.leaders) for poll in self.polls), default=0)

    def split_polls(self) -> list[Poll]:
        """The polls that saw more than one leader: the moments (``at``) the ensemble was split."""
        return [poll for poll in self.polls if len(poll.leaders) > 1]

    def leaders_in_turn(self) -> list[int]:
        """Each pod that led, in order, once per term (a pod leading again after another counts again)."""
        turns: list[int] = []
        for poll in self.polls:
            if len(poll.leaders) == 1 and (not turns or turns[-1] not in poll.leaders):
                turns.append(next(iter(poll.leaders)))
        return turns

    def longest_gap(self) -> float:
        """The longest time between two polls: how long the watch may have been blind."""
        times = [poll.at for poll in self.polls]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def summary(self) -> str:
        leaderless = sum(1 for poll in self.polls if not poll.leaders)
        split = ", ".join(f"{p.at:.1f}s {sorted(p.leaders)}" for p in self.split_polls()[:10])
        return (f"{len(self.polls)} polls, max {self.max_leaders} leaders at once, {leaderless} without a leader"
                + (f", split at {split}" if split else ""))  # fmt: skip


WRITES = "/writes"

# What a create may raise while the ensemble changes: the write may or may not have been applied.
WRITE_FAILURES = (ConnectionLoss, SessionExpiredError, KazooTimeoutError)


class Writer(_Observer):
    """Creates sequential znodes ``WRITES/w-`` about every PACE through a client given every pod
    that exists when it is made, until stopped, MAX_WRITES acknowledged, MAX_SECONDS passed or
    MAX_FAILURES failed attempts (then it fails).  A write counts as acknowledged once its create
    returned the new name; one that raised (WRITE_FAILURES: a connection lost, a session expired,
    no answer within OP_TIMEOUT) is counted in ``failed`` and not retried (it may have been
    applied): the next write is a new znode.  kazoo reconnects to another member by itself."""

    PACE = 0.05
    OP_TIMEOUT = 15.0  # seconds for one create, past the 10 s session timeout
    MAX_WRITES = 20_000
    MAX_SECONDS = 600.0
    MAX_FAILURES = 1_000
    JOIN_TIMEOUT = OP_TIMEOUT + 30.0

    def __init__(self, sim: Simulation) -> None:
        super().__init__("znode-writer")
        self.hosts = sim.client_hosts()
        self.tls = sim.kazoo_args()
        self.acknowledged: list[str] = []  # child names, w-0000000000 ..., in the order acknowledged
        self.failed: Counter[str] = Counter()

    def __enter__(self) -> Writer:
        super().__enter__()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.MAX_SECONDS
        # Reconnect for as long as it runs; the one retried command gives up within a minute.
        zk = KazooClient(
            hosts=self.hosts,
            timeout=10.0,
            connection_retry=KazooRetry(max_tries=-1, max_delay=1.0),
            command_retry=KazooRetry(max_tries=30, max_delay=1.0, deadline=60.0),
            **self.tls,
        )
        try:
            zk.start(timeout=30)
            zk.retry(zk.ensure_path, WRITES)
            while not self.stopping.is_set() and len(self.acknowledged) < self.MAX_WRITES:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"still writing after {self.MAX_SECONDS:g}s: stop() was never called")
                try:
                    path = zk.create_async(f"{WRITES}/w-", b"w", sequence=True).get(timeout=self.OP_TIMEOUT)
                except WRITE_FAILURES as exc:
                    self.failed[type(exc).__name__] += 1
                    if self.failed.total() >= self.MAX_FAILURES:
                        raise RuntimeError(f"gave up after {self.failed.total()} failed writes") from exc
                    self.stopping.wait(0.1)
                    continue
                self.acknowledged.append(path.rsplit("/", 1)[1])
                self.stopping.wait(self.PACE)
        finally:
            zk.stop()
            zk.close()

    def wait_for(self, count: int, timeout: float) -> None:
        """Until ``count`` writes are acknowledged; AssertionError after ``timeout`` or if the
        writer ended before."""
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert self.thread.is_alive(), f"the writer ended after {len(self.acknowledged)} writes: {self.error!r}"
            assert time.monotonic() < deadline, (
                f"{len(self.acknowledged)} of {count} writes acknowledged after {timeout:g}s, "
                f"failed attempts {dict(self.failed)}"
            )
            time.sleep(0.05)


@dataclass(frozen=True)
class MemberView:
    """One member's ``WRITES`` as read through a client connected to it alone."""

    missing: tuple[str, ...]  # acknowledged writes it lacks
    children: frozenset[str]
    error: str | None = None  # why it could not be read (then missing and children mean nothing)


ZK_ERRORS = (KazooException, KazooTimeoutError)


def member_client(sim: Simulation, ordinal: int) -> KazooClient:
    """A started client connected to pod ``ordinal`` alone (with the run's TLS and SASL, if any)."""
    zk = KazooClient(hosts=f"{sim.address(ordinal)}:{sim.client_port}", timeout=10.0, **sim.kazoo_args())
    zk.start(timeout=30)
    return zk


def write_children(sim: Simulation, parent: str, values: dict[str, bytes]) -> None:
    """``parent`` and a child per entry of ``values``, created through pod 0, all acknowledged."""
    zk = member_client(sim, 0)
    try:
        zk.ensure_path(parent)
        for result in [zk.create_async(f"{parent}/{name}", value) for name, value in values.items()]:
            result.get(timeout=30)
    finally:
        zk.stop()
        zk.close()


def read_children(sim: Simulation, ordinal: int, parent: str) -> dict[str, bytes]:
    """Every child of ``parent`` and its value, as pod ``ordinal`` holds them (after a sync)."""
    zk = member_client(sim, ordinal)
    try:
        zk.sync(parent)
        results = {name: zk.get_async(f"{parent}/{name}") for name in zk.get_children(parent)}
        return {name: result.get(timeout=30)[0] for name, result in results.items()}
    finally:
        zk.stop()
        zk.close()


def read_member(sim: Simulation, ordinal: int, wanted: set[str]) -> MemberView:
    zk = KazooClient(hosts=f"{sim.address(ordinal)}:{sim.client_port}", timeout=10.0, **sim.kazoo_args())
    try:
        zk.start(timeout=30)
        zk.sync(WRITES)  # a follower may lag: catch up with the leader first
        children = frozenset(zk.get_children(WRITES))
    except ZK_ERRORS as exc:
        return MemberView(tuple(sorted(wanted)), frozenset(), f"{type(exc).__name__}: {exc}")
    finally:
        zk.stop()
        zk.close()
    return MemberView(tuple(sorted(wanted - children)), children)


def check_all_members(sim: Simulation, acknowledged: Iterable[str]) -> dict[int, MemberView]:
    """Every pod that exists, read on its own: ordinal -> what it lacks of ``acknowledged`` and
    the children of ``WRITES`` it holds."""
    wanted = set(acknowledged)
    return {ordinal: read_member(sim, ordinal, wanted) for ordinal in sim.ordinals()}


def assert_all_members_agree(sim: Simulation, acknowledged: Iterable[str]) -> dict[int, MemberView]:
    """AssertionError, one line per member at fault, unless every member was read, holds every
    acknowledged write, and all hold the same znodes (a write that failed may be on all or none)."""
    wanted = list(acknowledged)
    views = check_all_members(sim, wanted)
    name = sim.sts.name
    problems = [f"{name}-{i}: not read: {v.error}" for i, v in views.items() if v.error is not None]
    problems += [
        f"{name}-{i}: lacks {len(v.missing)} of {len(wanted)} acknowledged writes, e.g. {list(v.missing[:5])}"
        for i, v in views.items()
        if v.error is None and v.missing
    ]
    read = {i: v.children for i, v in views.items() if v.error is None}
    union: frozenset[str] = frozenset().union(*read.values())
    problems += [
        f"{name}-{i}: holds {len(children)} znodes, lacks {len(union - children)} another member holds, "
        f"e.g. {sorted(union - children)[:5]}"
        for i, children in read.items()
        if children != union
    ]
    assert views, "no member to read"
    assert not problems, f"the members disagree on {WRITES}:\n" + "\n".join(problems) + f"\n{sim.table()}"
    return views
