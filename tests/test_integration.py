"""A real ZooKeeper, started through zkboot's own entry points: the tests that depend on the
server's behaviour run on each installation (Debian's 3.8 package and upstream's 3.9 layout)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import (
    DEBIAN,
    UPSTREAM,
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    free_port,
    on_each_installation,
    script,
    wait_until,
)

pytestmark = pytest.mark.integration
START_TIMEOUT = 60.0


def wait_serving(started: Any) -> None:
    """Until srvr reports a mode: imok alone comes before the server serves requests."""

    def serving() -> bool:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        return "Mode: " in four_letter(started.port, "srvr", timeout=1.0)

    wait_until(serving, START_TIMEOUT, what=f"a serving server on port {started.port}")


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


@on_each_installation
def test_start_zookeeper_boots_a_standalone_server(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    paths = ZkPaths(tmp_path)
    started = zk_launcher([script("start-zookeeper"), *paths.flags()], paths)
    wait_serving(started)

    srvr = four_letter(started.port, "srvr")
    assert "Mode: standalone" in srvr
    assert f"Zookeeper version: {zookeeper.version}" in srvr
    # exec all the way down: the PID we started is now the JVM itself, not a parent of it.
    argv = cmdline(started.process.pid)
    assert any(arg.endswith("java") for arg in argv[:1]), argv
    assert "org.apache.zookeeper.server.quorum.QuorumPeerMain" in argv
    assert argv[-1] == f"{paths.conf}/zoo.cfg"
    assert (paths.data / "myid").read_text() == "1\n"

    client = KazooClient(hosts=f"127.0.0.1:{started.port}", timeout=10)
    client.start(timeout=15)
    try:
        client.create("/zkboot/hello", b"world", makepath=True)
        value, stat = client.get("/zkboot/hello")
    finally:
        client.stop()
        client.close()
    assert value == b"world"
    assert stat.version == 0


def test_zkboot_start_restarts_on_its_own_data(zk_launcher: Any, tmp_path: Path) -> None:
    """A second start on the same dirs keeps myid and the data, and rewrites the config whole."""
    paths = ZkPaths(tmp_path)
    first = zk_launcher([script("zkboot"), "start", *paths.flags()], paths)
    wait_serving(first)
    client = KazooClient(hosts=f"127.0.0.1:{first.port}", timeout=10)
    client.start(timeout=15)
    client.create("/kept", b"1")
    client.stop()
    client.close()
    first.process.terminate()
    first.process.wait(timeout=20)
    with (paths.conf / "zoo.cfg").open("a") as cfg:
        cfg.write("leftover=from-a-previous-start\n")

    second = zk_launcher([script("zkboot"), "start", *paths.flags()], paths)
    wait_serving(second)
    assert "leftover" not in (paths.conf / "zoo.cfg").read_text()
    assert "kept " in second.text() and "myid" in second.text()
    client = KazooClient(hosts=f"127.0.0.1:{second.port}", timeout=10)
    client.start(timeout=15)
    try:
        assert client.get("/kept")[0] == b"1"
    finally:
        client.stop()
        client.close()


@on_each_installation
@pytest.mark.parametrize(
    ("level", "present", "absent"),
    [
        ("DEBUG", r" - DEBUG ", None),
        ("WARN", r" - WARN ", r" - INFO "),
    ],
)
def test_log_level_changes_what_the_server_logs(
    zk_launcher: Any, tmp_path: Path, level: str, present: str, absent: str | None, zookeeper: ZooKeeper
) -> None:
    """Through the log configuration zkboot writes for the installation's backend (log4j 1.2 on
    Debian's 3.8, logback on upstream's 3.9)."""
    paths = ZkPaths(tmp_path)
    started = zk_launcher([script("start-zookeeper"), *paths.flags(), f"--log_level={level}"], paths)
    wait_serving(started)
    written = {"log4j": "log4j.properties", "logback": "logback.xml"}[zookeeper.log_backend]
    assert level in (paths.conf / written).read_text()
    # "standalone mode" is logged at WARN during start-up, so WARN output is never empty.
    wait_until(lambda: re.search(present, started.text()) is not None, 20, what=f"{level} lines")
    java_lines = [line for line in started.text().splitlines() if "[myid:" in line]
    assert java_lines, "the server logged nothing to the console"
    if absent:
        assert not [line for line in java_lines if re.search(absent, line)]


@on_each_installation
def test_probes_and_metrics_against_a_standalone_server(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    paths = ZkPaths(tmp_path)
    started = zk_launcher([script("start-zookeeper"), *paths.flags()], paths)
    wait_serving(started)
    port = str(started.port)
    env = clean_env(ZK_CLIENT_PORT=port)

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), capture_output=True, text=True, env=env, timeout=10, check=False)

    for command in (
        [script("zkboot"), "probe", "live"],
        [script("zkboot"), "probe", "ready"],
        [script("zookeeper-ready"), port],
        [script("zkOk.sh")],
    ):
        result = run(*command)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), command

    text = run(script("zkMetrics.sh"))
    assert text.returncode == 0
    pairs = dict(line.split("\t", 1) for line in text.stdout.splitlines())
    assert pairs["zk_server_state"] == "standalone"
    document = json.loads(run(script("zookeeper-metrics"), port, "--format=json").stdout)
    assert document["zk_server_state"] == "standalone" and isinstance(document["zk_znode_count"], int)
    exposition = run(script("zkboot"), "metrics", "--format=prometheus").stdout
    families = {family.name: family for family in text_string_to_metric_families(exposition)}
    (info,) = families["zk_info"].samples
    assert info.labels["server_state"] == "standalone" and info.labels["version"].startswith(zookeeper.version)
    assert families["zk_znode_count"].samples[0].value == document["zk_znode_count"]


CACHE_POLICY = """
public class CachePolicy {
    public static void main(String[] args) {
        System.out.println(sun.net.InetAddressCachePolicy.getNegative());
    }
}
"""


def test_the_jvm_keeps_no_failed_lookup_with_zkboots_flags(tmp_path: Path) -> None:
    """What the JVM really does with the flags and the file zkboot writes: no negative DNS caching
    (0 s), where the JDK's own java.security keeps a failed lookup 10 s, and the old
    -Dsun.net.inetaddr.negative.ttl flag changes nothing (the controls)."""
    out = tmp_path / "out"
    subprocess.run(
        [script("zkboot"), "render", "--servers=3", "--hostname=zk-0.zk-hs.default.svc.cluster.local",
         f"--output-dir={out}"],
        env=clean_env(), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    conf = out / "opt" / "zookeeper" / "conf"
    flags = re.search(r'^SERVER_JVMFLAGS="([^"]*)"', (conf / "java.env").read_text(), re.MULTILINE)
    assert flags
    (security,) = (flag for flag in flags.group(1).split() if flag.startswith("-Djava.security.properties="))
    assert security == "-Djava.security.properties=/opt/zookeeper/conf/java.security"
    source = tmp_path / "CachePolicy.java"
    source.write_text(CACHE_POLICY)

    def negative_ttl(*jvm_flags: str) -> str:
        run = subprocess.run(
            ["java", "--add-exports", "java.base/sun.net=ALL-UNNAMED", *jvm_flags, str(source)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert negative_ttl(f"-Djava.security.properties={conf}/java.security") == "0"
    assert negative_ttl() == "10"  # the JDK's own java.security
    assert negative_ttl("-Dsun.net.inetaddr.negative.ttl=1") == "10"  # the flag zkboot used to pass


def test_a_log_template_of_the_users_own_is_what_the_server_logs_with(zk_launcher: Any, tmp_path: Path) -> None:
    """``--log-template``: docs/settings.md's example template, rendered with zkboot's variables, is
    the log configuration the real server reads: every console line of the server starts with the
    template's JSON object (its myid, and a level no lower than the WARN it was given)."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    template = tmp_path / "log4j.properties.j2"
    template.write_text(docs.split("```properties\n", 1)[1].split("```", 1)[0])
    paths = ZkPaths(tmp_path)
    started = zk_launcher(
        [script("zkboot"), "start", *paths.flags(), "--log-level=WARN", f"--log-template={template}"], paths
    )
    wait_serving(started)
    # "standalone mode" is logged at WARN during start-up.
    wait_until(lambda: '"myid":1,' in started.text(), 20, what="a line in the template's layout")
    lines = started.text().splitlines()
    assert not [line for line in lines if "[myid:" in line], "a line in zkboot's own layout"
    heads = [json.loads(line.split("} ", 1)[0] + "}") for line in lines if line.startswith('{"time":')]
    assert heads and {tuple(head) for head in heads} == {("time", "myid", "level", "logger")}, heads[:3]
    assert {head["myid"] for head in heads} == {1}
    assert {head["level"] for head in heads} <= {"WARN", "ERROR", "FATAL"}, heads


