"""zkboot's StatefulSets booted as pods on this machine (podsim), then used and broken like a cluster would.

Every test boots its own simulation (``sim`` fixture, tests/e2e/conftest.py) and waits on state
by polling with deadlines, never by sleeping a fixed time.  Seconds worth reporting are printed
(``pytest -s`` or ``-rP`` shows them).  Needs root; see tests/e2e/conftest.py.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.cluster import Simulation
from tests.e2e.helpers import (
    BASE,
    IMAGE_MODE,
    LEGACY_STATEFULSET,
    READY_TIMEOUT,
    SERVING,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    leader,
    load,
    log_text,
    missing_requirements,
    modes,
    srvr,
    wait_healthy,
)

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]

ROOT = "/e2e"
COUNT = 1000
# zkboot's default data dir (the base sets no ZK_DATA_DIR), on the datadir PVC at /var/lib/zookeeper.
MYID_FILE = "/var/lib/zookeeper/data/myid"


# -- data ------------------------------------------------------------------------------------------


def value(i: int) -> bytes:
    return f"value {i}".encode()


def expected(count: int = COUNT) -> dict[str, bytes]:
    return {f"n-{i:04d}": value(i) for i in range(count)}


@contextmanager
def client(hosts: str) -> Iterator[Any]:
    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=30)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


def write_znodes(zk: Any, count: int = COUNT) -> None:
    """``ROOT/n-0000`` ... each holding ``value(i)``; returns once every create is acknowledged."""
    zk.ensure_path(ROOT)
    for start in range(0, count, 100):
        batch = [zk.create_async(f"{ROOT}/n-{i:04d}", value(i)) for i in range(start, min(count, start + 100))]
        for result in batch:
            result.get(timeout=30)


def read_znodes(zk: Any) -> dict[str, bytes]:
    """Every child of ROOT and its value, after a sync (so a follower has caught up with the leader)."""
    zk.sync(ROOT)
    results = {name: zk.get_async(f"{ROOT}/{name}") for name in zk.get_children(ROOT)}
    return {name: result.get(timeout=30)[0] for name, result in results.items()}


def read_through(sim: Simulation, ordinal: int) -> dict[str, bytes]:
    with client(f"{sim.address(ordinal)}:2181") as zk:
        return read_znodes(zk)


def in_pod(sim: Simulation, ordinal: int, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` run in pod ``ordinal`` as its probes run (podsim's ``kubectl exec``)."""
    argv = sim.pods[ordinal].exec_argv(command)
    return subprocess.run(argv, env=sim.pods[ordinal].env, capture_output=True, text=True, timeout=10, check=False)


def pvc_tree(root: Path) -> dict[str, str]:
    """Every file and dir under ``root``: its relative name -> SHA-256 of its bytes ('dir' for a dir)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(root.rglob("*"))
    }


def same_zxid(sim: Simulation) -> bool:
    """Every server has applied the same last transaction (each has logged it before applying it)."""
    answers = [srvr(sim, i) for i in range(sim.replicas)]
    return all(a is not None for a in answers) and len({a.zxid for a in answers if a is not None}) == 1


def unresolved(sim: Simulation) -> str:
    """How often the servers failed to resolve a peer's name: a server that looked a peer up before
    the peer's pod existed keeps the failure for the JVM's negative DNS cache time (10 s), which
    explains a slow boot."""
    counts = [log_text(sim, i).count("UnknownHostException") for i in range(sim.replicas)]
    return f"UnknownHostException lines per pod: {counts}"


# -- 1, 2: booting ---------------------------------------------------------------------------------


def test_legacy_statefulset_boots_three_pods_in_order(sim: Callable[..., Simulation]) -> None:
    """The old deployments' StatefulSet (tests/fixtures: OrderedReady, ``start-zookeeper`` flags,
    ``zookeeper-ready 2181`` as both probes) as people run it."""
    sts = load(LEGACY_STATEFULSET)
    assert sts.policy == "OrderedReady"
    assert sts.readiness is not None and sts.liveness is not None
    for probe in (sts.readiness, sts.liveness):
        assert "zookeeper-ready 2181" in " ".join(probe.command)

    s = sim(sts)
    took = wait_healthy(s)
    print(f"\nlegacy StatefulSet: 3 pods Ready in {took:.1f}s (OrderedReady, initialDelaySeconds 10; {unresolved(s)})")

    assert [s.myid(i) for i in range(3)] == ["1", "2", "3"]
    assert sorted(modes(s)) == ["follower", "follower", "leader"]
    # OrderedReady: pod i+1 is created only once pod i is Ready, which its first readiness probe
    # (initialDelaySeconds after its start) can say at the earliest.
    starts = [s.pods[i].started_at for i in range(3)]
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier >= sts.readiness.initial_delay


# 3 from this machine's files (Debian's 3.8), 5 from the image (its 3.9.5).
@pytest.mark.parametrize(
    ("sim", "replicas"),
    [pytest.param("host", 3, id="3-host"), pytest.param("image", 5, id="5-image", marks=pytest.mark.image)],
    indirect=["sim"],
)
def test_base_manifest_boots_parallel(sim: Callable[..., Simulation], replicas: int) -> None:
    """zkboot's own manifest (Parallel, ``zkboot probe live``/``ready``): one leader, the rest followers."""
    sts = load(BASE)
    assert sts.policy == "Parallel"
    assert sts.readiness is not None and sts.readiness.command == ("zkboot", "probe", "ready")
    assert sts.liveness is not None and sts.liveness.command == ("zkboot", "probe", "live")

    s = sim(BASE, replicas=replicas)
    took = wait_healthy(s)
    print(f"\nmanifests/base: {replicas} pods Ready in {took:.1f}s ({unresolved(s)})")

    assert [s.myid(i) for i in range(replicas)] == [str(i + 1) for i in range(replicas)]
    seen = modes(s)
    assert seen.count("leader") == 1
    assert seen.count("follower") == replicas - 1


