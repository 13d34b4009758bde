"""The simulator's own promises: the StatefulSet controller (revisions, RollingUpdate with its
partition, OnDelete, scaling during a rollout, DNS names, PVCs, restart counts), TLS Secrets signed
by the run's CA (or by the CA of the issuer a cert-manager Certificate names), cleanup on SIGTERM,
removal of what a killed run left behind, and one line without root."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podsim import pki
from podsim.cluster import PodEvent, Simulation, SimulationError
from podsim.manifest import Probe, Security, StatefulSet, load_yaml
from podsim.net import NETNS_ETC
from podsim.podman import security_flags
from podsim.runs import Record
from tests.e2e.helpers import BASE, REPO, SLEEPER, load, missing_requirements, wait_healthy
from tests.helpers import Unprivileged

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
    assert sts.image == "zkboot:0.1.0"
    assert sts.security == Security(
        run_as_user=1000,
        run_as_group=1000,
        fs_group=1000,
        run_as_non_root=True,
        read_only_root=True,
        allow_privilege_escalation=False,
        drop=("ALL",),
    )
    assert [(volume, mode) for volume, _, _, mode in sts.secrets] == [("super", 0o440)]


def test_container_fields_override_the_pods_and_map_to_podmans_flags() -> None:
    pod = {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000, "runAsNonRoot": True}
    container = {"runAsUser": 1001, "readOnlyRootFilesystem": True, "capabilities": {"add": ["NET_BIND_SERVICE"]}}
    security = Security.from_specs(pod, container)
    assert (security.run_as_user, security.run_as_group, security.fs_group) == (1001, 1000, 2000)
    assert security_flags(security) == [
        "--user=1001:1000", "--group-add=2000", "--read-only", "--read-only-tmpfs=false",
        "--cap-add=net_bind_service",
    ]  # fmt: skip
    # Nothing set: the image's user, the runtime's capabilities, privilege escalation allowed.
    assert security_flags(Security.from_specs({}, {})) == []


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


# -- the StatefulSet controller: revisions, update strategies, scaling, DNS, PVCs -------------------------
# Tiny pods (tests/fixtures' sleeper, no ZooKeeper): each is created and Ready in a fraction of a second.

GRACE = 5.0  # seconds: a pod that obeys SIGTERM is gone long before; one that ignores it takes all of it
SHORT_GRACE = 0.3  # for pods that ignore SIGTERM, whose every deletion takes the whole grace period
QUIET = 1.0  # seconds to watch that the controller does nothing: 4 of its 0.25 s rounds
ROLL_TIMEOUT = 60.0
IGNORES_TERM = ("sh", "-c", "trap '' TERM; exec sleep 600")  # sleep inherits the ignored SIGTERM


def tiny(
    replicas: int = 3,
    policy: str = "Parallel",
    strategy: str = "RollingUpdate",
    partition: int = 0,
    ignore_term: bool = False,
) -> StatefulSet:
    """The sleeper as a StatefulSet of ``replicas`` pods with a readiness probe that passes (after
    0.2 s, so that Ready comes measurably after the start)."""
    return dataclasses.replace(
        load(SLEEPER),
        replicas=replicas,
        policy=policy,
        update_strategy=strategy,
        partition=partition,
        command=IGNORES_TERM if ignore_term else load(SLEEPER).command,
        grace_period=SHORT_GRACE if ignore_term else GRACE,
        readiness=Probe(("true",), initial_delay=0.2, period=1.0),
    )


def changed(sts: StatefulSet, generation: int) -> StatefulSet:
    """``sts`` with a template change (an environment variable): a new revision."""
    return dataclasses.replace(sts, env={**sts.env, "GENERATION": str(generation)})


def all_ready(s: Simulation) -> bool:
    return s.ordinals() == list(range(s.replicas)) and s.ready_count() == s.replicas


def quiet(s: Simulation, holds: Callable[[], bool], what: str) -> None:
    """``holds()`` stays true for QUIET seconds (polled every 50 ms): the controller did not act."""
    deadline = time.monotonic() + QUIET
    while time.monotonic() < deadline:
        assert holds(), f"{what}\n{s.table()}\n{s.history()[-10:]}"
        time.sleep(0.05)


def events(s: Simulation, kind: str, since: float = 0.0) -> list[PodEvent]:
    return [e for e in s.history() if e.kind == kind and e.at >= since]


def ready_when_deleting(s: Simulation, since: float) -> list[tuple[int, set[int]]]:
    """For each deletion after ``since``: the pod deleted and the pods Ready at that moment,
    replayed from the history (a pod is Ready from its "ready" event to its next "unready" or "gone")."""
    ready: set[int] = set()
    seen = []
    for event in s.history():
        if event.kind == "terminating" and event.at >= since:
            seen.append((event.ordinal, set(ready)))
        if event.kind == "ready":
            ready.add(event.ordinal)
        elif event.kind in ("unready", "gone"):
            ready.discard(event.ordinal)
    return seen


def hosts_seen_by(s: Simulation, ordinal: int) -> str:
    """/etc/hosts as pod ``ordinal``'s container sees it (through its own mount namespace)."""
    pod = s.pods[ordinal]
    assert pod.process is not None
    return Path(f"/proc/{pod.process.pid}/root/etc/hosts").read_text()