@pytest.mark.parametrize("zookeeper", [UPSTREAM], ids=lambda z: z.name)
def test_the_prometheus_providers_own_endpoint(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    """The image's ZooKeeper serves Prometheus metrics itself once its provider is named (Debian's
    package has no provider): scraped and parsed, it agrees with mntr through zkboot."""
    import urllib.request

    paths = ZkPaths(tmp_path)
    metrics_port = free_port()
    provider = [
        "--set=metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        "--set=metricsProvider.httpHost=127.0.0.1",
        f"--set=metricsProvider.httpPort={metrics_port}",
    ]
    started = zk_launcher([script("zkboot"), "start", *paths.flags(), *provider], paths)
    wait_serving(started)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        exposition = response.read(4 << 20).decode()
    families = {family.name: family for family in text_string_to_metric_families(exposition)}
    assert "jvm_memory_bytes_used" in families, sorted(families)[:20]  # exportJvmInfo is on by default
    mntr = subprocess.run([script("zkboot"), "metrics", "--format=json"], capture_output=True, text=True,
                          env=clean_env(ZK_CLIENT_PORT=str(started.port)), timeout=10, check=False)  # fmt: skip
    assert mntr.returncode == 0, mntr.stderr
    document = json.loads(mntr.stdout)
    (znodes,) = families["znode_count"].samples
    assert znodes.value == document["zk_znode_count"]
    assert families["num_alive_connections"].samples[0].value >= 0


@pytest.mark.parametrize("zookeeper", [UPSTREAM], ids=lambda z: z.name)
def test_a_metrics_port_serves_the_providers_endpoint(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    """``--metrics-port``: the real 3.9.5 serves /metrics there, the families the chart's default
    rules are written against among them."""
    import urllib.request

    paths = ZkPaths(tmp_path)
    metrics_port = free_port()
    started = zk_launcher([script("zkboot"), "start", *paths.flags(), f"--metrics-port={metrics_port}"], paths)
    wait_serving(started)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        assert response.status == 200
        exposition = response.read(4 << 20).decode()
    families = {family.name: family for family in text_string_to_metric_families(exposition)}
    for name in ("znode_count", "outstanding_requests", "fsynctime", "open_file_descriptor_count",
                 "max_file_descriptor_count", "uptime"):  # fmt: skip
        assert name in families, sorted(families)
    assert families["max_file_descriptor_count"].samples[0].value > 0


def test_debians_zookeeper_is_refused_a_metrics_port(tmp_path: Path) -> None:
    """Debian's package has no Prometheus provider: one line, exit 1, nothing written."""
    why = DEBIAN.missing()
    if why:
        pytest.skip(why)
    pod = tmp_path / "pod"
    env = clean_env(pod, ZK_HOME=str(DEBIAN.home), ZK_HOSTNAME="zk-0", ZK_DOMAIN="zk-hs.default.svc.cluster.local")
    result = subprocess.run([script("zkboot"), "start", "--metrics-port=9141"], capture_output=True, text=True,
                            env=env, timeout=30, check=False)  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line == (
        f"zkboot: error: --metrics-port=9141: the ZooKeeper at {DEBIAN.zkserver.resolve()} has no "
        "zookeeper-prometheus-metrics jar in its classpath; expected an installation with the Prometheus "
        "metrics provider (or no metrics port)"
    ), line
    assert not pod.exists()