# -- 3: data through the ensemble ------------------------------------------------------------------


def test_znodes_written_through_first_pod_read_through_last(sim: Callable[..., Simulation]) -> None:
    s = sim(BASE)
    wait_healthy(s)
    last = s.replicas - 1

    start = time.monotonic()
    with client(f"{s.address(0)}:2181") as writer:
        write_znodes(writer)
    wrote = time.monotonic() - start
    read = read_through(s, last)
    print(f"\n{COUNT} znodes written through zk-0 in {wrote:.1f}s, read back through zk-{last}")

    assert read == expected()


# -- 4: a crashed leader ---------------------------------------------------------------------------


def test_killed_leader_restarts_on_its_pvc_and_serves_the_data(sim: Callable[..., Simulation]) -> None:
    s = sim(BASE)
    wait_healthy(s)
    with client(s.client_hosts()) as zk:
        write_znodes(zk)
    old = leader(s)
    myid = s.myid(old)
    answer = srvr(s, old)
    assert answer is not None
    old_epoch = answer.zxid >> 32
    others = [i for i in range(s.replicas) if i != old]

    killed_at = time.monotonic()
    s.kill(old)  # SIGKILL, not held: the kubelet restarts it

    def others_serve_a_new_leader() -> bool:
        # A leader in a later epoch proves the election happened (a follower's zxid only moves
        # with the next write, so only the leader's shows the new epoch).
        if not all(s.pods[i].ready for i in others):
            return False
        answers = [srvr(s, i) for i in range(s.replicas)]
        elected = any(a is not None and a.mode == "leader" and a.zxid >> 32 > old_epoch for a in answers)
        return elected and all((a := answers[i]) is not None and a.mode in SERVING for i in others)

    s.wait(others_serve_a_new_leader, READY_TIMEOUT, "the other pods Ready under a new leader")
    others_ready = time.monotonic() - killed_at
    wait_healthy(s, what=f"zk-{old} restarted")
    all_ready = time.monotonic() - killed_at
    print(
        f"\nleader zk-{old} killed: the other pods Ready under a new leader after {others_ready:.1f}s, "
        f"all {s.replicas} Ready after {all_ready:.1f}s (restarts of zk-{old}: {s.pods[old].restarts})"
    )

    pod = s.pods[old]
    assert pod.restarts > 0
    assert pod.pvc_dirs["datadir"] == s.pvc_dir(old, "datadir")
    assert s.myid(old) == myid
    assert read_through(s, old) == expected()


# -- 5: a lost quorum --------------------------------------------------------------------------------