def name(s: Simulation, ordinal: int) -> str:
    return f"{s.address(ordinal)} {s.sts.name}-{ordinal}.{s.sts.domain} {s.sts.name}-{ordinal}"


@pytest.mark.parametrize("policy", ["Parallel", "OrderedReady"])
def test_rolling_update_replaces_one_pod_at_a_time_highest_first_each_once_all_are_ready(
    sim: Callable[..., Simulation], policy: str
) -> None:
    s = sim(tiny(policy=policy))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    assert s.rollout_done() and [s.revision_of(i) for i in range(3)] == [1, 1, 1]

    updated_at = time.monotonic()
    assert s.update(changed(s.sts, 2)) == 2
    assert not s.rollout_done()
    took = s.wait(s.rollout_done, ROLL_TIMEOUT, "the rollout to revision 2")
    print(f"\n{policy}: 3 pods rolled to revision 2 in {took:.1f}s")

    assert [e.ordinal for e in events(s, "terminating", updated_at)] == [2, 1, 0]
    created = events(s, "created", updated_at)
    assert [(e.ordinal, e.revision) for e in created] == [(2, 2), (1, 2), (0, 2)]
    # Each deletion came while every pod was Ready, so after the previous replacement's readiness.
    assert ready_when_deleting(s, updated_at) == [(i, {0, 1, 2}) for i in (2, 1, 0)]
    ready = {e.ordinal: e.at for e in events(s, "ready", updated_at) if e.revision == 2}
    deleting = {e.ordinal: e.at for e in events(s, "terminating", updated_at)}
    assert ready[2] < deleting[1] and ready[1] < deleting[0]
    # SIGTERM ended each pod (sleep dies of it), long before the grace period's SIGKILL.
    gone = {e.ordinal: e.at for e in events(s, "gone", updated_at)}
    assert all(gone[i] - deleting[i] < GRACE / 2 for i in range(3)), (gone, deleting)
    assert [row["revision"] for row in s.rows()] == ["2", "2", "2"]
    assert [(s.creations(i), s.restarts(i)) for i in range(3)] == [(2, 0)] * 3


def test_partition_keeps_the_lower_ordinals_which_come_back_on_the_current_revision(
    sim: Callable[..., Simulation],
) -> None:
    s = sim(tiny(partition=1))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    assert s.update(changed(s.sts, 2)) == 2
    s.wait(s.rollout_done, ROLL_TIMEOUT, "the rollout down to the partition")
    assert [s.revision_of(i) for i in range(3)] == [1, 2, 2]
    assert s.creations(0) == 1

    s.delete(0)  # below the partition: recreated from the current revision, not the update one
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 0 recreated")
    assert s.revision_of(0) == 1 and s.creations(0) == 2

    # The partition lowered, template unchanged: the same revision, now rolled to pod 0 as well.
    assert s.update(dataclasses.replace(s.sts, partition=0)) == 2
    s.wait(lambda: s.revision_of(0) == 2 and s.rollout_done(), ROLL_TIMEOUT, "pod 0 rolled")
    assert [s.revision_of(i) for i in range(3)] == [2, 2, 2]
    assert [s.creations(i) for i in range(3)] == [3, 2, 2]


