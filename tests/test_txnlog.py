"""The transaction log's dir read from the volume (zkboot.start.txnlog): a volume that keeps its log
in the data dir (Bitnami's chart: no dataLogDir) starts on it whatever --data-log-dir says; a volume
with a log in both dirs is refused before anything is written.

The unit tests use empty ``log.*``/``snapshot.*`` files (only the names decide); the integration
test makes the volume with a real ZooKeeper on each installation and restarts it through zkboot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from tests.helpers import (
    DOMAIN,
    Started,
    Unprivileged,
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    on_each_installation,
    script,
    snapshot,
    stop,
    stub_home,
    wait_until,
)
from zkboot.errors import EnvironmentProblem
from zkboot.settings.resolve import resolve
from zkboot.start import txnlog

LOG, SNAP = "log.100000001", "snapshot.0"
START_TIMEOUT = 60.0


def _put(directory: Path, *names: str) -> None:
    (directory / "version-2").mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / "version-2" / name).write_bytes(b"")


def _detect(tmp_path: Path, log_dir: Path | None = None) -> tuple[str, str | None]:
    flags = {} if log_dir is None else {"data_log_dir": str(log_dir)}
    found = txnlog.detect(resolve(flags, clean_env(tmp_path)))
    return found.settings.data_log_dir, found.note


def test_logs_in_the_data_dir_alone_make_it_the_log_dir(tmp_path: Path) -> None:
    data, datalog = tmp_path / "data", tmp_path / "datalog"
    _put(data, SNAP, LOG)
    chosen, note = _detect(tmp_path)
    assert chosen == str(data)
    assert note is not None and note.startswith(f"{data} (the data dir: ")
    assert f"{datalog}/version-2 does not exist" in note and "ZK_DATA_LOG_DIR=" in note
    _put(datalog)  # a log dir an earlier start made, still empty
    chosen, note = _detect(tmp_path)
    assert chosen == str(data) and note is not None and f"{datalog}/version-2 holds none" in note


def test_a_snapshot_in_the_log_dir_does_not_decide(tmp_path: Path) -> None:
    """Snapshots are read from the data dir in either layout: one in the log dir changes nothing."""
    _put(tmp_path / "data", SNAP, LOG)
    _put(tmp_path / "datalog", SNAP)
    assert _detect(tmp_path)[0] == str(tmp_path / "data")


@pytest.mark.parametrize(
    ("in_data", "in_datalog"),
    [((), ()), ((SNAP,), (LOG,)), ((SNAP,), ()), (("log",), ()), (("logs.txt", "snapshot.1"), ())],
    ids=["empty", "separate-layout", "snapshots-only", "not-a-log-name", "other-names"],
)
def test_otherwise_the_configured_log_dir(
    tmp_path: Path, in_data: tuple[str, ...], in_datalog: tuple[str, ...]
) -> None:
    _put(tmp_path / "data", *in_data)
    _put(tmp_path / "datalog", *in_datalog)
    assert _detect(tmp_path) == (str(tmp_path / "datalog"), None)


def test_a_log_dir_equal_to_the_data_dir_is_as_configured(tmp_path: Path) -> None:
    _put(tmp_path / "data", SNAP, LOG)
    assert _detect(tmp_path, tmp_path / "data") == (str(tmp_path / "data"), None)


def test_a_log_dir_inside_the_data_dir_is_another_dir(tmp_path: Path) -> None:
    """The old scripts' <data>/log: its version-2 is not the data dir's."""
    _put(tmp_path / "data", SNAP, LOG)
    assert _detect(tmp_path, tmp_path / "data" / "log")[0] == str(tmp_path / "data")


def test_logs_in_both_are_refused(tmp_path: Path) -> None:
    _put(tmp_path / "data", SNAP, LOG)
    _put(tmp_path / "datalog", "log.200000001")
    with pytest.raises(EnvironmentProblem) as caught:
        _detect(tmp_path)
    (line,) = caught.value.problems
    assert line.startswith(f"ZK_DATA_LOG_DIR={tmp_path / 'datalog'}: {tmp_path / 'data'}/version-2 and ")
    assert "both hold transaction logs" in line and "expected one of them" in line


def _pod(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """One pod's tree under tmp_path/pod, a fake ZooKeeper that records that it ran."""
    root = tmp_path / "pod"
    home = stub_home(tmp_path / "fakezk", f"echo ran > {tmp_path / 'exec-marker'}\n")
    return root, clean_env(root, ZK_HOME=str(home), ZK_HOSTNAME="zk-0", ZK_DOMAIN=DOMAIN, ZK_REPLICAS="1")


