"""``--log-template`` / ``ZK_LOG_TEMPLATE``: the user's own template for ZooKeeper's log
configuration, rendered with zkboot's variables, and refused (one line, nothing written) when it
cannot be read, parsed or rendered."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import clean_env, script, snapshot, stub_home
from zkboot.start.logconfig import VARIABLES


def run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(tmp_path / "pod", ZK_HOSTNAME="zk-2", ZK_REPLICAS="3", ZK_DOMAIN="zk-hs.ns.svc.cluster.local")
    return subprocess.run([script(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30, env=env)


def shown(output: str) -> dict[str, str]:
    """``zkboot render``'s files by name."""
    files = {}
    for part in output.split("==> ")[1:]:
        header, _, body = part.partition(" <==\n")
        files[Path(header).name] = body
    return files


def test_every_variable_reaches_the_template_for_each_backend(tmp_path: Path) -> None:
    template = tmp_path / "log.j2"
    template.write_text("".join(f"{name}={{{{ {name} }}}}\n" for name in VARIABLES))
    result = run(tmp_path, "zkboot", "render", f"--log-template={template}", "--log-level=FATAL",
                 "--zookeeper-home=/nonexistent")  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = shown(result.stdout)
    pod = tmp_path / "pod"
    for name, backend, level in (("log4j.properties", "log4j", "FATAL"), ("logback.xml", "logback", "ERROR")):
        values = dict(line.split("=", 1) for line in files[name].splitlines() if line)
        assert values == {
            "backend": backend,
            "level": level,
            "pattern": "%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n",
            "log_dir": f"{pod}/logs",
            "myid": "3",
            "hostname": "zk-2",
            "fqdn": "zk-2.zk-hs.ns.svc.cluster.local",
            "version": values["version"],
        }, name


def test_without_a_template_the_files_are_zkboots_own(tmp_path: Path) -> None:
    result = run(tmp_path, "zkboot", "render", "--zookeeper-home=/nonexistent")
    assert result.returncode == 0, result.stderr
    assert "log4j.rootLogger=INFO, CONSOLE" in shown(result.stdout)["log4j.properties"]


BAD_TEMPLATES = [
    ("syntax", "level={{ level ", "line 1: unexpected end of template"),
    ("undefined", "level={{ levle }}", "'levle' is undefined"),
    ("sandbox", "{{ ''.__class__.__mro__ }}", "SecurityError"),
    ("failing", "{{ 1 // 0 }}", "ZeroDivisionError"),
]


@pytest.mark.parametrize(
    ("content", "words"), [(c, w) for _, c, w in BAD_TEMPLATES], ids=[i for i, _, _ in BAD_TEMPLATES]
)
@pytest.mark.parametrize("command", ["start-zookeeper", "zkGenConfig.sh", "zkboot start"])
def test_a_bad_template_is_one_line_and_nothing_is_written(
    tmp_path: Path, command: str, content: str, words: str
) -> None:
    template = tmp_path / "log.j2"
    template.write_text(content)
    home = stub_home(tmp_path / "zookeeper", "exit 0\n", jars=["zookeeper-3.8.4.jar"])
    before = snapshot(tmp_path)
    result = run(tmp_path, *command.split(), f"--log-template={template}", f"--zookeeper-home={home}")
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert f"ZK_LOG_TEMPLATE={template}: " in line or f"--log-template={template}: " in line, line
    assert words in line, line
    assert snapshot(tmp_path) == before


def test_an_unreadable_template_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.j2"
    result = run(tmp_path, "zkboot", "render", f"--log-template={missing}", "--zookeeper-home=/nonexistent")
    expected = f"zkboot: error: --log-template={missing}: cannot read (No such file or directory); expected a readable"
    assert (result.returncode, result.stderr.strip()) == (1, expected + " template")


def test_a_relative_template_path_is_bad_usage(tmp_path: Path) -> None:
    result = run(tmp_path, "zkboot", "render", "--log-template=log.j2", "--zookeeper-home=/nonexistent")
    assert result.returncode == 2
    assert "--log-template='log.j2': expected an absolute path" in result.stderr