def test_on_delete_keeps_every_pod_on_its_revision_until_it_is_deleted(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny(strategy="OnDelete"))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    updated_at = time.monotonic()
    assert s.update(changed(s.sts, 2)) == 2
    quiet(s, lambda: not events(s, "terminating", updated_at), "OnDelete deleted a pod by itself")
    assert [s.revision_of(i) for i in range(3)] == [1, 1, 1]
    assert not s.rollout_done()

    s.delete(1)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 1 recreated")
    assert [s.revision_of(i) for i in range(3)] == [1, 2, 1]
    quiet(s, lambda: len(events(s, "terminating", updated_at)) == 1, "OnDelete deleted another pod")
    for ordinal in (2, 0):
        s.delete(ordinal)
    s.wait(s.rollout_done, ROLL_TIMEOUT, "every pod on revision 2")


def test_a_replacement_that_never_becomes_ready_stalls_the_rollout_for_good(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny())
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    good = s.sts
    broken = dataclasses.replace(good, readiness=Probe(("false",), period=0.5))
    updated_at = time.monotonic()
    assert s.update(broken) == 2
    s.wait(lambda: s.revision_of(2) == 2 and s.pods[2].running(), ROLL_TIMEOUT, "pod 2 recreated")

    def stalled() -> bool:
        return (
            [e.ordinal for e in events(s, "terminating", updated_at)] == [2]
            and [s.revision_of(i) for i in range(3)] == [1, 1, 2]
            and not s.pods[2].ready
            and s.ready_count() == 2
        )

    quiet(s, stalled, "the rollout went on past a replacement that is not Ready")
    assert not s.rollout_done()

    # Reverting the template is not enough (the broken pod is not Ready, so nothing proceeds), as
    # in Kubernetes: the broken pod has to be deleted by hand, and comes back on the old revision.
    assert s.update(good) == 1
    quiet(s, stalled, "the rollout went on while a pod is not Ready")
    s.delete(2)
    s.wait(s.rollout_done, ROLL_TIMEOUT, "pod 2 back on revision 1")
    assert [s.revision_of(i) for i in range(3)] == [1, 1, 1]
    assert [s.creations(i) for i in range(3)] == [1, 1, 3]


def test_no_pod_is_replaced_while_another_is_not_ready(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny())
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    s.kill(0, hold=True)
    s.wait(lambda: not s.pods[0].ready, 10, "pod 0 not Ready")
    updated_at = time.monotonic()
    s.update(changed(s.sts, 2))
    quiet(s, lambda: not events(s, "terminating", updated_at), "a pod was replaced while pod 0 was not Ready")

    s.restart(0)
    s.wait(s.rollout_done, ROLL_TIMEOUT, "the rollout once pod 0 is back")
    ready_again = next(e.at for e in events(s, "ready", updated_at) if e.ordinal == 0)
    assert events(s, "terminating", updated_at)[0].at > ready_again
    assert s.restarts(0) == 1  # the held container's restart counts; the recreation then keeps it


@pytest.mark.parametrize("policy", ["Parallel", "OrderedReady"])
def test_scaling_up_and_down_during_a_rollout(sim: Callable[..., Simulation], policy: str) -> None:
    s = sim(tiny(policy=policy, ignore_term=True))  # every deletion takes SHORT_GRACE: rollouts last
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    updated_at = time.monotonic()
    s.update(changed(s.sts, 2))
    s.wait(lambda: bool(events(s, "terminating", updated_at)), 10, "the rollout under way")
    s.scale(5)
    s.wait(lambda: s.rollout_done() and s.ordinals() == [0, 1, 2, 3, 4], ROLL_TIMEOUT, "5 pods on revision 2")
    assert [s.revision_of(i) for i in range(5)] == [2] * 5
    assert [s.creations(i) for i in range(5)] == [2, 2, 2, 1, 1]  # 3 and 4 made on revision 2 at once

    updated_at = time.monotonic()
    s.update(changed(s.sts, 3))
    s.wait(lambda: bool(events(s, "terminating", updated_at)), 10, "the second rollout under way")
    s.scale(2)
    s.wait(lambda: s.rollout_done() and s.ordinals() == [0, 1], ROLL_TIMEOUT, "2 pods on revision 3")
    assert [s.revision_of(i) for i in range(2)] == [3, 3]
    assert {e.ordinal for e in events(s, "gone", updated_at)} == {0, 1, 2, 3, 4}
    # Pods 2 and 3 were removed by the scale-down, not recreated on revision 3 on the way.
    assert [e.ordinal for e in events(s, "created", updated_at) if e.ordinal >= 2] in ([], [4])
    hosts = hosts_seen_by(s, 0)
    assert all(f"{s.sts.name}-{i}." not in hosts for i in (2, 3, 4)), hosts