@pytest.mark.parametrize("command", ["zkboot start", "start-zookeeper", "zkGenConfig.sh", "zkboot render"])
def test_the_refusal_writes_nothing(command: str, tmp_path: Path) -> None:
    root, env = _pod(tmp_path)
    _put(root / "data", SNAP, LOG)
    _put(root / "datalog", "log.200000001")
    (root / "conf").mkdir()
    (root / "conf" / "zoo.cfg").write_text("# from the last start\n")
    before = snapshot(tmp_path, mtimes=True)
    program, *sub = command.split()
    result = subprocess.run([script(program), *sub], capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()  # no progress line came first
    assert line.startswith(f"{program}: error: ZK_DATA_LOG_DIR={root / 'datalog'}: "), line
    assert "both hold transaction logs" in line
    assert snapshot(tmp_path, mtimes=True) == before


@pytest.mark.parametrize("command", ["zkGenConfig.sh", "zkboot render"])
def test_zoo_cfg_names_the_data_dir_as_the_log_dir(command: str, tmp_path: Path) -> None:
    root, env = _pod(tmp_path)
    _put(root / "data", SNAP, LOG)
    program, *sub = command.split()
    result = subprocess.run([script(program), *sub], capture_output=True, text=True, env=env, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    text = result.stdout if program == "zkboot" else (root / "conf" / "zoo.cfg").read_text()
    assert f"\ndataLogDir={root / 'data'}\n" in text, text
    (line,) = [line for line in result.stderr.splitlines() if " datalog " in line]
    assert line.startswith(f"{program}: datalog {root / 'data'} (the data dir: "), line
    assert not (root / "datalog").exists()  # the configured log dir is not even made


def wait_serving(started: Started) -> None:
    def serving() -> bool:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        return "Mode: " in four_letter(started.port, "srvr", timeout=1.0)

    wait_until(serving, START_TIMEOUT, what=f"a serving server on port {started.port}")


def test_a_volume_out_of_reach(tmp_path: Path, unprivileged: Unprivileged) -> None:
    """A data dir this user cannot read: a start stops (naming the dir it cannot use), ``render``
    warns and shows the configured log dir."""
    if unprivileged.become is None:
        pytest.skip("needs root, to make a dir another user cannot read")
    root, env = _pod(tmp_path)
    _put(root / "data", SNAP, LOG)
    (root / "data").chmod(0o700)  # root's: out of nobody's reach
    unprivileged.own(root)
    argv = [script("zkboot"), "render", "--data-log-dir", str(tmp_path / "elsewhere")]
    rendered = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=30, check=False, preexec_fn=unprivileged.become
    )
    assert rendered.returncode == 0, rendered.stderr
    (line,) = rendered.stderr.splitlines()
    assert line.startswith(f"zkboot: warning: {root / 'data'}/version-2: cannot read (Permission denied); "), line
    assert line.endswith(f"shown with --data-log-dir={tmp_path / 'elsewhere'} as configured"), line
    assert f"\ndataLogDir={tmp_path / 'elsewhere'}\n" in rendered.stdout
    before = snapshot(tmp_path)
    started = subprocess.run(
        [script("zkGenConfig.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
        preexec_fn=unprivileged.become,
    )
    assert started.returncode == 1, started.stderr
    (line,) = started.stderr.splitlines()
    assert line.startswith(f"zkGenConfig.sh: error: {root / 'data'}: cannot write into it as uid "), line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("stray_snapshot", [False, True], ids=["no-log-dir", "snapshot-in-log-dir"])
@on_each_installation
def test_a_volume_with_its_log_in_the_data_dir_restarts_with_every_znode(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper, stray_snapshot: bool
) -> None:
    """Bitnami's layout made by the real server (dataLogDir = dataDir), then started by zkboot with
    its own --data-log-dir: ZooKeeper would refuse the data dir's log files, or without its check
    start from the snapshot alone; zkboot starts it on the data dir and every znode is there.  A
    snapshot in the configured log dir does not decide (and the server never reads it)."""
    paths = ZkPaths(tmp_path)
    bitnami = [f"--data_log_dir={paths.data}" if f.startswith("--data_log_dir=") else f for f in paths.flags()]
    first = zk_launcher([script("zkboot"), "start", *bitnami], paths)
    wait_serving(first)
    written = {f"/bitnami/{i}": f"value {i}".encode() for i in range(20)}
    client = KazooClient(hosts=f"127.0.0.1:{first.port}", timeout=10)
    client.start(timeout=15)
    try:
        for path, value in written.items():
            client.create(path, value, makepath=True)
    finally:
        client.stop()
        client.close()
    stop(first.process)
    logs = sorted(p.name for p in (paths.data / "version-2").iterdir() if p.name.startswith("log."))
    assert logs, "the first server wrote no transaction log into the data dir"
    assert not (tmp_path / "datalog").exists()
    datalog = tmp_path / "datalog" / "version-2"
    if stray_snapshot:
        datalog.mkdir(parents=True)
        (datalog / "snapshot.0").write_bytes((paths.data / "version-2" / "snapshot.0").read_bytes())

    second = zk_launcher([script("zkboot"), "start", *paths.flags()], paths)  # --data_log_dir=<root>/datalog
    wait_serving(second)
    text = second.text()
    found = "holds none" if stray_snapshot else "does not exist"
    assert f"zkboot: datalog {paths.data} (the data dir: {paths.data}/version-2 holds transaction logs" in text, text
    assert f"{datalog} {found}" in text, text
    assert f"--data-log-dir={tmp_path / 'datalog'} not used" in text, text
    assert f"dataLogDir={paths.data}\n" in (paths.conf / "zoo.cfg").read_text()
    client = KazooClient(hosts=f"127.0.0.1:{second.port}", timeout=10)
    client.start(timeout=15)
    try:
        read = {path: client.get(path)[0] for path in written}
    finally:
        client.stop()
        client.close()
    assert read == written
    if stray_snapshot:  # no log written there
        assert sorted(p.name for p in datalog.iterdir()) == ["snapshot.0"]
    else:  # no new log dir, let alone a log in one
        assert not datalog.parent.exists()
    assert "Snapshot directory has log files" not in text
