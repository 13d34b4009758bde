"""The image docker/Dockerfile builds, run the way manifests/base runs it (marker ``image``).

Built from local stand-ins (tests/standins.py, session fixture ``built_image``: upstream ZooKeeper
3.9.5 with logback and the Prometheus metrics provider) and run under podman with the base
manifest's securityContext: uid/gid 1000 with fsGroup 1000 on the volumes, a read-only root
filesystem, every capability dropped, no new privileges, and its four volumes (conf,
/var/lib/zookeeper, /var/log/zookeeper, /tmp).  The containers share the suite's network namespace
(loopback only), on ports of their own: ``server`` with the defaults, ``tuned`` at log level WARN
with the Prometheus provider's endpoint.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from scripts import zookeeper as upstream
from tests.helpers import BuiltImage, free_port, wait_until
from tests.standins import tarball_members
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
# A line the JVM logs through zkboot's layout (zkboot.start.logconfig.LOG_PATTERN), and its level.
JVM_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[myid:[^]]*\] - (\w+)\s")
# metricsProvider.exportJvmInfo, unset here: the provider's default (true) adds the JVM's families.
JVM_FAMILIES = ("jvm_memory_bytes_used", "jvm_threads_current")


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

    def jvm_levels(self) -> list[str]:
        """The level of every line the JVM wrote to the container's output so far."""
        logs = self.podman("logs", self.name)
        lines = (logs.stdout + logs.stderr).splitlines()
        return [match.group(1) for line in lines if (match := JVM_LINE.match(line))]


def security_flags() -> list[str]:
    return [
        f"--user={UID}:{GID}", f"--group-add={GID}", "--read-only", "--read-only-tmpfs=false",
        "--cap-drop=all", "--security-opt=no-new-privileges",
    ]  # fmt: skip


@contextlib.contextmanager
def running(image: BuiltImage, volumes: Path, *env: str) -> Iterator[Container]:
    """The image's default command (a standalone server) with the base manifest's securityContext
    and volumes (made under ``volumes``), ``env`` added; removed on exit."""
    from podsim.podman import own_for_fs_group

    volumes.chmod(0o755)
    for name in VOLUMES:
        (volumes / name).mkdir()
        own_for_fs_group(volumes / name, GID)
    container = Container(image, f"zkboot-image-test-{free_port()}", free_port(), volumes)
    mounts = [f"--volume={volumes / name}:{path}" for name, path in VOLUMES.items()]
    try:
        container.podman(
            "run", "--detach", f"--name={container.name}", "--network=host", *security_flags(), *mounts,
            f"--env=ZK_CLIENT_PORT={container.port}", "--env=ZK_HEAP_SIZE=256M", *(f"--env={e}" for e in env),
            image.name,
        )  # fmt: skip
        wait_until(
            lambda: container.exec("zkboot", "probe", "ready").returncode == 0,
            SERVE_TIMEOUT,
            interval=0.5,
            what=f"the image's server on port {container.port} to serve",
        )
        yield container
    finally:
        container.podman("rm", "--force", "--time=0", container.name, check=False)