@pytest.mark.parametrize("policy", ["Parallel", "OrderedReady"])
def test_scale_down_removes_the_highest_ordinals_sigterm_then_sigkill(
    sim: Callable[..., Simulation], policy: str
) -> None:
    s = sim(tiny(replicas=4, policy=policy, ignore_term=True))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "4 pods Ready")
    scaled_at = time.monotonic()
    s.scale(1)
    s.wait(lambda: s.ordinals() == [0], ROLL_TIMEOUT, "pods 1-3 removed")

    deleting = {e.ordinal: e.at for e in events(s, "terminating", scaled_at)}
    gone = {e.ordinal: e.at for e in events(s, "gone", scaled_at)}
    assert sorted(deleting) == sorted(gone) == [1, 2, 3]
    # They ignore SIGTERM: each went only with the SIGKILL at the end of the grace period.
    assert all(gone[i] - deleting[i] >= SHORT_GRACE - 0.05 for i in deleting), (deleting, gone)
    if policy == "Parallel":  # all at once
        assert max(deleting.values()) < min(gone.values())
    else:  # one at a time, highest first, each once the one above is gone
        assert gone[3] <= deleting[2] and gone[2] <= deleting[1]
    hosts = hosts_seen_by(s, 0)
    assert name(s, 0) in hosts and all(f"{s.sts.name}-{i}." not in hosts for i in (1, 2, 3)), hosts
    assert s.net.namespace(1) not in netns_names()
    assert (s.restarts(0), s.creations(0)) == (0, 1)


def test_dns_names_come_with_a_pod_stay_through_its_recreation_and_go_with_a_scale_down(
    sim: Callable[..., Simulation],
) -> None:
    s = sim(tiny(policy="OrderedReady"))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    for ordinal in range(3):
        hosts = hosts_seen_by(s, ordinal)
        assert all(name(s, i) in hosts for i in range(3)) and f"{s.sts.name}-3" not in hosts, hosts

    # Pod 2 deleted while pod 0 is down: OrderedReady recreates it only once pod 0 is Ready again,
    # and its name stays meanwhile, as publishNotReadyAddresses keeps it.
    s.kill(0, hold=True)
    s.delete(2)
    quiet(s, lambda: 2 not in s.ordinals() and name(s, 2) in hosts_seen_by(s, 1), "pod 2 recreated or its name gone")
    s.restart(0)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 2 recreated")
    assert name(s, 2) in hosts_seen_by(s, 2)

    s.scale(4)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 3 created")
    assert all(name(s, 3) in hosts_seen_by(s, i) for i in range(4))
    s.scale(2)
    s.wait(lambda: s.ordinals() == [0, 1], ROLL_TIMEOUT, "pods 2 and 3 removed")
    for ordinal in (0, 1):
        hosts = hosts_seen_by(s, ordinal)
        assert name(s, 1) in hosts and f"{s.sts.name}-2." not in hosts and f"{s.sts.name}-3." not in hosts, hosts


def test_a_scaled_away_pod_leaves_pods_only_once_its_name_and_namespace_are_gone(
    sim: Callable[..., Simulation],
) -> None:
    """What an observer reads without the lock (``pods``, as the tests' predicates do) never shows
    a pod gone whose name is still in the others' /etc/hosts or whose namespace is still there."""
    s = sim(tiny())
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    hosts = NETNS_ETC / s.net.namespace(0) / "hosts"
    s.scale(2)
    deadline = time.monotonic() + ROLL_TIMEOUT
    while 2 in s.pods:  # no pause: the moment pod 2 leaves is the one to look at
        assert time.monotonic() < deadline, f"pod 2 not removed in {ROLL_TIMEOUT:g}s\n{s.table()}"
    seen = hosts.read_text()
    assert f"{s.sts.name}-2." not in seen and name(s, 1) in seen, seen
    assert s.net.namespace(2) not in netns_names()