@IMAGE_MODE
def test_survivor_of_lost_quorum_stays_live_turns_not_ready_then_recovers(sim: Callable[..., Simulation]) -> None:
    """Two of three members killed and held down: the third answers ruok (live, nothing restarts
    it) but no longer serves, and the readiness probe says so within its own bound.

    The bound: with readiness ``periodSeconds`` P, ``failureThreshold`` F and ``timeoutSeconds`` T
    (5, 2 and 1 in manifests/base), the kubelet starts a probe every P seconds and marks the pod not
    ready when F consecutive runs failed.  Let U be the moment the survivor stops serving: the first
    run starting after U starts within P, the F-th failing one (F-1)*P later, and it ends within T
    (the kubelet kills it at its timeout).  So the pod turns not ready at most F*P + T after U, and
    no sooner than (F-1)*P after U (F failures needed).  U is measured from the host (``srvr`` says
    "not serving", polled every 50 ms); SLACK covers that poll, the kubelet's 50 ms loop and a
    loaded machine's scheduling.  U itself is ZooKeeper's business (a follower sees its leader's
    connection close at once; a leader checks its quorum every tick): printed, not asserted.
    """
    slack = 1.0
    s = sim(BASE)
    wait_healthy(s)
    with client(s.client_hosts()) as zk:
        write_znodes(zk)
    readiness = s.sts.readiness
    assert readiness is not None
    upper = readiness.failure_threshold * readiness.period + readiness.timeout
    lower = (readiness.failure_threshold - 1) * readiness.period

    victims = [leader(s)]
    victims.append(next(i for i in range(s.replicas) if i not in victims))
    survivor = next(i for i in range(s.replicas) if i not in victims)
    pod = s.pods[survivor]
    s.wait(lambda: pod.live, 30, f"zk-{survivor} live")
    restarts = pod.restarts

    killed_at = time.monotonic()
    for victim in victims:
        s.kill(victim, hold=True)

    unserving_at: float | None = None
    while pod.ready:
        polled_at = time.monotonic()
        if unserving_at is None and s.mode(survivor) not in SERVING:
            unserving_at = polled_at
        assert pod.running() and pod.live and pod.restarts == restarts, f"zk-{survivor} was not kept alive"
        assert time.monotonic() - killed_at < READY_TIMEOUT, f"zk-{survivor} never turned not ready"
        time.sleep(0.05)
    not_ready_at = time.monotonic()
    assert unserving_at is not None, f"zk-{survivor} turned not ready while still serving"
    delay = not_ready_at - unserving_at
    print(
        f"\nquorum lost: zk-{survivor} stopped serving {unserving_at - killed_at:.2f}s after the kill, "
        f"turned not ready {delay:.2f}s later (bound {lower:g}..{upper:g}s + {slack:g}s slack)"
    )
    assert lower - slack <= delay <= upper + slack

    live = in_pod(s, survivor, "zkboot", "probe", "live")
    assert live.returncode == 0, live.stderr
    ready = in_pod(s, survivor, "zkboot", "probe", "ready")
    assert ready.returncode == 1
    assert "not serving" in ready.stderr
    assert pod.running() and pod.live and pod.restarts == restarts

    restarted_at = time.monotonic()
    for victim in victims:
        s.restart(victim)
    wait_healthy(s, what="the held pods restarted")
    print(f"held pods restarted: all Ready after {time.monotonic() - restarted_at:.1f}s")
    for ordinal in range(s.replicas):
        assert read_through(s, ordinal) == expected(), f"data lost on zk-{ordinal}"


# -- 6: a rolling restart under writes ---------------------------------------------------------------


def test_rolling_restart_in_reverse_order_keeps_every_acknowledged_write(sim: Callable[..., Simulation]) -> None:
    s = sim(BASE)
    wait_healthy(s)
    steps = []
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        for ordinal in reversed(range(s.replicas)):
            start = time.monotonic()
            s.delete(ordinal)  # SIGTERM, grace period; the controller recreates it on its PVC
            wait_healthy(s, what=f"zk-{ordinal} recreated")
            assert s.pods[ordinal].started_at > start
            steps.append(f"zk-{ordinal} {time.monotonic() - start:.1f}s")
        mark = len(writer.acknowledged)
        writer.wait_for(mark + 20, 60)
    print(
        f"\nrolling restart ({', '.join(steps)}): {len(writer.acknowledged)} writes acknowledged, "
        f"{writer.failed.total()} failed attempts {dict(writer.failed)}; leader watch: {watch.summary()}"
    )
    assert [s.creations(i) for i in range(s.replicas)] == [2] * s.replicas
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)


# -- the observers the membership tests share (tests/e2e/conftest.py) -------------------------------------


