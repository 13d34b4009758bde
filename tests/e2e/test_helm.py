"""The Helm chart's StatefulSets booted in podsim: the defaults (3 members), an old chart's
``--set resources.requests.memory=200Mi,servers=2`` and, from the image, a Bitnami values file
(uid 1001, the snapshots and the transaction log in one dir on the ``data`` claim); a write
through one pod read through another, and the chart's `helm test` command run as its pod would
run it.  Two servers boot, and each
member's zkboot warns once that two members tolerate no failure.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.cluster import Simulation
from podsim.manifest import from_documents
from tests.e2e.helpers import IMAGE_MODE, log_text, missing_requirements, wait_healthy
from tests.e2e.test_statefulset import in_pod
from tests.helm import template
from tests.test_manifests import only

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]

TWO_MEMBERS = "a quorum of 2 of 2 members tolerates no failure"


def write_then_read(sim: Simulation, writer: int, reader: int) -> bytes:
    """Create a znode through pod ``writer``; its value as pod ``reader`` serves it (after a sync)."""
    path = f"/helm/written-through-{writer}"
    with_client = KazooClient(hosts=f"{sim.address(writer)}:2181", timeout=10.0)
    with_client.start(timeout=30)
    try:
        with_client.create(path, f"through pod {writer}".encode(), makepath=True)
    finally:
        with_client.stop()
        with_client.close()
    reading = KazooClient(hosts=f"{sim.address(reader)}:2181", timeout=10.0)
    reading.start(timeout=30)
    try:
        reading.sync(path)
        value: bytes = reading.get(path)[0]
        return value
    finally:
        reading.stop()
        reading.close()


def helm_test(sim: Simulation, case: str, ordinal: int) -> subprocess.CompletedProcess[str]:
    """The chart's test pod's command and environment, run in pod ``ordinal``'s namespaces."""
    pod = only(template(case), "Pod")
    (ctr,) = pod["spec"]["containers"]
    env = {**sim.pods[ordinal].env, **{e["name"]: e["value"] for e in ctr["env"]}}
    # The test pod mounts no super Secret, which the member's pod does: its path names nothing there.
    assert "volumes" not in pod["spec"], pod["spec"]["volumes"]
    if "ZK_SUPER_PASSWORD_FILE" in env:
        env["ZK_SUPER_PASSWORD_FILE"] = "/nonexistent/super/password"
    argv = sim.pods[ordinal].exec_argv(ctr["command"])
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def boots_and_serves(s: Simulation, case: str, replicas: int) -> None:
    assert s.replicas == replicas
    took = wait_healthy(s)
    print(f"\n{case}: {replicas} members serving after {took:.1f}s")

    assert write_then_read(s, 0, replicas - 1) == b"through pod 0"
    assert write_then_read(s, replicas - 1, 0) == f"through pod {replicas - 1}".encode()

    done = helm_test(s, case, replicas - 1)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:-1]]
    assert sorted(row[3] for row in rows) == sorted(["leader"] + ["follower"] * (replicas - 1)), done.stdout
    assert f"quorum held: {replicas} of {replicas} serving" in done.stdout, done.stdout

    for ordinal in range(replicas):
        warned = log_text(s, ordinal).count(TWO_MEMBERS)
        assert warned == (1 if replicas == 2 else 0), f"pod {ordinal} warned {warned} times"


@pytest.mark.parametrize(("case", "replicas"), [("defaults", 3), ("two-servers", 2)])
def test_chart_statefulset_boots_and_serves(sim: Callable[..., Simulation], case: str, replicas: int) -> None:
    boots_and_serves(sim(from_documents(template(case))), case, replicas)


@IMAGE_MODE
def test_bitnami_values_boot_from_the_image_as_uid_1001_on_bitnamis_paths(sim: Callable[..., Simulation]) -> None:
    """From the image (the mount point /bitnami/zookeeper is made in the container, as a runtime
    makes it; podsim's host mode cannot): uid 1001 with fsGroup 1001, on the claim ``data`` at
    /bitnami/zookeeper; the data in data/ and, the claims being new, the transaction log in log/,
    the chart's default for Bitnami's ``dataLogDir: ""`` (on a claim Bitnami's chart wrote, the log
    in data/ is found and kept there: tests/test_txnlog.py)."""
    s = sim(from_documents(template("bitnami")))
    boots_and_serves(s, "bitnami", 3)
    myid = in_pod(s, 0, "stat", "-c", "%u %g %n", "/bitnami/zookeeper/data/myid")
    assert myid.stdout.split() == ["1001", "1001", "/bitnami/zookeeper/data/myid"], myid.stdout + myid.stderr
    in_log = in_pod(s, 0, "ls", "/bitnami/zookeeper/log/version-2").stdout.split()
    in_data = in_pod(s, 0, "ls", "/bitnami/zookeeper/data/version-2").stdout.split()
    assert any(name.startswith("log.") for name in in_log), in_log
    assert not any(name.startswith("log.") for name in in_data), in_data