def test_a_deleted_pod_scaled_away_before_its_recreation_loses_its_name_with_the_scale(
    sim: Callable[..., Simulation],
) -> None:
    """Pod 2 deleted and kept from its recreation (OrderedReady, pod 0 down): its name stays while
    replicas counts it, and goes when ``scale()`` returns, not once the controller gets going again."""
    s = sim(tiny(policy="OrderedReady"))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "3 pods Ready")
    s.kill(0, hold=True)
    s.delete(2)
    assert 2 not in s.ordinals() and name(s, 2) in hosts_seen_by(s, 1)
    s.scale(2)
    assert f"{s.sts.name}-2." not in hosts_seen_by(s, 1)
    assert s.net.namespace(2) not in netns_names()
    s.restart(0)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pods 0 and 1 Ready")
    assert f"{s.sts.name}-2." not in hosts_seen_by(s, 1) and s.ordinals() == [0, 1]


def test_delete_with_pvc_brings_the_pod_back_on_an_empty_one(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny(replicas=2))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "2 pods Ready")
    markers = [s.pvc_dir(i, "data") / "marker" for i in range(2)]
    for marker in markers:
        marker.write_text("kept\n")

    s.delete(1)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 1 recreated")
    assert markers[1].read_text() == "kept\n"  # on its PVC

    s.delete(1, with_pvc=True)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 1 recreated on a new PVC")
    assert s.pods[1].pvc_dirs["data"] == s.pvc_dir(1, "data")
    assert list(s.pvc_dir(1, "data").iterdir()) == []
    assert markers[0].read_text() == "kept\n"  # the other pod's PVC untouched
    assert (s.creations(0), s.restarts(0), s.creations(1)) == (1, 0, 3)


def test_restarts_count_every_container_start_of_an_ordinal_across_recreations(
    sim: Callable[..., Simulation],
) -> None:
    s = sim(tiny(replicas=2))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "2 pods Ready")
    s.kill(1)  # the kubelet restarts it after its back-off
    s.wait(lambda: s.restarts(1) == 1 and all_ready(s), 30, "pod 1 restarted by the kubelet")
    s.kill(1, hold=True)
    s.restart(1)
    s.wait(lambda: all_ready(s), 30, "pod 1 restarted by hand")
    assert s.restarts(1) == 2 and s.rows()[1]["restarts"] == "2"

    s.delete(1)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 1 recreated")
    assert s.pods[1].restarts == 0 and s.rows()[1]["restarts"] == "0"  # a new pod, as kubectl shows
    assert (s.restarts(1), s.creations(1)) == (2, 2)
    assert (s.restarts(0), s.creations(0)) == (0, 1)


def test_update_refuses_what_kubernetes_refuses_to_change(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny(replicas=0))
    with pytest.raises(SimulationError, match="podManagementPolicy may not be changed"):
        s.update(dataclasses.replace(s.sts, policy="OrderedReady"))
    claims = json.loads(s.sts.claim_templates)
    claims[0]["spec"]["resources"]["requests"]["storage"] = "2Gi"
    with pytest.raises(SimulationError, match="volumeClaimTemplates may not be changed"):
        s.update(dataclasses.replace(s.sts, claim_templates=json.dumps(claims, sort_keys=True)))
    with pytest.raises(SimulationError, match="selector may not be changed"):
        s.update(dataclasses.replace(s.sts, selector=(*s.sts.selector, ("component", "other"))))
    assert s.revision == 1 and s.update(dataclasses.replace(s.sts, replicas=0)) == 1


