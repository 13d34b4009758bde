"""The command lines themselves: progress lines, help, warnings, render --output-dir, python -m."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import DOMAIN, clean_env, script
from zkboot import __version__


def run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = clean_env(tmp_path, ZK_HOME="/usr/share/zookeeper", **env)
    return subprocess.run(command, capture_output=True, text=True, env=base, timeout=30, check=False)


def test_python_m_zkboot_runs_the_cli(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "zkboot", "version"], tmp_path)
    assert (result.returncode, result.stdout) == (0, f"zkboot {__version__}\n")


def test_start_zookeeper_help_lists_old_and_new_settings(tmp_path: Path) -> None:
    result = run([script("start-zookeeper"), "-h"], tmp_path)
    assert result.returncode == 0
    for fragment in ("--data_dir=VALUE", "ZK_DATA_DIR", "--purge_interval=VALUE", "--hostname=VALUE", "ZK_CFG_EXTRA"):
        assert fragment in result.stdout
    assert not list(tmp_path.iterdir())


def test_progress_lines_one_per_step(tmp_path: Path) -> None:
    result = run([script("zkGenConfig.sh"), "--servers", "3", f"--domain={DOMAIN}"], tmp_path, ZK_HOSTNAME="zk-2")
    assert result.returncode == 0, result.stderr
    events = [line.split(" ", 2)[1] for line in result.stderr.splitlines()]
    assert events[:3] == ["identity", "zookeeper", "heap"]
    assert events.count("created") == 4
    assert events.count("wrote") == 5  # zoo.cfg, java.env, java.security, log4j.properties, myid
    assert f"zk-2.{DOMAIN}: StatefulSet zk ordinal 2, myid 3, ensemble of 3" in result.stderr
    assert (tmp_path / "data" / "myid").read_text() == "3\n"


def test_json_progress_lines(tmp_path: Path) -> None:
    result = run([script("zkGenConfig.sh")], tmp_path, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0", ZK_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {r["program"] for r in records} == {"zkGenConfig.sh"}
    assert [r["event"] for r in records][:3] == ["identity", "zookeeper", "heap"]
    wrote = [r["detail"] for r in records if r["event"] == "wrote"]
    assert any(detail.startswith(str(tmp_path / "conf" / "zoo.cfg")) for detail in wrote)


def test_json_error_line(tmp_path: Path) -> None:
    result = run([script("zkGenConfig.sh")], tmp_path, ZK_REPLICAS="x", ZK_LOG_FORMAT="json")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert record["event"] == "error"
    assert "ZK_REPLICAS='x'" in record["detail"]


def test_unknown_extra_key_warns_with_the_likely_key_and_is_written(tmp_path: Path) -> None:
    result = run(
        [script("zkboot"), "start", "--zookeeper-home=/nonexistent", "--set", "autopurge.purgeInteval=12"],
        tmp_path,
        ZK_HOSTNAME="zk-0",
    )
    assert result.returncode == 1  # no ZooKeeper there: stops before writing
    render = run(
        [script("zkboot"), "render", "--hostname=zk-0", "--set", "autopurge.purgeInteval=12", "--set", "snapCount=5"],
        tmp_path,
    )
    assert render.returncode == 0
    assert "did you mean autopurge.purgeInterval (set with --purge-interval / ZK_PURGE_INTERVAL)?" in render.stderr
    assert "snapCount" not in render.stderr  # a documented key gets no warning
    zoo_cfg = render.stdout.split("<==\n", 1)[1].split("\n==> ", 1)[0]
    assert zoo_cfg.splitlines()[-2:] == ["autopurge.purgeInteval=12", "snapCount=5"]


def test_render_output_dir_mirrors_paths_and_matches_print(tmp_path: Path) -> None:
    out = tmp_path / "out"
    flags = ["--servers=3", "--hostname=zk-1", f"--domain={DOMAIN}", "--conf-dir=/opt/zookeeper/conf"]
    written = run([script("zkboot"), "render", *flags, f"--output-dir={out}"], tmp_path)
    printed = run([script("zkboot"), "render", *flags, "--format=json"], tmp_path)
    assert written.returncode == 0 and printed.returncode == 0
    files = json.loads(printed.stdout)["files"]
    assert {f["path"] for f in files} == {
        "/opt/zookeeper/conf/zoo.cfg",
        "/opt/zookeeper/conf/java.env",
        "/opt/zookeeper/conf/java.security",
        "/opt/zookeeper/conf/log4j.properties",
        f"{tmp_path}/data/myid",
    }
    for entry in files:
        assert (out / entry["path"].lstrip("/")).read_text() == entry["content"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing outside --output-dir


def test_old_flags_take_a_separate_value_too(tmp_path: Path) -> None:
    result = run([script("zkGenConfig.sh"), "--servers", "2", "--domain", DOMAIN], tmp_path, ZK_HOSTNAME="zk-1")
    assert result.returncode == 0, result.stderr
    assert f"server.2=zk-1.{DOMAIN}:2888:3888" in (tmp_path / "conf" / "zoo.cfg").read_text()
