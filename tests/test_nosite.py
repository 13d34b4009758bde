"""``python -m zkboot.cli.nosite``: the installed probe scripts rewritten to start with ``python -S``,
as the image has them.  Copies of this venv's installed scripts are rewritten and run as Kubernetes
runs them (the files themselves, in a subprocess) against the fakes of tests/fakes.py."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.fakes import Canned
from tests.helpers import clean_env, copy_scripts, free_port, script
from zkboot.cli.nosite import MARK, SCRIPTS, package_root

ROOT = Path(__file__).resolve().parents[1]
NOSITE = [sys.executable, "-m", "zkboot.cli.nosite"]


def nosite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOSITE, *args], capture_output=True, text=True, timeout=30, env=clean_env())


def copies(directory: Path) -> Path:
    """This venv's five installed scripts, copied (mode kept) into ``directory``/bin."""
    return copy_scripts(directory / "bin", SCRIPTS)


def contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.fixture
def rewritten(tmp_path: Path) -> Path:
    bin_dir = copies(tmp_path)
    done = nosite(str(bin_dir))
    assert done.returncode == 0 and done.stderr == "", done
    return bin_dir


def run(bin_dir: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30, env=clean_env(**extra)
    )


def test_the_scripts_are_pyprojects_script_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    files = project["tool"]["setuptools"]["script-files"]
    assert tuple(Path(file).name for file in files) == SCRIPTS


def test_each_script_gets_dash_s_and_the_directory_zkboot_came_from(rewritten: Path) -> None:
    for name in SCRIPTS:
        before = Path(script(name)).read_text().splitlines()
        after = (rewritten / name).read_text().splitlines()
        assert after[0] == before[0] + " -S", (name, after[0])
        added = [line for line in after if line.endswith(MARK)]
        assert added == [f"import sys; sys.path.append({package_root()!r})  {MARK}"], (name, added)
        assert [line for line in after[1:] if not line.endswith(MARK)] == before[1:], name
        assert after.index(added[0]) < next(i for i, line in enumerate(after) if line.startswith("from zkboot"))
        assert (rewritten / name).stat().st_mode & 0o111, f"{name} lost its executable bits"


def test_the_rewritten_probes_answer_as_before(rewritten: Path) -> None:
    with Canned() as fake:
        port = str(fake.port)
        for argv, extra in (
            (("zookeeper-ready", port), {}),
            (("zkOk.sh",), {"ZK_CLIENT_PORT": port}),
            (("zkboot", "probe", "live", "--port", port), {}),
            (("zkboot", "probe", "ready", "--port", port), {}),
        ):
            done = run(rewritten, *argv, **extra)
            assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), (argv, done)
        metrics = run(rewritten, "zookeeper-metrics", port)
        assert metrics.returncode == 0 and "zk_server_state\tleader\n" in metrics.stdout, metrics
    refused = run(rewritten, "zookeeper-ready", str(free_port()))
    assert refused.returncode == 1 and "(refused)" in refused.stderr and refused.stderr.count("\n") == 1, refused
    usage = run(rewritten, "zkboot", "probe", "ready", "--port", "nope")
    assert usage.returncode == 2 and "--port='nope'" in usage.stderr, usage


def imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules PYTHONPROFILEIMPORTTIME listed on stderr."""
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_the_rewritten_probes_import_neither_site_nor_os(rewritten: Path) -> None:
    """What -S is for: site (and the os module it brings) is a quarter of the interpreter's start."""
    bare = subprocess.run(
        [sys.executable, "-S", "-c", "pass"], capture_output=True, text=True, env=clean_env(PYTHONPROFILEIMPORTTIME="1")
    )
    with Canned() as fake:
        for argv in (("zookeeper-ready", str(fake.port)), ("zkboot", "probe", "ready", f"--port={fake.port}")):
            done = run(rewritten, *argv, PYTHONPROFILEIMPORTTIME="1")
            assert done.returncode == 0, done
            extra = imported(done) - imported(bare)
            assert "zkboot.cli.light" in extra, extra  # the listing works
            assert {m for m in extra if m != "_socket" and m.split(".")[0] != "zkboot"} == set(), (argv, extra)
            assert not {"site", "os"} & imported(done), argv


def test_the_other_commands_get_site_back(rewritten: Path, tmp_path: Path) -> None:
    """``zkboot render`` needs typer, which this venv has only through site (and its .pth files)."""
    domain = "--domain=zk-hs.default.svc.cluster.local"
    render = run(
        rewritten, "zkboot", "render", "--hostname=zk-1", "--servers=3", domain, "--zookeeper-home=/nonexistent"
    )
    assert render.returncode == 0, render
    assert "server.2=zk-1." in render.stdout
    start = run(rewritten, "zkboot", "start", "--servers=3", "--hostname=zk-7", f"--conf-dir={tmp_path}/conf")
    assert start.returncode == 2 and start.stderr.count("\n") == 1 and "zk-7" in start.stderr, start
    assert not (tmp_path / "conf").exists()


def test_running_it_again_writes_the_same_files(rewritten: Path) -> None:
    first = contents(rewritten)
    again = nosite(str(rewritten))
    assert again.returncode == 0, again
    assert contents(rewritten) == first


def test_a_script_that_is_not_zkbootss_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bin_dir = copies(tmp_path)
    last = bin_dir / SCRIPTS[-1]
    last.write_text("#!/bin/sh\necho something else\n")
    before = contents(bin_dir)
    done = nosite(str(bin_dir))
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and str(last) in done.stderr and "expected" in done.stderr, done.stderr
    assert contents(bin_dir) == before


def test_a_missing_script_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bin_dir = copies(tmp_path)
    (bin_dir / SCRIPTS[-1]).unlink()
    before = contents(bin_dir)
    done = nosite(str(bin_dir))
    assert done.returncode == 1, done
    assert done.stderr.count("\n") == 1 and str(bin_dir / SCRIPTS[-1]) in done.stderr, done.stderr
    assert contents(bin_dir) == before


def test_usage(tmp_path: Path) -> None:
    two = nosite(str(tmp_path), str(tmp_path))
    assert two.returncode == 2 and two.stderr.count("\n") == 1 and "DIR" in two.stderr, two
    missing = nosite(str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and f"DIR={tmp_path / 'nowhere'}" in missing.stderr, missing
    assert not (tmp_path / "nowhere").exists()
    helped = nosite("--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m zkboot.cli.nosite [DIR]")