def answers_from_the_host(s: Simulation, ordinal: int) -> bool:
    """A TCP connection from the host to a port nothing listens on in the pod is refused at once
    when packets reach the pod; it times out when they go to a MAC address that is not there."""
    try:
        socket.create_connection((s.address(ordinal), 9), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return True


def test_a_pod_back_after_a_scale_down_is_reachable_at_once_on_its_address(sim: Callable[..., Simulation]) -> None:
    s = sim(tiny(replicas=2))
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "2 pods Ready")
    assert answers_from_the_host(s, 1)  # the host's neighbour cache now holds pod 1's MAC
    s.scale(1)
    s.wait(lambda: s.ordinals() == [0], ROLL_TIMEOUT, "pod 1 removed")
    s.scale(2)
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "pod 1 back")
    # A new MAC behind the same address would leave the host sending to the old one for ~30 s.
    assert answers_from_the_host(s, 1)
    link = subprocess.run(["ip", "-n", s.net.namespace(1), "-j", "link", "show", "eth0"], capture_output=True,
                          text=True, timeout=10, check=True).stdout  # fmt: skip
    assert json.loads(link)[0]["address"] == s.net.mac(1)


# -- TLS Secrets: kubernetes.io/tls as cert-manager's CA issuer makes them ----------------------------

TLS_SECRET = "sleeper-tls"
TLS_MOUNT = "/opt/zookeeper/secrets/tls"  # where zkboot's base mounts its Secrets
TLS_MODE = 0o400  # defaultMode; with fsGroup the kubelet adds group read
TLS_FS_GROUP = 4321  # host mode runs pods as root, but the files are still made the group's
TLS_FILES = ("tls.crt", "tls.key", "ca.crt", "password")


def with_tls(replicas: int) -> StatefulSet:
    """The sleeper mounting a TLS Secret that lists tls.crt, tls.key and ca.crt (and one more key,
    which stays a random value), with fsGroup set."""
    sleeper = load(SLEEPER)
    items = tuple((key, key) for key in TLS_FILES)
    return dataclasses.replace(
        sleeper,
        replicas=replicas,
        mounts={**sleeper.mounts, TLS_MOUNT: "tls"},
        secrets=(("tls", TLS_SECRET, items, TLS_MODE),),
        security=Security(fs_group=TLS_FS_GROUP),
    )


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30, check=False)


def pod_fqdn(s: Simulation, ordinal: int) -> str:
    return f"{s.sts.name}-{ordinal}.{s.sts.domain}"


def subject_alt_names(cert: Path) -> set[str]:
    """The certificate's subjectAltName entries as openssl prints them (DNS:..., IP Address:...)."""
    shown = openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName")
    assert shown.returncode == 0, shown.stderr
    [entries] = [line.strip() for line in shown.stdout.splitlines()[1:] if line.strip()]
    return set(entries.split(", "))


def test_a_tls_secret_holds_a_certificate_the_runs_ca_signed_for_every_pod_name(
    sim: Callable[..., Simulation],
) -> None:
    s = sim(with_tls(replicas=1))
    directory = s.secret_dir(TLS_SECRET)
    for file in TLS_FILES:
        made = (directory / file).stat()
        assert (oct(made.st_mode & 0o7777), made.st_gid) == (oct(TLS_MODE | 0o040), TLS_FS_GROUP), file
    cert, key, ca = directory / "tls.crt", directory / "tls.key", directory / "ca.crt"
    assert ca.read_text() == s.tls_ca().read_text()
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert "BEGIN" not in (directory / "password").read_text()  # not a TLS key: a random value

    verified = openssl("verify", "-CAfile", ca, cert)
    assert (verified.returncode, verified.stdout.strip()) == (0, f"{cert}: OK"), verified.stderr
    pods = [f"sleeper-{i}" for i in range(10)]  # max(replicas, 10) ordinals: scale-ups in a run included
    assert subject_alt_names(cert) == {
        *(f"DNS:{pod}.sleeper-hs.default.svc.cluster.local" for pod in pods),
        *(f"DNS:{pod}" for pod in pods),
        "DNS:sleeper-hs", "DNS:sleeper-hs.default.svc.cluster.local", "DNS:localhost", "IP Address:127.0.0.1",
    }  # fmt: skip
    usage = openssl("x509", "-in", cert, "-noout", "-ext", "extendedKeyUsage").stdout
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in usage
    assert openssl("x509", "-in", cert, "-noout", "-checkend", "3600").returncode == 0
    assert openssl("x509", "-in", cert, "-noout", "-checkend", str(3 * 86400)).returncode == 1  # 2 days
    from_key = openssl("pkey", "-in", key, "-pubout")
    from_cert = openssl("x509", "-in", cert, "-noout", "-pubkey")
    assert from_key.returncode == from_cert.returncode == 0, from_key.stderr + from_cert.stderr
    assert from_key.stdout == from_cert.stdout

    # The pod sees these files at the mount path once SETUP has exec'd its command.
    s.wait(lambda: all_ready(s), ROLL_TIMEOUT, "the pod Ready")
    process = s.pods[0].process
    assert process is not None
    seen = Path(f"/proc/{process.pid}/root{TLS_MOUNT}")
    s.wait(lambda: Path(f"/proc/{process.pid}/cmdline").read_bytes() == b"sleep\x00600\x00", 10, "sleep 600")
    assert {file: (seen / file).read_text() for file in TLS_FILES} == {
        file: (directory / file).read_text() for file in TLS_FILES
    }


