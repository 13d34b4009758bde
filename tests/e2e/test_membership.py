"""Membership changes in the pod simulator, judged by what ZooKeeper did.

Dynamic membership (``ZK_MEMBERSHIP=dynamic``, as manifests/base has it): ``kubectl scale`` up is
all it takes to grow; no existing member restarts.  The super user's password comes from the
Secret the base mounts (podsim makes it with a random value, as docs/kubernetes.md's command does).
Join, shrink and regrow run from this machine's files (Debian's 3.8) and from the image (its
3.9.5); the other tests run on Debian's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet
from podsim.zk import ask
from tests.e2e.helpers import (
    BASE,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    load,
    log_text,
    missing_requirements,
    on_installation,
    read_member,
    srvr,
    with_replicas,
)
from tests.helpers import DEBIAN, ZooKeeper

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_requirements() is not None, reason=str(missing_requirements())),
]

REFUSAL = "refusing, since two configurations must never each hold a quorum"

# Pods from this machine's files on Debian's 3.8, and from the image (its own ZooKeeper, 3.9.5:
# ``zookeeper`` is None there).
ON_DEBIAN_AND_THE_IMAGE = pytest.mark.parametrize(
    ("sim", "zookeeper"),
    [
        pytest.param("host", DEBIAN, id=f"host-{DEBIAN.name}"),
        pytest.param("image", None, id="image", marks=pytest.mark.image),
    ],
    indirect=["sim"],
)


def dynamic(replicas: int = 3) -> StatefulSet:
    """manifests/base (dynamic membership, the super password from the Secret podsim makes)."""
    sts = load(BASE)
    assert sts.env["ZK_MEMBERSHIP"] == "dynamic" and sts.secrets, "manifests/base is no longer dynamic"
    return dataclasses.replace(sts, replicas=replicas)


def password(s: Simulation) -> str:
    (name,) = {secret for _volume, secret, _items, _mode in s.sts.secrets}
    return (s.secret_dir(name) / "password").read_text().strip()


def configured(sim: Simulation, ordinal: int) -> list[str]:
    """The server lines pod ``ordinal`` holds, as ZooKeeper wrote them on its volume."""
    state = sim.pvc_dir(ordinal, sim.sts.claims[0]) / "data" / "membership"
    static = (state / "zoo.cfg").read_text()
    name = next(line.split("=", 1)[1] for line in static.splitlines() if line.startswith("dynamicConfigFile="))
    return sorted(line.split("=", 1)[0] for line in (state / Path(name).name).read_text().splitlines() if line)


def serving(sim: Simulation, count: int) -> bool:
    answers = [srvr(sim, i) for i in range(count)]
    modes = [a.mode if a is not None else "-" for a in answers]
    return all(m in ("leader", "follower") for m in modes) and modes.count("leader") == 1


def test_dynamic_grows_3_to_5_with_scale_alone(sim: Callable[..., Simulation]) -> None:
    s = sim(dynamic())
    s.wait(lambda: serving(s, 3), 120, "3 members serving")
    pids = {i: s.pods[i].process.pid for i in range(3) if s.pods[i].process is not None}
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        s.scale(5)
        took = s.wait(lambda: serving(s, 5), 120, "5 members serving")
        writer.wait_for(len(writer.acknowledged) + 20, 60)
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    print(
        f"\ndynamic 3 -> 5 by scale alone: all 5 serving {took:.1f}s after the scale; "
        f"{len(writer.acknowledged)} writes acknowledged, {sum(writer.failed.values())} failed, 0 lost; "
        f"{watch.summary()}"
    )
    assert {i: s.pods[i].process.pid for i in range(3) if s.pods[i].process is not None} == pids  # no restart
    assert [s.restarts(i) for i in range(3)] == [0, 0, 0] and [s.creations(i) for i in range(3)] == [1, 1, 1]
    for ordinal in range(5):
        assert configured(s, ordinal)[-5:] == [f"server.{i}" for i in range(1, 6)], ordinal

    # kubectl scale down without zkboot shrink: status names the member that has no pod.
    s.scale(4)
    s.wait(lambda: s.ordinals() == [0, 1, 2, 3], 60, "pod 4 deleted")
    shown = exec_in(s, 0, "zkboot", "status", "--format=json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert [m["myid"] for m in report["members"]] == [1, 2, 3, 4, 5]  # configured, beside reachable
    assert [m["reachable"] for m in report["members"]] == [True, True, True, True, False]
    assert report["verdict"].startswith("quorum held: 4 of 5 serving"), report["verdict"]
    assert report["verdict"].endswith("; configured without a pod: zk-4 (myid 5)"), report["verdict"]


def exec_in(s: Simulation, ordinal: int, *argv: str) -> subprocess.CompletedProcess[str]:
    """``kubectl exec`` into pod ``ordinal``: its container's mount, network and UTS namespaces
    (so its volumes, Secret included, and its hostname), and its environment."""
    pod = s.pods[ordinal]
    assert pod.process is not None
    return subprocess.run(pod.exec_argv(argv), capture_output=True, text=True, env=pod.env, timeout=60, check=False)


def written(s: Simulation, count: int, tag: str) -> list[str]:
    """``count`` znodes created through pod 0 (acknowledged writes); their paths."""
    client = KazooClient(hosts=f"{s.address(0)}:2181", timeout=10)
    client.start(timeout=30)
    try:
        return [client.create(f"/acked/{tag}-", b"x", makepath=True, sequence=True) for _ in range(count)]
    finally:
        client.stop()
        client.close()


def assert_on_every_member(s: Simulation, ordinals: range, paths: list[str]) -> None:
    """Every acknowledged write on every member, and the members' znode sets identical."""
    seen = {}
    for ordinal in ordinals:
        client = KazooClient(hosts=f"{s.address(ordinal)}:2181", timeout=10)
        client.start(timeout=30)
        try:
            client.sync("/acked")
            seen[ordinal] = {f"/acked/{c}" for c in client.get_children("/acked")}
        finally:
            client.stop()
            client.close()
    missing = {o: sorted(set(paths) - got) for o, got in seen.items() if set(paths) - got}
    assert not missing, f"acknowledged writes missing: {missing}"
    assert len({frozenset(v) for v in seen.values()}) == 1, "members disagree on /acked"


