"""The start pipeline as a whole: every check before the first write, stale temp files, error format.

Each obstacle below used to be found only while writing (zoo.cfg rewritten and dirs created, then
exit 1); now the disk must be byte-for-byte as it was, and the error one line naming the path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import DOMAIN, clean_env, script, snapshot, stub_home

Obstacle = Callable[[Path], Path]  # makes the obstacle under the tree root; returns the path named


def _dir_at(relative: str) -> Obstacle:
    def make(root: Path) -> Path:
        (root / relative).mkdir(parents=True)
        return root / relative

    return make


def _file_at(relative: str) -> Obstacle:
    def make(root: Path) -> Path:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("in the way\n")
        return root / relative

    return make


# (id, obstacle, words the error must hold besides the path)
OBSTACLES: list[tuple[str, Obstacle, str]] = [
    ("java.env-is-a-dir", _dir_at("conf/java.env"), "a directory where a file must go"),
    ("zoo.cfg-is-a-dir", _dir_at("conf/zoo.cfg"), "a directory where a file must go"),
    ("logback.xml-is-a-dir", _dir_at("conf/logback.xml"), "a directory where a file must go"),
    ("myid-is-a-dir", _dir_at("data/myid"), "a directory where a file must go"),
    ("conf-dir-is-a-file", _file_at("conf"), "a file where a directory must go"),
    ("log-dir-is-a-file", _file_at("logs"), "a file where a directory must go"),
    ("data-log-dir-parent-is-a-file", _file_at("deep"), "a file where a directory must go"),
]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


def _tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A tree for one pod of three (conf/java.env etc. under it), and the environment naming it."""
    root = tmp_path / "pod"
    root.mkdir()
    env = clean_env(
        root,
        ZK_DATA_LOG_DIR=str(root / "deep" / "datalog"),
        ZK_REPLICAS="3",
        ZK_HOSTNAME="zk-1",
        ZK_DOMAIN=DOMAIN,
    )
    return root, env


def _assert_refused(result: subprocess.CompletedProcess[str], named: Path, words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no progress line, no traceback: the check came first
    assert f"{named}: {words}" in lines[0], lines[0]


@pytest.mark.parametrize(("obstacle", "words"), [o[1:] for o in OBSTACLES], ids=[o[0] for o in OBSTACLES])
@pytest.mark.parametrize("command", ["zkboot start", "start-zookeeper", "zkGenConfig.sh"])
def test_an_obstacle_anywhere_stops_before_anything_is_written(
    command: str, obstacle: Obstacle, words: str, tmp_path: Path
) -> None:
    root, env = _tree(tmp_path)
    marker = tmp_path / "exec-marker"
    home = stub_home(tmp_path / "fakezk", f"echo ran > {marker}\n")
    env["ZK_HOME"] = str(home)
    named = obstacle(root)
    # What an earlier start left: it must not be rewritten either.
    conf = root / "conf"
    if not conf.exists():
        conf.mkdir()
    if conf.is_dir() and not (conf / "zoo.cfg").exists():
        (conf / "zoo.cfg").write_text("# from the last start\n")
    before = snapshot(root, mtimes=True)
    program, *sub = command.split()
    result = _run([script(program), *sub], env)
    _assert_refused(result, named, words)
    assert snapshot(root, mtimes=True) == before
    assert not marker.exists()


@pytest.mark.parametrize(
    ("obstacle", "words"),
    [
        (lambda out: _file_at("out")(out.parent), "a file where a directory must go"),
        (lambda out: _dir_at("out/conf/zoo.cfg")(out.parent), "a directory where a file must go"),
        (lambda out: _file_at("out/tmp")(out.parent), "a file where a directory must go"),
    ],
    ids=["output-dir-is-a-file", "mirrored-zoo.cfg-is-a-dir", "mirrored-parent-is-a-file"],
)
def test_render_output_dir_checks_every_target_first(obstacle: Obstacle, words: str, tmp_path: Path) -> None:
    _, env = _tree(tmp_path)
    env["ZK_CONF_DIR"] = "/conf"  # mirrored: <out>/conf/zoo.cfg
    out = tmp_path / "out"
    named = obstacle(out)
    before = snapshot(tmp_path, mtimes=True)
    result = _run([script("zkboot"), "render", "--output-dir", str(out), "--zookeeper-home", "/nonexistent"], env)
    _assert_refused(result, named, words)
    assert snapshot(tmp_path, mtimes=True) == before


def test_stale_temp_files_of_a_killed_start_are_removed(tmp_path: Path) -> None:
    root, env = _tree(tmp_path)
    conf, data = root / "conf", root / "data"
    conf.mkdir()
    data.mkdir()
    ours = [conf / ".zoo.cfg.k1n2x3.tmp", conf / ".java.env.a8b7c6.tmp", conf / ".log4j.properties.zz.tmp"]
    ours.append(data / ".myid.q1w2e3.tmp")
    theirs = [conf / ".other.cfg.abc.tmp", conf / "zoo.cfg.tmp", conf / ".zoo.cfg.bak", data / "version-2.tmp"]
    for path in ours + theirs:
        path.write_text("partial")
    result = _run([script("zkGenConfig.sh")], env)
    assert result.returncode == 0, result.stderr
    assert [p for p in ours if p.exists()] == []
    assert [p for p in theirs if not p.exists()] == []  # only zkboot's own temp names are touched
    removed = [line for line in result.stderr.splitlines() if " removed " in line]
    assert len(removed) == len(ours), result.stderr


def test_a_run_of_start_leaves_no_temp_files_after_many_kills(tmp_path: Path) -> None:
    """The real thing: temp files a SIGKILLed write left are gone after the next start."""
    root, env = _tree(tmp_path)
    conf = root / "conf"
    conf.mkdir(parents=True)
    # Leftovers made by the real atomic writer, interrupted between its temp file and its rename.
    child = (
        "import os, sys, tempfile\n"
        "from pathlib import Path\n"
        "from zkboot.start import files\n"
        "target = Path(sys.argv[1])\n"
        "for _ in range(8):\n"
        "    fd, _ = tempfile.mkstemp(prefix=files.temp_prefix(target), suffix=files.TEMP_SUFFIX, dir=target.parent)\n"
        "    os.write(fd, b'half')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", child, str(conf / "zoo.cfg")], check=False, timeout=30)
    assert killed.returncode == -9
    assert len([n for n in conf.iterdir() if n.name.endswith(".tmp")]) == 8
    result = _run([script("zkGenConfig.sh")], env)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in conf.iterdir())
    assert "zoo.cfg" in names and [n for n in names if n.endswith(".tmp")] == [], names


