"""A rolling upgrade from Debian's ZooKeeper 3.8.0 to upstream's 3.9.5 on a serving ensemble, as an
image user does it: change the StatefulSet's template (here ZK_HOME, ``on_installation``) and let
the RollingUpdate replace one member at a time, highest ordinal first, each waiting for Ready.

One 3-pod ensemble per membership mode (static: manifests/base with ``ZK_MEMBERSHIP=static``;
dynamic: manifests/base as it is), with data written by 3.8 before the roll and a writer and a
leader watch running through it.  Judged by what ZooKeeper did: ``srvr`` versions and modes, the
znodes read back from every member, and, in dynamic mode, ``/zookeeper/config``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable

import pytest

from podsim.cluster import Simulation
from podsim.zk import ZkError, ask
from tests.e2e.helpers import (
    BASE,
    READY_TIMEOUT,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    load,
    member_client,
    missing_requirements,
    on_installation,
    read_children,
    wait_healthy,
    write_children,
)
from tests.helpers import DEBIAN, UPSTREAM

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]

OLD = "/written-by-3.8"
OLD_COUNT = 100
VERSION = re.compile(r"^Zookeeper version: ([0-9.]+)-", re.MULTILINE)
SERVER_LINE = re.compile(r"^server\.(\d+)=([^:]+):", re.MULTILINE)


def version(sim: Simulation, ordinal: int) -> str | None:
    """The version pod ``ordinal``'s server reports to ``srvr``; None when it does not answer."""
    try:
        reply = ask(sim.address(ordinal), sim.client_port, "srvr", 2.0, sim.client_tls)
    except ZkError:
        return None
    found = VERSION.search(reply)
    return found.group(1) if found else None


def old_value(i: int) -> bytes:
    return f"3.8 wrote {i}".encode()


def config_of(sim: Simulation, ordinal: int) -> str:
    """``/zookeeper/config`` as pod ``ordinal`` holds it (after a sync): the server lines and the
    configuration's version, which every reconfiguration (a member rejoining included) changes."""
    zk = member_client(sim, ordinal)
    try:
        zk.sync("/zookeeper/config")
        data, _stat = zk.get("/zookeeper/config")
        return str(data.decode())
    finally:
        zk.stop()
        zk.close()


def roll_steps(sim: Simulation, revision: int) -> str:
    """Each pod of ``revision``, in the order created: seconds from its creation to Ready."""
    created: dict[int, float] = {}
    steps: list[str] = []
    for event in sim.history():
        if event.revision == revision and event.kind == "created":
            created[event.ordinal] = event.at
        elif event.revision == revision and event.kind == "ready" and event.ordinal in created:
            steps.append(f"{sim.sts.name}-{event.ordinal} {event.at - created.pop(event.ordinal):.1f}s")
    return ", ".join(steps)


@pytest.mark.parametrize("membership", ["static", "dynamic"])
def test_rolling_upgrade_from_3_8_to_3_9_keeps_serving(sim: Callable[..., Simulation], membership: str) -> None:
    base = load(BASE)
    assert base.env["ZK_MEMBERSHIP"] == "dynamic", "manifests/base is no longer dynamic"
    sts = on_installation(dataclasses.replace(base, env={**base.env, "ZK_MEMBERSHIP": membership}), DEBIAN)
    s = sim(sts)
    wait_healthy(s, what=f"{DEBIAN.version}, {membership} membership")
    assert [version(s, i) for i in range(3)] == [DEBIAN.version] * 3

    write_children(s, OLD, {f"n-{i:03d}": old_value(i) for i in range(OLD_COUNT)})
    config_before = config_of(s, 0)
    assert sorted(SERVER_LINE.findall(config_before)) == [
        (str(i + 1), f"{s.sts.name}-{i}.{s.sts.domain}") for i in range(3)
    ], config_before

    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        before = len(writer.acknowledged)
        started = time.monotonic()
        s.update(on_installation(s.sts, UPSTREAM))
        # Three members, each replaced and Ready in turn: READY_TIMEOUT per member.
        took = s.wait(s.rollout_done, 3 * READY_TIMEOUT, f"the rollout to {UPSTREAM.version}")
        rolled = len(writer.acknowledged)
        wait_healthy(s, what=f"after the rollout to {UPSTREAM.version}")
        writer.wait_for(len(writer.acknowledged) + 20, 60)
        finished = time.monotonic() - started
    during = rolled - before

    assert all(s.revision_of(i) == s.revision for i in range(3)) and s.revision == 2
    assert [version(s, i) for i in range(3)] == [UPSTREAM.version] * 3
    assert [s.creations(i) for i in range(3)] == [2, 2, 2]  # each member replaced once
    assert during > 0, "no write was acknowledged while the members were being replaced"
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    expected = {f"n-{i:03d}": old_value(i) for i in range(OLD_COUNT)}
    for ordinal in range(3):
        assert read_children(s, ordinal, OLD) == expected, f"{s.sts.name}-{ordinal}: what 3.8 wrote is not all there"
    assert [s.myid(i) for i in range(3)] == ["1", "2", "3"]
    if membership == "dynamic":
        # The same three servers, and the same configuration version: no member rejoined by a
        # reconfiguration (as a new server or otherwise).
        assert [config_of(s, i) for i in range(3)] == [config_before] * 3
    restarts = [s.restarts(i) for i in range(3)]
    print(
        f"\n{membership} 3.8 -> 3.9 rolling upgrade: rollout done in {took:.1f}s after the update "
        f"(created to Ready: {roll_steps(s, s.revision)}; {finished:.1f}s to the last "
        f"write); {len(writer.acknowledged)} writes acknowledged ({during} during the roll), "
        f"{writer.failed.total()} failed attempts {dict(writer.failed)}, 0 lost; container restarts "
        f"{restarts}; leaders in turn {watch.leaders_in_turn()}; {watch.summary()}"
    )