class Removed:
    """Members being removed from the configuration, and since when (seconds on the watch's clock):
    a leader that a reconfiguration removes still says ``leader`` for a moment while it hands over.
    It cannot commit anything then (the new configuration does not hold it), so such a poll is not
    a split; every other poll with two leaders is."""

    def __init__(self) -> None:
        self.ordinals: set[int] = set()
        self.since = float("inf")


@contextlib.contextmanager
def observed(s: Simulation, what: str) -> Iterator[Removed]:
    """A writer and a leader watch running throughout; afterwards never two leaders at once (see
    Removed), and every acknowledged write on every member, their znode sets identical."""
    removed = Removed()
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(10, 60)
        yield removed
        writer.wait_for(len(writer.acknowledged) + 10, 60)
        removed.since -= watch.started
    splits = [p for p in watch.split_polls() if p.at < removed.since or len(p.leaders - removed.ordinals) > 1]
    assert not splits, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    print(
        f"\n{what}: {len(writer.acknowledged)} writes acknowledged, {sum(writer.failed.values())} failed "
        f"attempts, 0 lost; {watch.summary()}"
    )


@ON_DEBIAN_AND_THE_IMAGE
def test_dynamic_shrink_scale_and_regrow_on_the_old_volumes(
    sim: Callable[..., Simulation], zookeeper: ZooKeeper | None
) -> None:
    """Pods 3 and 4 join an ensemble of 3 (ZK_REPLICAS stays 3), zkboot shrink removes them, and
    they rejoin on their old volumes: every membership change dynamic membership makes."""
    sts = dynamic(replicas=5)
    s = sim(sts if zookeeper is None else on_installation(sts, zookeeper))
    s.wait(lambda: serving(s, 5), 120, "5 members serving")
    if zookeeper is not None:  # the pods run that installation
        for ordinal in range(5):
            reply = ask(s.address(ordinal), 2181, "srvr", 5.0)
            assert f"Zookeeper version: {zookeeper.version}-" in reply, reply
    paths = written(s, 20, "before")

    with observed(s, "shrink 5 -> 3, scale, regrow on the old volumes") as removing:
        # With pods 1 and 2 down, the three that would stay (0, 1, 2) could not form a quorum: refused.
        s.kill(1, hold=True)
        s.kill(2, hold=True)
        s.wait(lambda: all(srvr(s, i) is None for i in (1, 2)), 60, "pods 1 and 2 down")
        refused = exec_in(s, 0, "zkboot", "shrink", "--replicas", "3")
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.splitlines() == [
            "zkboot: error: of the 3 members that would stay, 1 serve and 2 are needed for a quorum; "
            "refusing to remove server.4, server.5"
        ]
        assert configured(s, 0)[-5:] == [f"server.{i}" for i in range(1, 6)]  # nothing changed
        s.restart(1)
        s.restart(2)
        s.wait(lambda: serving(s, 5), 120, "5 serving again")

        start = time.monotonic()
        removing.ordinals, removing.since = {3, 4}, start
        shrunk = exec_in(s, 0, "zkboot", "shrink", "--replicas", "3")
        took = time.monotonic() - start
        assert shrunk.returncode == 0, shrunk.stderr
        assert shrunk.stdout.startswith("removed server.4, server.5; 3 servers left: server.1="), shrunk.stdout
        print(f"\nzkboot shrink --replicas 3: committed, and a write after it, in {took:.2f}s")
        again = exec_in(s, 1, "zkboot", "shrink", "--replicas", "3")
        assert (again.returncode, again.stdout.split(":")[0]) == (0, "nothing to remove"), again.stderr

        s.scale(3)
        s.wait(lambda: s.ordinals() == [0, 1, 2], 60, "pods 3 and 4 deleted")
        for ordinal in range(3):
            assert configured(s, ordinal)[-3:] == ["server.1", "server.2", "server.3"]
        # The quorum is now 2 of 3, not 3 of 5: with one of the three down, the other two still serve.
        s.kill(2, hold=True)
        s.wait(lambda: serving(s, 2), 60, "2 of 3 serving with pod 2 down")
        paths += written(s, 10, "two-of-three")
        s.restart(2)
        s.wait(lambda: serving(s, 3), 60, "3 serving again")

        # Back to 5: pods 3 and 4 come back on their old volumes (which list 5) and rejoin.
        s.scale(5)
        took = s.wait(lambda: serving(s, 5), 120, "5 serving on the old volumes")
        print(f"back to 5 on the old volumes: all serving in {took:.1f}s")
        paths += written(s, 10, "after")
        assert_on_every_member(s, range(5), paths)
    for ordinal in range(5):
        assert configured(s, ordinal)[-5:] == [f"server.{i}" for i in range(1, 6)], ordinal


