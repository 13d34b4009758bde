"""``--metrics-port`` / ``ZK_METRICS_PORT``: ZooKeeper's own Prometheus provider in zoo.cfg, its keys
kept from ``--set``, its port kept apart from the others, and installations without the provider
refused before anything is written.  The real endpoint is scraped in tests/test_integration.py."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers import DOMAIN, clean_env, script, stub_home
from tests.test_installation import fixed, upstream
from zkboot import installation as install

PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
POD = {"ZK_HOSTNAME": "zk-0", "ZK_DOMAIN": DOMAIN}


def run(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30, env=env)


def zoo_cfg(*flags: str, **env: str) -> list[str]:
    shown = run(["zkboot", "render", "--zookeeper-home=/nonexistent", *flags], clean_env(**POD, **env))
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.split("zoo.cfg", 1)[1].splitlines()


@pytest.mark.parametrize(("flags", "env"), [(["--metrics-port=9141"], {}), ([], {"ZK_METRICS_PORT": "9141"})])
def test_a_metrics_port_names_the_provider_and_its_port(flags: list[str], env: dict[str, str]) -> None:
    lines = zoo_cfg(*flags, **env)
    assert f"metricsProvider.className={PROVIDER}" in lines
    assert "metricsProvider.httpPort=9141" in lines
    # The provider's own default host (all addresses) is what a pod's Service needs.
    assert not [line for line in lines if line.startswith("metricsProvider.httpHost")]


def test_without_a_metrics_port_there_is_no_provider_and_set_may_name_one() -> None:
    assert not [line for line in zoo_cfg() if line.startswith("metricsProvider.")]
    lines = zoo_cfg(f"--set=metricsProvider.className={PROVIDER}", "--set=metricsProvider.httpPort=7000")
    assert f"metricsProvider.className={PROVIDER}" in lines and "metricsProvider.httpPort=7000" in lines


def test_the_providers_other_keys_stay_the_users() -> None:
    lines = zoo_cfg("--metrics-port=9141", "--set=metricsProvider.exportJvmInfo=false")
    assert "metricsProvider.exportJvmInfo=false" in lines and "metricsProvider.httpPort=9141" in lines


@pytest.mark.parametrize("key", ["metricsProvider.className", "metricsProvider.httpPort"])
def test_set_is_refused_the_keys_the_metrics_port_writes(key: str) -> None:
    result = run(["zkboot", "render", "--metrics-port=9141", f"--set={key}=x"], clean_env(**POD))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert f"{key} is written by zkboot; set it with --metrics-port / ZK_METRICS_PORT" in line, line


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--metrics-port=2181"], "--metrics-port=2181: the same port as --client-port"),
        (["--admin-server=on", "--admin-port=9141", "--metrics-port=9141"], "the same port as --admin-port"),
        (["--servers=3", "--metrics-port=2888"], "--metrics-port=2888: the same port as --server-port"),
        (["--metrics-port=0"], "--metrics-port"),
        (["--metrics-port=http"], "--metrics-port"),
    ],
)
def test_a_bad_metrics_port_is_one_line(flags: list[str], expected: str) -> None:
    result = run(["zkboot", "render", *flags], clean_env(**POD))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert expected in line, line


@pytest.mark.parametrize(
    ("jars", "expected"),
    [
        (["zookeeper-3.5.9.jar"], "ZooKeeper 3.5.9 at {zkserver} has no Prometheus metrics provider; expected 3.6.0"),
        (["zookeeper-3.9.5.jar"], "the ZooKeeper at {zkserver} has no zookeeper-prometheus-metrics jar in lib/"),
    ],
)
def test_a_zookeeper_without_the_provider_is_refused_before_anything_is_written(
    tmp_path: Path, jars: list[str], expected: str
) -> None:
    marker = tmp_path / "ran"
    home = stub_home(tmp_path / "zookeeper", f"touch {marker}\n", jars)
    env = clean_env(tmp_path / "pod", ZK_HOME=str(home), **POD)
    result = run(["zkboot", "start", "--metrics-port=9141"], env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    zkserver = (home / "bin" / "zkServer.sh").resolve()
    assert line.startswith("zkboot: error: --metrics-port=9141: "), line
    assert expected.format(zkserver=zkserver) in line, line
    assert not (tmp_path / "pod").exists() and not marker.exists()


def test_the_providers_jar_is_found_where_each_layout_keeps_its_jars(tmp_path: Path) -> None:
    with_it = upstream(tmp_path / "up", ["zookeeper-3.9.5.jar", "zookeeper-prometheus-metrics-3.9.5.jar"])
    without = upstream(tmp_path / "bare", ["zookeeper-3.9.5.jar"])
    assert install.find(str(with_it), {}).prometheus_jar
    assert not install.find(str(without), {}).prometheus_jar
    on_path = fixed(tmp_path / "deb", ["zookeeper.jar", "zookeeper-prometheus-metrics.jar", "logback-classic.jar"])
    assert install.examine(on_path / "bin" / "zkServer.sh").prometheus_jar
    # Beside the classpath is not on it: the provider would not load.
    beside = fixed(tmp_path / "deb2", ["zookeeper.jar", "logback-classic.jar"], ("zookeeper-prometheus-metrics.jar",))
    assert not install.examine(beside / "bin" / "zkServer.sh").prometheus_jar
