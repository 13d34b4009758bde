"""Putting files on disk: atomic rewrites, the myid guard, whole rewrites, and running as non-root."""

from __future__ import annotations

import errno
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import DOMAIN, NOBODY, Unprivileged, clean_env, script, snapshot, stub_home
from zkboot.errors import EnvironmentProblem
from zkboot.start import files

ZK_GEN_CONFIG = script("zkGenConfig.sh")
START_ZOOKEEPER = script("start-zookeeper")


# --- helpers -----------------------------------------------------------------------------------


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def run(
    argv: list[str], env: dict[str, str], preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, preexec_fn=preexec, check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


# --- write_atomic: interrupted by an exception at each step -------------------------------------

OLD = "old content\n" * 100
NEW = "new content, longer than the old one\n" * 500


def failing(real: Callable[..., object], fail_on: int, exc: BaseException) -> Callable[..., object]:
    calls = {"n": 0}

    def wrapper(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == fail_on:
            raise exc
        return real(*args, **kwargs)

    return wrapper


STEPS = [
    ("fchmod", 1),  # after the write, before the flush to disk
    ("fsync", 1),  # flushing the temp file
    ("replace", 1),  # the rename itself
]
EXCEPTIONS = [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]


@pytest.mark.parametrize(("name", "fail_on"), STEPS)
@pytest.mark.parametrize("exc", EXCEPTIONS, ids=["oserror", "interrupt"])
def test_write_atomic_interrupted_keeps_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fail_on: int, exc: BaseException
) -> None:
    target = tmp_path / "zoo.cfg"
    target.write_text(OLD)
    before = target.read_bytes()
    monkeypatch.setattr(os, name, failing(getattr(os, name), fail_on, exc))
    with pytest.raises(type(exc)):
        files.write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.cfg"]


def test_write_atomic_write_fails_midway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills up half way through the temp file: original intact, temp removed."""
    target = tmp_path / "zoo.cfg"
    target.write_text(OLD)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle: object) -> None:
            self.handle = handle

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()  # type: ignore[attr-defined]

        def write(self, text: str) -> int:
            self.handle.write(text[: len(text) // 2])  # type: ignore[attr-defined]
            self.handle.flush()  # type: ignore[attr-defined]
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, attr: str) -> object:
            return getattr(self.handle, attr)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="No space"):
        files.write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_text() == OLD
    assert temp_files(tmp_path) == []


def test_write_atomic_dir_fsync_fails_after_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename already happened: the file is the whole new text, and no temp file is left."""
    target = tmp_path / "zoo.cfg"
    target.write_text(OLD)
    monkeypatch.setattr(os, "fsync", failing(os.fsync, 2, OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        files.write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_text() == NEW
    assert temp_files(tmp_path) == []


def test_write_atomic_cannot_create_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "zoo.cfg"
    target.write_text(OLD)
    monkeypatch.setattr(os, "open", failing(os.open, 1, OSError(errno.EACCES, "Permission denied")))
    with pytest.raises(OSError):
        files.write_atomic(target, NEW)
    monkeypatch.undo()
    assert target.read_text() == OLD
    assert temp_files(tmp_path) == []


def test_write_atomic_replaces_whole_with_mode(tmp_path: Path) -> None:
    target = tmp_path / "zoo.cfg"
    target.write_text(NEW)
    target.chmod(0o600)
    files.write_atomic(target, OLD)
    assert target.read_text() == OLD
    assert stat.S_IMODE(target.stat().st_mode) == files.FILE_MODE
    assert temp_files(tmp_path) == []


# --- write_atomic: SIGKILL at varied points -----------------------------------------------------

CHILD = r"""
import sys
from pathlib import Path
from zkboot.start.files import write_atomic
target = Path(sys.argv[1])
a = "A" * 1023 + "\n"
b = "B" * 1023 + "\n"
contents = (a * 2048, b * 2048)
out = sys.stdout
for i in range(100000):
    out.write(f"{i}\n")
    out.flush()
    write_atomic(target, contents[i % 2])
"""


def read_reports(proc: subprocess.Popen[bytes], count: int, deadline: float) -> int:
    """Read ``count`` lines from the child's stdout before ``deadline``; return how many arrived."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffered = b""
    while buffered.count(b"\n") < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buffered += chunk
    return buffered.count(b"\n")


def test_write_atomic_survives_sigkill(tmp_path: Path) -> None:
    target = tmp_path / "zoo.cfg"
    content_a = ("A" * 1023 + "\n") * 2048
    content_b = ("B" * 1023 + "\n") * 2048
    target.write_text(content_a)
    expected = {content_a.encode(), content_b.encode()}
    for iteration in range(25):
        # Held open, the file the child starts from keeps its inode (no reuse by a later write),
        # and its link count says whether a write replaced it.
        original = target.open("rb")
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            # 1..5 writes started: lands in varied phases of a write (and on both contents).
            wanted = 1 + iteration % 5
            got = read_reports(proc, wanted, time.monotonic() + 15)
            assert got >= wanted, f"child reported {got} of {wanted} writes in time"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
            links = os.fstat(original.fileno()).st_nlink
            original.close()
        data = target.read_bytes()
        assert data in expected, f"iteration {iteration}: partial file of {len(data)} bytes"
        # The child reports a write before starting it, so with 2+ reports its first write had
        # returned: the file must have been replaced (renamed over), not rewritten in place or
        # left alone. Leftover .zoo.cfg.*.tmp files are acceptable after SIGKILL.
        if wanted >= 2:
            assert links == 0, f"iteration {iteration}: {wanted - 1} writes returned, the file was never replaced"


# --- myid guard: the library function -----------------------------------------------------------


def test_check_myid_missing(tmp_path: Path) -> None:
    assert files.check_myid(tmp_path / "myid", 2, "zk-1") is False
    assert not (tmp_path / "myid").exists()


@pytest.mark.parametrize("text", ["2\n", "2", " 2 \n"])
def test_check_myid_matching(tmp_path: Path, text: str) -> None:
    myid = tmp_path / "myid"
    myid.write_text(text)
    assert files.check_myid(myid, 2, "zk-1") is True
    assert myid.read_text() == text


def test_check_myid_mismatch(tmp_path: Path) -> None:
    myid = tmp_path / "myid"
    myid.write_text("3\n")
    with pytest.raises(EnvironmentProblem) as info:
        files.check_myid(myid, 2, "zk-1")
    message = str(info.value)
    assert str(myid) in message
    assert "'3'" in message and "myid 2" in message and "zk-1" in message
    assert "\n" not in message
    assert info.value.exit_code == 1
    assert myid.read_text() == "3\n"


@pytest.mark.parametrize(("text", "expected"), [("1\n1\n", 1), ("2\n2\n", 2), ("1\n1\n1\n", 1), ("12\n", 1)])
def test_check_myid_refuses_appended(tmp_path: Path, text: str, expected: int) -> None:
    """The old scripts appended myid on every start: such a file is refused, never repaired."""
    myid = tmp_path / "myid"
    myid.write_text(text)
    with pytest.raises(EnvironmentProblem) as info:
        files.check_myid(myid, expected, f"zk-{expected - 1}")
    assert "\n" not in str(info.value)
    assert myid.read_text() == text


def test_check_myid_empty_refused(tmp_path: Path) -> None:
    """An empty myid (an old script died mid-echo) is not this pod's id: refused, not rewritten."""
    myid = tmp_path / "myid"
    myid.write_bytes(b"")
    with pytest.raises(EnvironmentProblem, match="''"):
        files.check_myid(myid, 1, "zk-0")
    assert myid.read_bytes() == b""


def test_check_myid_not_text(tmp_path: Path) -> None:
    """A myid holding bytes that are not text is refused with the usual one-line error."""
    myid = tmp_path / "myid"
    myid.write_bytes(b"\xff\xfe\n")
    with pytest.raises(EnvironmentProblem) as info:
        files.check_myid(myid, 1, "zk-0")
    assert str(myid) in str(info.value)
    assert "\n" not in str(info.value)
    assert myid.read_bytes() == b"\xff\xfe\n"


def test_check_myid_a_directory_is_refused(tmp_path: Path) -> None:
    myid = tmp_path / "myid"
    myid.mkdir()
    with pytest.raises(EnvironmentProblem, match="myid: a directory where myid must go; expected a file or nothing"):
        files.check_myid(myid, 1, "zk-0")


# --- myid guard: through the console scripts ----------------------------------------------------


@pytest.fixture(params=["zkGenConfig.sh", "start-zookeeper"])
def command(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.CompletedProcess[str]]]:
    """Run one of the old commands for pod ``hostname`` of a 3-server ensemble under tmp_path."""
    marker = tmp_path / "exec-marker"
    # A fake upstream ZooKeeper whose zkServer.sh only records that it ran.
    home = stub_home(tmp_path / "fakezk", f'echo "$$ $*" > {marker}\nexit 0\n')

    def invoke(hostname: str) -> subprocess.CompletedProcess[str]:
        if request.param == "zkGenConfig.sh":
            env = clean_env(tmp_path, ZK_REPLICAS="3", ZK_HOSTNAME=hostname, ZK_DOMAIN=DOMAIN)
            return run([ZK_GEN_CONFIG], env)
        env = clean_env(tmp_path)
        argv = [
            START_ZOOKEEPER,
            "--servers=3",
            f"--hostname={hostname}",
            f"--domain={DOMAIN}",
            f"--zookeeper-home={home}",
        ]
        return run(argv, env)

    invoke.marker = marker  # type: ignore[attr-defined]
    invoke.started = request.param == "start-zookeeper"  # type: ignore[attr-defined]
    yield invoke


def test_cli_missing_myid_written(tmp_path: Path, command: Callable[[str], subprocess.CompletedProcess[str]]) -> None:
    result = command("zk-1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "myid").read_bytes() == b"2\n"
    assert (tmp_path / "conf" / "zoo.cfg").is_file()
    assert command.marker.exists() == command.started  # type: ignore[attr-defined]


def test_cli_matching_myid_untouched(
    tmp_path: Path, command: Callable[[str], subprocess.CompletedProcess[str]]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    myid = data / "myid"
    myid.write_bytes(b"2\n")
    os.utime(myid, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = myid.stat()
    result = command("zk-1")
    assert result.returncode == 0, result.stderr
    after = myid.stat()
    assert myid.read_bytes() == b"2\n"
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_ino == before.st_ino
    assert "kept" in result.stderr


@pytest.mark.parametrize(
    ("hostname", "stored"), [("zk-1", b"3\n"), ("zk-0", b"1\n1\n"), ("zk-1", b"2\n2\n"), ("zk-0", b"")]
)
def test_cli_bad_myid_refused(
    tmp_path: Path, command: Callable[[str], subprocess.CompletedProcess[str]], hostname: str, stored: bytes
) -> None:
    data = tmp_path / "data"
    (data / "version-2").mkdir(parents=True)
    (data / "version-2" / "snapshot.0").write_bytes(b"\x00snapshot bytes\xff" * 64)
    (data / "myid").write_bytes(stored)
    before = snapshot(data, mtimes=True)
    result = command(hostname)
    assert result.returncode == 1, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    expected_id = int(hostname.rsplit("-", 1)[1]) + 1
    seen_id = stored.decode().strip()
    assert str(data / "myid") in errors[0]
    assert repr(seen_id) in errors[0]
    assert f"myid {expected_id}" in errors[0]
    assert snapshot(data, mtimes=True) == before
    # Every check happens before the first write: nothing else was created either.
    assert not (tmp_path / "conf").exists()
    assert not (tmp_path / "datalog").exists()
    assert not command.marker.exists()  # type: ignore[attr-defined]


def test_cli_myid_not_text_refused(tmp_path: Path) -> None:
    """Same guard for a myid that is not UTF-8: exit 1 with one error line, no traceback."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "myid").write_bytes(b"\xff\xfe\n")
    env = clean_env(tmp_path, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0")
    result = run([ZK_GEN_CONFIG], env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and str(data / "myid") in errors[0], result.stderr
    assert (data / "myid").read_bytes() == b"\xff\xfe\n"
    assert not (tmp_path / "conf").exists()


# --- rewriting: nothing from a previous run survives ---------------------------------------------


def test_zkgenconfig_rewrites_whole(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    first = clean_env(tmp_path, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0", ZK_CLIENT_PORT="2999", ZK_HEAP_SIZE="768M")
    result = run([ZK_GEN_CONFIG], first)
    assert result.returncode == 0, result.stderr
    assert "clientPort=2999" in (conf / "zoo.cfg").read_text()
    assert "-Xmx768M" in (conf / "java.env").read_text()
    with (conf / "zoo.cfg").open("a") as handle:
        handle.write("hand.added=yes\n")
    with (conf / "java.env").open("a") as handle:
        handle.write("HAND_ADDED=yes\n")

    second = clean_env(tmp_path, ZK_REPLICAS="3", ZK_HOSTNAME="zk-0")
    argv = [ZK_GEN_CONFIG, f"--domain={DOMAIN}"]
    result = run(argv, second)
    assert result.returncode == 0, result.stderr
    zoo_cfg = (conf / "zoo.cfg").read_text()
    java_env = (conf / "java.env").read_text()
    assert "hand.added" not in zoo_cfg
    assert "HAND_ADDED" not in java_env
    assert "2999" not in zoo_cfg
    assert "768M" not in java_env
    assert "clientPort=2181\n" in zoo_cfg
    assert f"server.3=zk-2.{DOMAIN}:2888:3888\n" in zoo_cfg
    assert java_env.count("-Xmx") == 1

    # The same settings from scratch give the very same files.
    (conf / "zoo.cfg").unlink()
    (conf / "java.env").unlink()
    result = run(argv, second)
    assert result.returncode == 0, result.stderr
    assert (conf / "zoo.cfg").read_text() == zoo_cfg
    assert (conf / "java.env").read_text() == java_env
    assert temp_files(conf) == []


# --- non-root ------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path, unprivileged: Unprivileged) -> Path:
    """A directory owned by the user the command runs as (see ``unprivileged``)."""
    base = tmp_path / "tree"
    base.mkdir()
    return unprivileged.own(base)


def test_nonroot_writable_tree(tree: Path, unprivileged: Unprivileged) -> None:
    env = clean_env(tree, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0", HOME=str(tree))
    result = run([ZK_GEN_CONFIG], env, unprivileged.become)
    assert result.returncode == 0, result.stderr
    for path in (tree / "conf" / "zoo.cfg", tree / "conf" / "java.env", tree / "data" / "myid"):
        assert path.stat().st_uid == unprivileged.uid, path
    assert (tree / "data" / "myid").read_text() == "1\n"


def test_nonroot_unwritable_conf_dir(tree: Path, unprivileged: Unprivileged) -> None:
    conf = tree / "conf"
    conf.mkdir()
    if unprivileged.become is not None:
        os.chown(conf, 0, 0)
        conf.chmod(0o755)
    else:
        conf.chmod(0o555)
    try:
        env = clean_env(tree, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0", HOME=str(tree))
        result = run([ZK_GEN_CONFIG], env, unprivileged.become)
    finally:
        conf.chmod(0o755)
    assert result.returncode == 1, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert str(conf) in errors[0]
    assert f"uid {unprivileged.uid}" in errors[0]
    assert list(conf.iterdir()) == []
    assert not (tree / "data").exists()


def test_setpriv_as_nobody(tree: Path, unprivileged: Unprivileged) -> None:
    """The same through setpriv, as a container runtime would start it."""
    if unprivileged.become is None:
        pytest.skip("not root: setpriv cannot change user")
    setpriv = unprivileged.setpriv()
    if not setpriv:
        pytest.skip("no setpriv")
    env = clean_env(tree, ZK_REPLICAS="1", ZK_HOSTNAME="zk-0", HOME=str(tree))
    result = run([*setpriv, ZK_GEN_CONFIG], env)
    assert result.returncode == 0, result.stderr
    assert (tree / "conf" / "zoo.cfg").stat().st_uid == NOBODY
