"""podsim's image mode honours the pod's securityContext: what the image's pods may and may not do.

The base manifest's pods, from the image docker/Dockerfile builds (session fixture ``built_image``),
run as uid 1000 with the PVC group-owned by fsGroup 1000; a container that would run as root under
``runAsNonRoot`` is never started; with the conf volume taken away, the read-only root filesystem
stops zkboot before ZooKeeper starts, with one line naming the dir and the read-only file system.
The tests in test_statefulset.py and test_membership.py whose ``sim`` is "image" show the ensemble
itself in image mode.
"""

from __future__ import annotations

import dataclasses
import stat
import subprocess
from collections.abc import Callable

import pytest

from podsim.cluster import Simulation
from tests.e2e.helpers import BASE, IMAGE_MODE, load, missing_requirements, wait_healthy

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]


def run_in(s: Simulation, ordinal: int, *command: str) -> str:
    result = subprocess.run(
        s.pods[ordinal].exec_argv(command), env=s.pods[ordinal].env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@IMAGE_MODE
def test_pods_run_as_the_manifests_user_on_a_pvc_made_theirs_by_fs_group(sim: Callable[..., Simulation]) -> None:
    s = sim(BASE)
    wait_healthy(s)
    assert run_in(s, 0, "id", "-u") == "1000"
    assert set(run_in(s, 0, "id", "-G").split()) == {"1000"}
    assert run_in(s, 0, "sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/1/status | tr -s '\\t' ' '").split("\n") == [
        "CapEff: 0000000000000000",
        "NoNewPrivs: 1",
    ]
    pvc = s.pvc_dir(0, "datadir")
    assert stat.S_IMODE(pvc.stat().st_mode) & 0o2070 == 0o2070 and pvc.stat().st_gid == 1000
    written = [path for path in pvc.rglob("*") if path.is_file()]
    assert written and {(path.stat().st_uid, path.stat().st_gid) for path in written} == {(1000, 1000)}
    secret = s.secret_dir("zk-super") / "password"
    assert (stat.S_IMODE(secret.stat().st_mode), secret.stat().st_gid) == (0o440, 1000)


@IMAGE_MODE
def test_run_as_non_root_refuses_a_container_that_would_run_as_root(sim: Callable[..., Simulation]) -> None:
    base = load(BASE)
    as_root = dataclasses.replace(base, replicas=1, security=dataclasses.replace(base.security, run_as_user=0))
    s = sim(as_root)
    s.wait(lambda: 0 in s.pods and any("runAsNonRoot" in e for e in s.pods[0].events), 30, "the refusal")
    assert not s.pods[0].running() and s.pods[0].process is None


@IMAGE_MODE
def test_read_only_root_stops_zkboot_before_zookeeper_when_the_conf_dir_is_no_volume(
    sim: Callable[..., Simulation],
) -> None:
    base = load(BASE)
    mounts = {path: volume for path, volume in base.mounts.items() if path != "/opt/zookeeper/conf"}
    s = sim(dataclasses.replace(base, replicas=1, mounts=mounts))
    s.wait(lambda: s.restarts(0) >= 1, 60, "zk-0 to exit and be restarted")
    log = (s.root / "logs" / "zk-0.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("zkboot: error")]
    assert errors and "/opt/zookeeper/conf" in errors[0], log[-2000:]
    assert "read-only file system" in errors[0] and "expected a volume mounted there" in errors[0], errors[0]
    assert "ZooKeeper JMX enabled" not in log, "zkServer.sh ran although zkboot could not write its files"
    assert not s.pods[0].ready