def test_a_tls_secret_is_made_once_per_run_and_kept_across_updates(sim: Callable[..., Simulation]) -> None:
    s = sim(with_tls(replicas=0))
    directory = s.secret_dir(TLS_SECRET)
    before = {file: (directory / file).read_text() for file in TLS_FILES}
    s.update(changed(s.sts, 2))
    assert {file: (directory / file).read_text() for file in TLS_FILES} == before
    assert s.tls_ca().read_text() == before["ca.crt"]


def test_a_certificate_from_another_ca_does_not_verify_against_the_runs(
    sim: Callable[..., Simulation], tmp_path: Path
) -> None:
    s = sim(with_tls(replicas=0))
    other_ca, _ = other = pki.make_ca(tmp_path, "other-ca")
    other_cert, _ = pki.make_leaf(tmp_path, "other-leaf", *other, [pod_fqdn(s, 0)], ["127.0.0.1"])
    assert openssl("verify", "-CAfile", other_ca, other_cert).returncode == 0  # a good certificate...
    refused = openssl("verify", "-CAfile", s.tls_ca(), other_cert)
    assert refused.returncode != 0 and "unable to get local issuer certificate" in refused.stdout + refused.stderr
    assert openssl("verify", "-CAfile", other_ca, s.secret_dir(TLS_SECRET) / "tls.crt").returncode != 0


def certificate(secret: str, issuer: object) -> str:
    """A cert-manager Certificate for Secret ``secret`` from ``issuer``, as a YAML document."""
    return (f"---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {secret}}}\n"
            f"spec: {{secretName: {secret}, issuerRef: {{name: {issuer}, kind: Issuer}}}}\n")  # fmt: skip


