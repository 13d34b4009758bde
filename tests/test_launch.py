"""Handing over to zkServer.sh: the command, its environment, and a real exec (same PID)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import DEBIAN_INSTALLATION as FIXED
from tests.helpers import clean_env, script, stub_home
from zkboot.installation import Installation
from zkboot.settings.resolve import resolve
from zkboot.settings.schema import Settings
from zkboot.start import launch

UPSTREAM = Installation(Path("/opt/zookeeper/bin/zkServer.sh"), "upstream", "3.8.4", "logback", ())


def settings(tmp_path: Path, **flags: str) -> Settings:
    base = {
        "conf_dir": str(tmp_path / "conf"),
        "data_dir": str(tmp_path / "data"),
        "data_log_dir": str(tmp_path / "datalog"),
        "log_dir": str(tmp_path / "logs"),
        "hostname": "zk-0",
    }
    base.update(flags)
    return resolve(base, {})


def xmx(flags: str) -> list[str]:
    return [word for word in flags.split() if word.startswith("-Xmx")]


# --- argv ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("installation", [UPSTREAM, FIXED], ids=["upstream", "fixed"])
def test_argv(tmp_path: Path, installation: Installation) -> None:
    s = settings(tmp_path)
    assert launch.argv(installation, f"{s.conf_dir}/zoo.cfg") == [
        str(installation.zkserver),
        "start-foreground",
        f"{tmp_path}/conf/zoo.cfg",
    ]


def test_argv_config_path_absolute_with_trailing_slash(tmp_path: Path) -> None:
    s = settings(tmp_path, conf_dir=f"{tmp_path}/conf/")
    command = launch.argv(UPSTREAM, f"{s.conf_dir}/zoo.cfg")
    assert command[2] == f"{tmp_path}/conf/zoo.cfg"
    assert Path(command[2]).is_absolute()


# --- environment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("installation", [UPSTREAM, FIXED], ids=["upstream", "fixed"])
def test_environment(tmp_path: Path, installation: Installation) -> None:
    s = settings(tmp_path, heap="768M", log_level="DEBUG")
    flags = launch.jvm_flags(s, "768M", installation)
    base = {"PATH": "/usr/bin:/bin", "HOME": "/home/zk"}
    env = launch.environment(base, s, flags, "768M")
    assert env["ZOOCFGDIR"] == f"{tmp_path}/conf"
    assert env["ZK_SERVER_HEAP"] == "768"  # upstream zkEnv.sh's own -Xmx${ZK_SERVER_HEAP}m agrees
    assert env["ZOO_LOG_DIR"] == f"{tmp_path}/logs"
    assert env["PATH"] == "/usr/bin:/bin" and env["HOME"] == "/home/zk"
    assert xmx(env["SERVER_JVMFLAGS"]) == ["-Xmx768M"]
    assert env["SERVER_JVMFLAGS"].split() == list(flags)
    assert base == {"PATH": "/usr/bin:/bin", "HOME": "/home/zk"}  # not mutated


def test_environment_fixed_layout_classpath(tmp_path: Path) -> None:
    s = settings(tmp_path)
    flags = launch.jvm_flags(s, "2G", FIXED)
    env = launch.environment({}, s, flags, "2G")
    assert env["ZK_SERVER_HEAP"] == "2048"
    words = env["SERVER_JVMFLAGS"].split()
    assert words.count("-cp") == 1
    classpath = words[words.index("-cp") + 1].split(":")
    assert classpath[0] == f"{tmp_path}/conf"
    assert "/usr/share/java/slf4j-log4j12.jar" in classpath
    assert "/usr/share/java/log4j-1.2.jar" in classpath
    assert f"-Dlog4j.configuration=file:{tmp_path}/conf/log4j.properties" in words


def test_environment_replaces_stale_values(tmp_path: Path) -> None:
    """Values left in the environment by a previous attempt or the image do not add a second -Xmx."""
    s = settings(tmp_path, heap="1G")
    base = {"SERVER_JVMFLAGS": "-Xmx4G -Dstale=1", "ZOOCFGDIR": "/etc/zookeeper/conf", "ZOO_LOG_DIR": "/old"}
    env = launch.environment(base, s, launch.jvm_flags(s, "1G", UPSTREAM), "1G")
    assert xmx(env["SERVER_JVMFLAGS"]) == ["-Xmx1G"]
    assert "-Dstale=1" not in env["SERVER_JVMFLAGS"]
    assert env["ZOOCFGDIR"] == f"{tmp_path}/conf"
    assert env["ZOO_LOG_DIR"] == f"{tmp_path}/logs"


def test_environment_keeps_user_jvmflags(tmp_path: Path) -> None:
    s = settings(tmp_path)
    user = "-Xmx3G -XX:+UseG1GC -Dzookeeper.extra=1"
    env = launch.environment({"JVMFLAGS": user}, s, launch.jvm_flags(s, "2G", UPSTREAM), "2G")
    assert env["JVMFLAGS"] == user
    assert xmx(env["SERVER_JVMFLAGS"]) == ["-Xmx2G"]


def test_environment_without_user_jvmflags_adds_none(tmp_path: Path) -> None:
    s = settings(tmp_path)
    env = launch.environment({}, s, launch.jvm_flags(s, "2G", UPSTREAM), "2G")
    assert "JVMFLAGS" not in env


# --- a real exec -----------------------------------------------------------------------------------


STUB = """\
{{
  echo "pid=$$"
  echo "argc=$#"
  for arg in "$@"; do echo "arg=$arg"; done
  echo "ZOOCFGDIR=$ZOOCFGDIR"
  echo "SERVER_JVMFLAGS=$SERVER_JVMFLAGS"
  echo "JVMFLAGS=$JVMFLAGS"
}} > {out}
exit 0
"""


def test_start_zookeeper_execs_zkserver(tmp_path: Path) -> None:
    out = tmp_path / "stub-report"
    home = stub_home(tmp_path / "zookeeper", STUB.format(out=out), jars=["zookeeper-3.8.4.jar"])
    env = clean_env(tmp_path, ZK_HOSTNAME="zk-0", JVMFLAGS="-Dfrom.user=1")
    proc = subprocess.Popen(
        [script("start-zookeeper"), f"--zookeeper-home={home}", "--heap=512M"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    report = out.read_text().splitlines()
    values = dict(line.split("=", 1) for line in report if not line.startswith("arg="))
    args = [line.split("=", 1)[1] for line in report if line.startswith("arg=")]
    # exec: the stub ran as the very process we started, not as its child.
    assert int(values["pid"]) == proc.pid
    assert args == ["start-foreground", f"{tmp_path}/conf/zoo.cfg"]
    assert values["argc"] == "2"
    assert values["ZOOCFGDIR"] == f"{tmp_path}/conf"
    assert xmx(values["SERVER_JVMFLAGS"]) == ["-Xmx512M"]
    assert f"-Dlogback.configurationFile={tmp_path}/conf/logback.xml" in values["SERVER_JVMFLAGS"]
    assert values["JVMFLAGS"] == "-Dfrom.user=1"
    # Everything was written before the exec, and said so.
    assert (tmp_path / "conf" / "zoo.cfg").is_file()
    assert (tmp_path / "conf" / "logback.xml").is_file()
    assert (tmp_path / "data" / "myid").read_text() == "1\n"
    assert f"(pid {proc.pid})" in stderr
    assert stdout == ""