@pytest.fixture(scope="module")
def server(built_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    with running(built_image, tmp_path_factory.mktemp("image-volumes")) as container:
        yield container


@dataclass
class Tuned:
    container: Container
    metrics_port: int


@pytest.fixture(scope="module")
def tuned(built_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuned]:
    """The default command again, as a manifest would tune it: log level WARN, and the Prometheus
    provider's endpoint on a port of its own."""
    metrics_port = free_port()
    # zkboot's own setting names the provider and its port; the address is the user's to choose.
    environ = (
        "ZK_LOG_LEVEL=WARN",
        f"ZK_METRICS_PORT={metrics_port}",
        "ZK_CFG_EXTRA=metricsProvider.httpHost=127.0.0.1",
    )
    volumes = tmp_path_factory.mktemp("image-volumes-tuned")
    with running(built_image, volumes, *environ) as container:
        yield Tuned(container, metrics_port)


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
    # The stand-in tarball's ZooKeeper, not some other one on the image's PATH.
    assert re.search(rf"^zk_version\s+{re.escape(upstream.VERSION)}[-,\s]", metrics.stdout, re.M), metrics.stdout
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
    assert conf == ["java.env", "java.security", "logback.xml", "zoo.cfg"], conf  # 3.9 logs through logback
    assert (server.volumes / "datadir" / "data" / "myid").read_text().strip() == "1"
    owners = {(path.stat().st_uid, path.stat().st_gid) for path in (server.volumes / "datadir").rglob("*")}
    assert owners == {(UID, GID)}, owners


def test_the_installation_is_the_tarballs_without_its_docs(server: Container) -> None:
    top = server.exec("ls", "-A", "/opt/zookeeper")
    assert top.stdout.split() == ["bin", "conf", "lib"], top.stdout  # docs/ removed
    # conf is a volume here; bin without the .cmd scripts, lib with logback and the provider.
    found = server.exec(
        "find", "/opt/zookeeper", "-path", "/opt/zookeeper/conf", "-prune", "-o", "-type", "f", "-print"
    )
    expected = {f"/opt/zookeeper/{name}" for name, _ in tarball_members() if not name.startswith("conf/")}
    assert set(found.stdout.split()) == expected, sorted(set(found.stdout.split()) ^ expected)
    jars = {name for name in expected if name.startswith("/opt/zookeeper/lib/")}
    assert {"logback-classic", "zookeeper-prometheus-metrics"} <= {
        re.sub(r"-[\d.]+\.jar$", "", Path(j).name) for j in jars
    }


def test_the_default_log_level_logs_info(server: Container) -> None:
    """The contrast to the WARN test below: at the default level the JVM's INFO lines are there."""
    assert "INFO" in server.jvm_levels(), "no INFO line from the JVM at the default level"


def test_log_level_warn_silences_info_inside_the_image(tuned: Tuned) -> None:
    """ZK_LOG_LEVEL=WARN reaches logback on 3.9 (the logback.xml zkboot writes): the container's
    output holds the JVM's WARN lines and none at INFO."""
    container = tuned.container
    assert 'root level="WARN"' in (container.volumes / "conf" / "logback.xml").read_text()
    # "standalone mode" is logged at WARN during start-up, so WARN output is never empty.
    wait_until(lambda: "WARN" in container.jvm_levels(), 20, what="the JVM's WARN lines")
    levels = container.jvm_levels()
    assert set(levels) <= {"WARN", "ERROR"}, sorted(set(levels))


def test_the_prometheus_providers_endpoint_answers_inside_the_image(tuned: Tuned) -> None:
    """Scraped inside the container with the image's python, parsed here: ZooKeeper's own families
    agree with mntr, and the JVM's are there as exportJvmInfo's default has it."""
    scrape = (
        "import sys, urllib.request; "
        f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{tuned.metrics_port}/metrics', timeout=10)"
        ".read().decode())"
    )
    result = tuned.container.exec("python", "-c", scrape)
    assert result.returncode == 0, result.stderr
    families = {family.name: family for family in text_string_to_metric_families(result.stdout)}
    for name in ("znode_count", "num_alive_connections", "uptime", *JVM_FAMILIES):
        assert name in families, f"{name} not among {sorted(families)}"
    mntr = tuned.container.exec("zookeeper-metrics", "--format=json", str(tuned.container.port))
    assert mntr.returncode == 0, mntr.stderr
    assert families["znode_count"].samples[0].value == json.loads(mntr.stdout)["zk_znode_count"]


def test_sigterm_stops_it_within_the_grace_period(server: Container) -> None:
    # Last in this module: it ends the server.
    started = time.monotonic()
    server.podman("stop", f"--time={GRACE}", server.name)
    took = time.monotonic() - started
    code = server.podman("inspect", "--format={{.State.ExitCode}}", server.name).stdout.strip()
    # 143: the JVM ended on SIGTERM; 137 would be podman's SIGKILL at the end of the grace period.
    assert code == "143", f"exit code {code} after {took:.1f}s"
    assert took < GRACE / 3, f"stopping took {took:.1f}s of a {GRACE}s grace period"