def test_dynamic_member_with_a_lost_volume_rejoins(sim: Callable[..., Simulation]) -> None:
    s = sim(dynamic())
    s.wait(lambda: serving(s, 3), 120, "3 members serving")
    paths = written(s, 20, "before")
    with observed(s, "a member's volume lost"):
        s.delete(1, with_pvc=True)
        s.wait(lambda: serving(s, 3), 120, "3 serving after pod 1 came back on an empty volume")
    paths += written(s, 5, "after")
    assert_on_every_member(s, range(3), paths)


def test_dynamic_restarts_keep_membership_and_data(sim: Callable[..., Simulation]) -> None:
    s = sim(dynamic(replicas=4))
    s.wait(lambda: serving(s, 4), 120, "4 members serving")
    paths = written(s, 10, "before")
    with observed(s, "rolling and whole-ensemble restarts"):
        for ordinal in (3, 2, 1, 0):  # a rolling restart, highest ordinal first
            s.delete(ordinal)
            s.wait(lambda: serving(s, 4), 120, f"4 serving after pod {ordinal} was recreated")
        paths += written(s, 5, "rolled")
        for ordinal in range(4):  # the whole ensemble at once
            s.kill(ordinal, hold=True)
        for ordinal in range(4):
            s.restart(ordinal)
        took = s.wait(lambda: serving(s, 4), 120, "4 serving after a whole-ensemble restart")
        print(f"\ndynamic whole-ensemble restart of 4: serving in {took:.1f}s")
    paths += written(s, 5, "restarted")
    assert_on_every_member(s, range(4), paths)
    # The password is in its file only: not in any JVM's argv or environment, nor in any pod's log.
    secret = password(s)
    for ordinal in range(4):
        pid = s.pods[ordinal].main_pid()
        assert pid is not None
        proc = Path(f"/proc/{pid}")
        assert b"java" in (proc / "cmdline").read_bytes()  # the pod's process is the JVM (exec all the way)
        assert secret.encode() not in (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        assert secret not in (s.root / "logs" / f"{s.sts.name}-{ordinal}.log").read_text(errors="replace")
    for ordinal in range(4):
        assert configured(s, ordinal)[-4:] == [f"server.{i}" for i in range(1, 5)], ordinal


def test_static_template_change_3_to_5_stalls_instead_of_splitting(sim: Callable[..., Simulation]) -> None:
    """The old scripts' way to scale (ZK_REPLICAS and replicas changed together, a rolling update):
    measured before the guard, two leaders at once and acknowledged writes lost for good.  Now the
    new pods are refused while the old ensemble serves, the roll stalls, and nothing is lost."""
    base = load(BASE)
    s = sim(dataclasses.replace(base, env={**base.env, "ZK_MEMBERSHIP": "static"}))
    s.wait(lambda: serving(s, 3), 120, "3 members serving")
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        s.update(with_replicas(s.sts, 5))
        # Pods 3 and 4 come up with five server lines and are refused, again and again.
        s.wait(lambda: all(REFUSAL in log_text(s, i) for i in (3, 4)), 120, "pods 3 and 4 refused by the guard")
        s.wait(lambda: s.restarts(3) >= 1, 60, "pod 3 restarted after its refusal")
        before = len(writer.acknowledged)
        writer.wait_for(before + 20, 60)  # the old ensemble keeps taking writes
    assert watch.max_leaders == 1, watch.summary()
    assert not s.rollout_done() and s.revision_of(2) == s.revision_of(0) == 1  # the roll stalled at pod 3
    assert all(srvr(s, i) is not None for i in range(3))
    views = {i: read_member(s, i, set(writer.acknowledged)) for i in range(3)}  # 3 and 4 never served
    assert {i: (v.error, len(v.missing)) for i, v in views.items()} == {i: (None, 0) for i in range(3)}
    assert len({v.children for v in views.values()}) == 1
    line = next(line for line in log_text(s, 3).splitlines() if REFUSAL in line)
    print(
        f"\nstatic 3 -> 5 by template change: {len(writer.acknowledged)} writes acknowledged, "
        f"{sum(writer.failed.values())} failed attempts, 0 lost; {watch.summary()}; "
        f"members read: {sorted(views)}\n  pod 3: {line.strip()[:200]}"
    )
