"""podsim's podman store (podsim/podman.py): what a killed owner left is removed by the next start.

A child process makes a store, imports a tiny image (this machine's ``sleep`` and the libraries it
links), starts a container from it and SIGKILLs itself: its store directory, the overlay mounts
under it and the container's process outlive it.  The next ``Store.create()`` must remove all three
and leave a store whose owner is alive alone.  Marker ``image`` (root, podman).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from podsim.podman import Store, mounts_under
from podsim.runs import Record
from tests.helpers import wait_until

pytestmark = pytest.mark.image
ROOT = Path(__file__).resolve().parent.parent


def tiny_rootfs(dest: Path) -> Path:
    """A root filesystem tarball holding /usr/bin/sleep and the shared libraries it links."""
    sleep = Path("/usr/bin/sleep")
    linked = subprocess.run(["ldd", str(sleep)], capture_output=True, text=True, timeout=10, check=True).stdout
    libraries = [part for line in linked.splitlines() for part in line.split() if part.startswith("/")]
    path = dest / "tiny.tar"
    with tarfile.open(path, "w") as archive:
        for file in [sleep, *map(Path, libraries)]:
            archive.add(file.resolve(), arcname=str(file).lstrip("/"))
    return path


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from podsim.podman import Store, mounts_under
    store = Store.create()
    store.run("import", sys.argv[2], "localhost/tiny:1")
    store.run("run", "--detach", "--network=none", "--name=left-behind", "localhost/tiny:1", "/usr/bin/sleep", "600")
    pid = store.run("inspect", "--format={{.State.Pid}}", "left-behind").stdout.strip()
    print(store.home, pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_owners_store_is_removed_with_its_containers_and_mounts(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.skip("needs root and podman (./dev setup installs it)")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), str(tiny_rootfs(tmp_path))],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    home_text, pid_text = child.stdout.split()
    home, container = Path(home_text), Record.of(int(pid_text))
    assert container is not None and container.alive(), "the container did not outlive its owner"
    assert home.is_dir() and mounts_under(home), "the killed owner left no store behind to remove"

    store = Store.create()  # removes what the dead owner left
    try:
        assert not home.exists(), f"{home} is still there"
        assert mounts_under(home) == []
        wait_until(lambda: not container.alive(), 10, what="the left-behind container's process to end")
        again = Store.create()
        try:
            assert store.home.is_dir() and again.home != store.home, "a store whose owner is alive was touched"
        finally:
            again.destroy()
    finally:
        store.destroy()
    assert not store.home.exists() and not again.home.exists()
