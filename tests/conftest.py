"""The fixtures shared by every test module: a real ZooKeeper launcher, an unprivileged user, the
built image; and the rule that a skip fails a run with CI set.  Plain helpers are in tests/helpers.py.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import zkboot
from tests.helpers import (
    BIN,
    DEBIAN,
    NOBODY,
    BuiltImage,
    Started,
    Unprivileged,
    ZkPaths,
    ZooKeeper,
    become_nobody,
    clean_env,
    stop,
)

E2E = Path(__file__).resolve().parent / "e2e"
UNPRIVILEGED_LOCK = Path("/tmp/zkboot-tests-unprivileged.lock")  # one per machine: the workers share it


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI set, a skipped test is a failure: a skip there hides a missing install step."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped with CI set: {report.longrepr}"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (./dev test), the end-to-end tests and every test that runs containers
    run on one worker, in order: they share the built image and the machine's network namespaces,
    and the pod simulator's timing is generous for one such run at a time, not for two."""
    for item in items:
        if E2E in item.path.parents or item.get_closest_marker("e2e") or item.get_closest_marker("image"):
            item.add_marker(pytest.mark.xdist_group("pods"))


@pytest.fixture
def zookeeper() -> ZooKeeper:
    """The installation a test's servers run: Debian's, unless the test is parametrized over
    INSTALLATIONS (tests.helpers.on_each_installation)."""
    return DEBIAN


@pytest.fixture
def zk_launcher(tmp_path: Path, zookeeper: ZooKeeper) -> Iterator[object]:
    """Start ``start-zookeeper`` (or any command) with a private tree, on ``zookeeper`` (ZK_HOME,
    unless the test sets its own); stops all it started."""
    why = zookeeper.missing()
    if why:
        pytest.skip(why)
    started: list[subprocess.Popen[bytes]] = []

    def launch(command: Sequence[str], paths: ZkPaths, env_extra: dict[str, str] | None = None) -> Started:
        defaults = {"ZK_HOSTNAME": "zk-0", "JMXDISABLE": "true", "ZK_HOME": str(zookeeper.home)}
        env = clean_env(**{**defaults, **(env_extra or {})})
        output = paths.root / f"output-{len(started)}.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(list(command), stdout=sink, stderr=subprocess.STDOUT, env=env)
        started.append(process)
        return Started(process, paths, output)

    yield launch
    for process in started:
        stop(process)


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[Unprivileged]:
    """Run commands as a user that is not root, able to reach tmp_path, this Python and zkboot.

    Not root: the current user, nothing changed.  As root: uid/gid 65534 (nobody), and every
    directory on the way to tmp_path, the interpreter, sys.prefix and zkboot (also through symlinks)
    made traversable (o+x) for the test: pytest's base dir is 0700, and a pyenv interpreter lives
    under /root.  Each changed directory gets its exact mode back afterwards, also when setting up
    fails half way.
    """
    if os.geteuid() != 0:
        yield Unprivileged(os.geteuid(), None)
        return
    starts = [tmp_path, BIN, Path(sys.executable).resolve().parent, Path(sys.prefix), Path(zkboot.__file__).parent]
    restore: dict[Path, int] = {}
    # The directories are shared with the other pytest-xdist workers, whose restoring a mode would
    # take the way away from this test's user: one such test at a time on the machine.
    lock = UNPRIVILEGED_LOCK.open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        for start in starts:
            for directory in (start, *start.parents, start.resolve(), *start.resolve().parents):
                real = directory.resolve()
                mode = stat.S_IMODE(real.stat().st_mode)
                if real not in restore and not mode & stat.S_IXOTH:
                    restore[real] = mode
                    real.chmod(mode | stat.S_IXOTH)
        yield Unprivileged(NOBODY, become_nobody)
    finally:
        for directory, mode in reversed(restore.items()):
            directory.chmod(mode)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


@pytest.fixture(scope="session")
def built_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    """docker/Dockerfile built from local stand-ins (tests/standins.py) in a podman store of the
    session's own, which is destroyed afterwards: containers, images, layers and mounts."""
    from podsim.podman import Store
    from tests import standins

    if os.geteuid() != 0:
        pytest.skip("the image tests need root (podman's storage and runc)")
    why = standins.missing()
    if why:
        pytest.skip(why)
    store = Store.create()
    try:
        work = tmp_path_factory.mktemp("image-build")
        yield BuiltImage(store, standins.build(store, Path(__file__).resolve().parent.parent, work))
    finally:
        store.destroy()