@pytest.mark.parametrize(
    "argv",
    [
        ["zkboot", "render", "--log-format", "json", "--servers", "x"],
        ["zkboot", "render", "--log-format=json", "--zookeeper-home", "/nonexistent", "--hostname", "zk"],
        ["zkboot", "start", "--log-format", "json", "--no-such-flag"],
        ["start-zookeeper", "--log_format=json", "--servers=x"],
        ["start-zookeeper", "--log-format", "json", "--no_such_flag=1"],
        ["zkGenConfig.sh", "--log-format=json", "--servers=3", "--hostname=zk-5"],
    ],
    ids=["render-bad-value", "render-no-ordinal", "typer-unknown-flag", "legacy-bad-value", "legacy-unknown", "gen"],
)
def test_log_format_json_flag_applies_to_error_lines(argv: list[str], tmp_path: Path) -> None:
    result = _run([script(argv[0]), *argv[1:]], clean_env(tmp_path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "no error line"
    records = [json.loads(line) for line in lines]  # every line is JSON, the errors included
    assert {r["event"] for r in records} == {"error"}
    assert records[0]["program"] in ("zkboot", "start-zookeeper", "zkGenConfig.sh")


def test_every_invalid_setting_is_reported_in_one_run(tmp_path: Path) -> None:
    env = clean_env(tmp_path, ZK_TICK_TIME="soon", ZK_LOG_LEVEL="LOUD")
    result = _run([script("zkboot"), "render", "--servers", "x", "--client-port", "0", "--heap", "1"], env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(": error: ")[1].split("=")[0] for line in lines] == [
        "--servers",
        "--client-port",
        "ZK_TICK_TIME",
        "--heap",
        "ZK_LOG_LEVEL",
    ], lines
    assert list(tmp_path.iterdir()) == []


def test_render_output_dir_writes_as_a_start_does(tmp_path: Path) -> None:
    """The same checks and writes as a start: a second render for another pod into the same
    dir finds the first one's myid, refuses, and changes nothing."""
    out = tmp_path / "out"
    env = clean_env(ZK_REPLICAS="3", ZK_DOMAIN=DOMAIN)  # the image's default paths, mirrored under out
    argv = [script("zkboot"), "render", "--output-dir", str(out), "--zookeeper-home", "/nonexistent"]
    first = _run([*argv, "--hostname", "zk-1"], env)
    assert first.returncode == 0, first.stderr
    myid = out / "var" / "lib" / "zookeeper" / "data" / "myid"
    assert myid.read_text() == "2\n"
    before = snapshot(tmp_path, mtimes=True)
    second = _run([*argv, "--hostname", "zk-2"], env)
    assert second.returncode == 1, second.stderr
    assert second.stderr.splitlines() == [
        f"zkboot: error: {myid} holds '2' but zk-2 is myid 3; "
        + ("refusing to start on another server's data (expected this pod's own volume, or a data dir without myid)")
    ]
    assert snapshot(tmp_path, mtimes=True) == before


@pytest.mark.parametrize("obstacle", ["conf/java.env", "conf/log4j.properties", "data/membership/zoo.cfg"])
def test_a_dynamic_start_finds_an_obstacle_before_it_asks_a_peer(tmp_path: Path, obstacle: str) -> None:
    """With dynamic membership the membership step may commit a reconfig that adds this member:
    every path known before it (all but the dynamic file's) is checked in check_volume, not after."""
    from zkboot.errors import EnvironmentProblem
    from zkboot.identity import SystemNames, derive
    from zkboot.settings.resolve import resolve
    from zkboot.start import pipeline, plan

    password = tmp_path / "super"
    password.write_text("secret\n")
    flags = {"servers": "3", "membership": "dynamic", "super_password_file": str(password), "log_backend": "log4j"}
    settings = resolve(flags, clean_env(tmp_path))  # conf, data, datalog and logs under tmp_path
    identity = derive(settings, SystemNames("zk-0", f"zk-0.{DOMAIN}"))
    made = plan.with_installation(settings, identity, None, {}, need_secrets=True)
    (tmp_path / obstacle).mkdir(parents=True)
    with pytest.raises(EnvironmentProblem, match=f"{tmp_path / obstacle}: a directory where a file must go"):
        pipeline.check_volume(made, pipeline.fixed_files(made))