@IMAGE_MODE
def test_observers_see_one_leader_at_a_time_and_every_write_on_every_member_through_a_leader_kill(
    sim: Callable[..., Simulation],
) -> None:
    """LeaderWatch, Writer and assert_all_members_agree on an ensemble that loses its leader:
    exactly one leader in every poll that saw one (none for a moment, during the election), the
    writer carried on through the new leader, every acknowledged write on every member."""
    s = sim(BASE)
    wait_healthy(s)
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        old = leader(s)
        killed_at = time.monotonic() - watch.started
        s.kill(old)
        s.wait(lambda: bool(watch.polls) and len(watch.polls[-1].leaders - {old}) == 1, READY_TIMEOUT, "a new leader")
        wait_healthy(s, what=f"zk-{old} restarted")
        healthy_at = time.monotonic() - watch.started
        mark = len(writer.acknowledged)
        writer.wait_for(mark + 20, 60)
    print(
        f"\nleader zk-{old} killed: {len(writer.acknowledged)} writes acknowledged, {writer.failed.total()} "
        f"failed attempts {dict(writer.failed)}; leader watch: {watch.summary()}, leaders in turn "
        f"{watch.leaders_in_turn()}, longest gap between polls {watch.longest_gap():.2f}s"
    )

    assert watch.max_leaders == 1 and not watch.split_polls(), watch.summary()
    before = [poll for poll in watch.polls if poll.at < killed_at]
    after = [poll for poll in watch.polls if poll.at > healthy_at]
    assert before and all(poll.leaders == {old} for poll in before), "the watch missed the first leader"
    assert after and all(len(poll.leaders) == 1 for poll in after), "the watch missed the new leader"
    turns = watch.leaders_in_turn()
    assert turns[0] == old and len(turns) >= 2 and turns[1] != old, turns
    assert watch.longest_gap() < 1.0, "the watch stalled"
    assert len(writer.acknowledged) > mark >= 20
    assert len(set(writer.acknowledged)) == len(writer.acknowledged)
    views = assert_all_members_agree(s, writer.acknowledged)
    assert sorted(views) == [0, 1, 2]
    # And the check fails, naming every member, for a write none of them holds.
    with pytest.raises(
        AssertionError, match=r"zk-0: lacks 1 of \d+ acknowledged writes, e.g. \['w-9999999999'\]"
    ) as failed:
        assert_all_members_agree(s, [*writer.acknowledged, "w-9999999999"])
    assert all(f"zk-{i}: lacks 1 of" in str(failed.value) for i in range(3))


# -- 7: a pod on another pod's volume ----------------------------------------------------------------


def test_pod_on_another_pods_pvc_refuses_to_start_and_leaves_it_untouched(sim: Callable[..., Simulation]) -> None:
    attempts = 3
    s = sim(BASE)
    wait_healthy(s)
    # Nothing may write to zk-0's data dir during the attempt but zkboot itself: zk-1 not the
    # leader (its deletion would make zk-0 take part in an election and write a new epoch), and no
    # client session left (closed below, its closeSession applied everywhere).
    if leader(s) == 1:
        s.kill(1)
        wait_healthy(s, what="zk-1 back after handing the leadership over")
        assert leader(s) != 1
    with client(s.client_hosts()) as zk:
        write_znodes(zk, 100)
    s.wait(lambda: same_zxid(s), 30, "every server at the same zxid")

    log_offset = len(log_text(s, 1))
    pvc = s.pvc_dir(0, "datadir")
    s.delete(1, pvc_of=0)
    before = pvc_tree(pvc)
    assert (pvc / "data" / "myid").read_text().strip() == "1"

    seen_up = False

    def attempted() -> bool:
        nonlocal seen_up
        pod = s.pods.get(1)
        if pod is None:
            return False
        seen_up = seen_up or pod.ready or pod.live
        return pod.restarts >= attempts and not pod.running()

    took = s.wait(attempted, 60, f"zk-1 restarted {attempts} times")
    print(f"\nzk-1 on zk-0's PVC: {attempts} restarts in {took:.1f}s, never Ready")

    assert not seen_up, "zk-1 on zk-0's volume became Ready or live"
    assert pvc_tree(pvc) == before, "zk-0's PVC changed"
    log = log_text(s, 1)[log_offset:]
    error = re.compile(rf"^zkboot: error: {re.escape(MYID_FILE)} holds '1' but zk-1 is myid 2;.*$", re.MULTILINE)
    assert len(error.findall(log)) >= attempts, log[-2000:]
    assert "Traceback" not in log
    assert "exited with 1" in "\n".join(s.pods[1].events)
    assert s.ready_count() == 2 and s.pods[0].ready and s.pods[2].ready, s.table()

    s.delete(1)  # back on its own PVC
    wait_healthy(s, what="zk-1 back on its own PVC")
    assert [s.myid(i) for i in range(3)] == ["1", "2", "3"]
    assert read_through(s, 1) == expected(100)


# -- 8: the whole ensemble down and up -----------------------------------------------------------------


def test_whole_ensemble_restart_keeps_data_and_myids(sim: Callable[..., Simulation]) -> None:
    s = sim(BASE)
    wait_healthy(s)
    with client(s.client_hosts()) as zk:
        write_znodes(zk)
    myids = [s.myid(i) for i in range(s.replicas)]

    for ordinal in range(s.replicas):
        s.kill(ordinal, hold=True)
    assert not any(pod.running() for pod in s.pods.values())
    assert s.ready_count() == 0

    start = time.monotonic()
    for ordinal in range(s.replicas):
        s.restart(ordinal)
    took = wait_healthy(s, what="every pod restarted")
    print(f"\nwhole ensemble restarted: all Ready in {time.monotonic() - start:.1f}s (wait {took:.1f}s)")

    assert [s.myid(i) for i in range(s.replicas)] == myids == ["1", "2", "3"]
    for ordinal in range(s.replicas):
        assert read_through(s, ordinal) == expected(), f"data lost on zk-{ordinal}"
