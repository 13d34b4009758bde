"""The image docker/Dockerfile builds, run the way manifests/base runs it (marker ``image``).

Built from local stand-ins (tests/standins.py, session fixture ``built_image``) and run under
podman with the base manifest's securityContext: uid/gid 1000 with fsGroup 1000 on the volumes, a
read-only root filesystem, every capability dropped, no new privileges, and its four volumes (conf,
/var/lib/zookeeper, /var/log/zookeeper, /tmp).  The container shares the suite's network namespace
(loopback only), on ports of its own.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.helpers import BuiltImage, free_port, wait_until
from tests.test_image import NAMES_ON_PATH

pytestmark = pytest.mark.image

VOLUMES = {
    "conf": "/opt/zookeeper/conf",
    "datadir": "/var/lib/zookeeper",
    "logs": "/var/log/zookeeper",
    "tmp": "/tmp",
}
UID = GID = 1000
GRACE = 30  # seconds: manifests/base's terminationGracePeriodSeconds
SERVE_TIMEOUT = 90.0
# What podman itself puts in a container's layer (the mount points of its /etc files).
PODMAN_OWN = {"/etc", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run", "/run/.containerenv"}


@dataclass
class Container:
    image: BuiltImage
    name: str
    port: int
    volumes: Path

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        from podsim.podman import Store

        assert isinstance(self.image.store, Store)
        return self.image.store.run(*args, check=check)

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return self.podman("exec", self.name, *command, check=False)


def security_flags() -> list[str]:
    return [
        f"--user={UID}:{GID}", f"--group-add={GID}", "--read-only", "--read-only-tmpfs=false",
        "--cap-drop=all", "--security-opt=no-new-privileges",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(built_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    from podsim.podman import own_for_fs_group

    volumes = tmp_path_factory.mktemp("image-volumes")
    volumes.chmod(0o755)
    for name in VOLUMES:
        (volumes / name).mkdir()
        own_for_fs_group(volumes / name, GID)
    container = Container(built_image, f"zkboot-image-test-{free_port()}", free_port(), volumes)
    mounts = [f"--volume={volumes / name}:{path}" for name, path in VOLUMES.items()]
    container.podman(
        "run", "--detach", f"--name={container.name}", "--network=host", *security_flags(), *mounts,
        f"--env=ZK_CLIENT_PORT={container.port}", "--env=ZK_HEAP_SIZE=256M",
        built_image.name,
    )  # fmt: skip
    try:
        wait_until(
            lambda: container.exec("zkboot", "probe", "ready").returncode == 0,
            SERVE_TIMEOUT,
            interval=0.5,
            what=f"the image's server on port {container.port} to serve",
        )
        yield container
    finally:
        container.podman("rm", "--force", "--time=0", container.name, check=False)


def test_the_server_serves_a_client(server: Container) -> None:
    client = KazooClient(hosts=f"127.0.0.1:{server.port}", timeout=10)
    client.start(timeout=15)
    try:
        client.create("/image-test", b"written through the image")
        assert client.get("/image-test")[0] == b"written through the image"
    finally:
        client.stop()
        client.close()


def test_every_contract_command_is_on_path(server: Container) -> None:
    for name in NAMES_ON_PATH:
        found = server.exec("sh", "-c", f'command -v "{name}"')
        assert found.returncode == 0 and found.stdout.strip().startswith("/"), f"{name}: not on PATH in the image"


def test_probes_old_and_new_pass_inside(server: Container) -> None:
    for command in (
        ["zkboot", "probe", "live"],
        ["zkboot", "probe", "ready"],
        ["zookeeper-ready", str(server.port)],
        ["zkOk.sh"],  # the port from ZK_CLIENT_PORT, as the k8szk image had it
    ):
        result = server.exec(*command)
        assert result.returncode == 0, f"{command}: exit {result.returncode}: {result.stderr.strip()}"
    metrics = server.exec("zookeeper-metrics", str(server.port))
    assert metrics.returncode == 0 and re.search(r"^zk_server_state\s+standalone$", metrics.stdout, re.M), metrics
    health = server.podman("healthcheck", "run", server.name, check=False)
    assert health.returncode == 0, f"the HEALTHCHECK (zkboot probe live) failed: {health.stdout}{health.stderr}"


def test_runs_unprivileged_with_java_as_pid_1(server: Container) -> None:
    status = dict(
        line.split(":", 1) for line in server.exec("cat", "/proc/1/status").stdout.splitlines() if ":" in line
    )
    argv0 = server.exec("sh", "-c", "tr '\\0' '\\n' < /proc/1/cmdline | head -n 1").stdout.strip()
    assert argv0.endswith("/java"), f"PID 1 is {argv0!r}, not the JVM: a shell in between would swallow SIGTERM"
    assert status["Uid"].split() == [str(UID)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(GID)] * 4, status["Gid"]
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, (status["CapEff"], status["CapBnd"])
    assert status["NoNewPrivs"].strip() == "1"


def test_writes_only_to_its_volumes(server: Container) -> None:
    changed = {line.split(maxsplit=1)[1] for line in server.podman("diff", server.name).stdout.splitlines()}
    assert changed <= PODMAN_OWN, f"written outside the volumes: {sorted(changed - PODMAN_OWN)}"
    conf = sorted(path.name for path in (server.volumes / "conf").iterdir())
    assert conf == ["java.env", "java.security", "log4j.properties", "zoo.cfg"], conf
    assert (server.volumes / "datadir" / "data" / "myid").read_text().strip() == "1"
    owners = {(path.stat().st_uid, path.stat().st_gid) for path in (server.volumes / "datadir").rglob("*")}
    assert owners == {(UID, GID)}, owners


def test_sigterm_stops_it_within_the_grace_period(server: Container) -> None:
    # Last in this module: it ends the server.
    started = time.monotonic()
    server.podman("stop", f"--time={GRACE}", server.name)
    took = time.monotonic() - started
    code = server.podman("inspect", "--format={{.State.ExitCode}}", server.name).stdout.strip()
    # 143: the JVM ended on SIGTERM; 137 would be podman's SIGKILL at the end of the grace period.
    assert code == "143", f"exit code {code} after {took:.1f}s"
    assert took < GRACE / 3, f"stopping took {took:.1f}s of a {GRACE}s grace period"