def test_a_tls_secret_a_certificate_names_is_signed_by_its_issuers_ca(sim: Callable[..., Simulation]) -> None:
    """Two Secrets from one issuer's Certificates share that issuer's CA, which is not the run's;
    a third, named by no Certificate, keeps the run's CA."""
    yaml_stream = SLEEPER.read_text() + certificate("quorum-a", "own-ca") + certificate("quorum-b", "own-ca")
    sleeper = load_yaml(yaml_stream)
    assert sleeper.issuers == (("quorum-a", "own-ca"), ("quorum-b", "own-ca"))
    items = tuple((key, key) for key in ("tls.crt", "tls.key", "ca.crt"))
    volumes = {"tls": TLS_SECRET, "quorum-a": "quorum-a", "quorum-b": "quorum-b"}
    s = sim(dataclasses.replace(
        sleeper, replicas=0, mounts={**sleeper.mounts, **{f"/secrets/{v}": v for v in volumes}},
        secrets=tuple((volume, secret, items, TLS_MODE) for volume, secret in volumes.items()),
    ))  # fmt: skip
    own, run = s.tls_ca("own-ca"), s.tls_ca()
    assert own.read_text() != run.read_text()
    for secret, ca, other in (("quorum-a", own, run), ("quorum-b", own, run), (TLS_SECRET, run, own)):
        directory = s.secret_dir(secret)
        assert (directory / "ca.crt").read_text() == ca.read_text(), secret
        assert openssl("verify", "-CAfile", ca, directory / "tls.crt").returncode == 0, secret
        assert openssl("verify", "-CAfile", other, directory / "tls.crt").returncode != 0, secret
    with pytest.raises(
        SimulationError, match=r"^issuer nobody: no TLS Secret of this run is from it \(issuers: own-ca\)$"
    ):
        s.tls_ca("nobody")


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        (certificate("zk-tls", "null"), r"^Certificate zk-tls: spec.issuerRef.name None: expected a Kubernetes"),
        (certificate("zk-tls", "Bad_Name"), r"^Certificate zk-tls: spec.issuerRef.name 'Bad_Name': expected a"),
        (certificate("zk-tls", "a") + certificate("zk-tls", "b"), r"^Secret zk-tls: named by Certificates of two"),
    ],
)
def test_a_certificate_without_one_issuer_is_refused_in_one_line(documents: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_yaml(SLEEPER.read_text() + documents)


def handshake(server: tuple[Path, Path], client: tuple[Path, Path], ca: Path, server_hostname: str) -> str:
    """A mutual-TLS handshake on 127.0.0.1: a server with ``server``'s (cert, key) asking for a client
    certificate from ``ca``, a client with ``client``'s verifying the server against ``ca`` and
    ``server_hostname``.  What the server answers, or why the client refused."""
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(*server)
    serving.load_verify_locations(ca)
    serving.verify_mode = ssl.CERT_REQUIRED
    connecting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    connecting.load_cert_chain(*client)
    connecting.load_verify_locations(ca)

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as raw:
            raw.settimeout(10)
            with serving.wrap_socket(raw, server_side=True) as tls:
                # CERT_REQUIRED: the handshake completed only with a client certificate ``ca`` signed.
                tls.sendall(b"hello, client" if tls.getpeercert(binary_form=True) else b"no client certificate")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as raw,
            connecting.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            return tls.recv(100).decode()
    except ssl.SSLError as exc:
        return f"refused: {exc.reason}"
    finally:
        listener.close()
        thread.join(timeout=15)


def test_a_client_trusting_the_runs_ca_completes_a_mutual_handshake_with_a_pods_certificate(
    sim: Callable[..., Simulation], tmp_path: Path
) -> None:
    s = sim(with_tls(replicas=0))
    directory = s.secret_dir(TLS_SECRET)
    pair = (directory / "tls.crt", directory / "tls.key")
    ca = directory / "ca.crt"
    # The same certificate serves and authenticates as a client, as members and probes use it.
    for hostname in (pod_fqdn(s, 0), pod_fqdn(s, 9), "sleeper-2", "localhost", "127.0.0.1"):
        assert handshake(pair, pair, ca, hostname) == "hello, client", hostname
    # Names the StatefulSet's pods do not have in this run are refused.
    for hostname in (pod_fqdn(s, 10), f"other-0.{s.sts.domain}", "127.0.0.2"):
        assert handshake(pair, pair, ca, hostname) == "refused: CERTIFICATE_VERIFY_FAILED", hostname
    # A server whose certificate another CA signed is refused, whatever its names.
    other = pki.make_ca(tmp_path, "other-ca")
    impostor = pki.make_leaf(tmp_path, "impostor", *other, [pod_fqdn(s, 0)], ["127.0.0.1"])
    assert handshake(impostor, pair, ca, pod_fqdn(s, 0)) == "refused: CERTIFICATE_VERIFY_FAILED"


def test_openssl_failures_are_one_line_errors(
    sim: Callable[..., Simulation], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = pki.make_ca(tmp_path, "ca")
    with pytest.raises(ValueError) as raised:
        pki.make_leaf(tmp_path, "leaf", tmp_path / "missing.crt", ca[1], ["localhost"], [])
    assert str(raised.value).startswith("certificate leaf: openssl x509 failed: ")
    assert "\n" not in str(raised.value) and not (tmp_path / "leaf.crt").exists()
    # From start(), in the caller's thread: a SimulationError, before any pod.
    monkeypatch.setattr(pki, "OPENSSL_TIMEOUT", 0.001)
    with pytest.raises(SimulationError) as failed:
        sim(with_tls(replicas=1))
    assert "\n" not in str(failed.value)
    assert str(failed.value).startswith("the run's CA: CA podsim-")
    assert str(failed.value).endswith(": openssl genpkey took more than 0.001s")
