"""podman with a store of its own: images, containers and their mounts under one directory.

A ``Store`` is ``/var/tmp/podsim-podman-<pid>-<start time>-<random>``, named for the process that
owns it (``<start time>`` is field 22 of /proc/<pid>/stat, so a reused PID never passes for the
owner; a process may own several).
Every podman call goes through ``Store.argv``: its own ``--root`` and ``--runroot``, the ``runc``
runtime (crun cannot run on a host whose cgroups are in hybrid mode), the ``cgroupfs`` manager and
a file events log (no systemd here), and a ``containers.conf`` lowering the default rlimits, which
root cannot raise to podman's defaults on these machines.  Containers get no network of podman's
making: ``--network=none``, ``host`` or a namespace that exists.

``Store.create()`` first destroys the stores whose owner is gone, killing their containers, so a
test run or simulation killed before its cleanup leaves nothing behind past the next start.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from podsim.manifest import Security
from podsim.runs import RUNS, Record

STORE_DIR = re.compile(r"podsim-podman-(\d+)-(\d+)-[0-9a-f]+")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
CALL_TIMEOUT = 120.0  # seconds for one podman call that is not a build


class PodmanError(Exception):
    """A podman call failed: one line naming the call and podman's last words."""


class Store:
    def __init__(self, home: Path) -> None:
        self.home = home

    @classmethod
    def create(cls) -> Store:
        sweep()
        owner = Record.of(os.getpid())
        if owner is None:
            raise PodmanError("podman store: no /proc/self/stat to name the store's owner by")
        store = cls(RUNS / f"podsim-podman-{owner.pid}-{owner.start}-{secrets.token_hex(3)}")
        store.home.mkdir(mode=0o700)
        (store.home / "containers.conf").write_text(CONTAINERS_CONF)
        return store

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.home / "containers.conf")}

    def argv(self, *args: str) -> list[str]:
        return [
            "podman", "--root", str(self.home / "storage"), "--runroot", str(self.home / "run"),
            "--storage-driver", "overlay", "--tmpdir", str(self.home / "tmp"), *args,
        ]  # fmt: skip

    def run(self, *args: str, timeout: float = CALL_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
        (self.home / "tmp").mkdir(exist_ok=True)
        try:
            result = subprocess.run(
                self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise PodmanError(f"podman {' '.join(args[:2])}: no answer within {timeout:g}s") from None
        if check and result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise PodmanError(f"podman {' '.join(args[:2])}: exit {result.returncode}: {last}")
        return result

    def destroy(self) -> None:
        """Kill and remove every container, remove every image, unmount what is left, delete."""
        if self.home.is_dir():
            with contextlib.suppress(PodmanError):
                self.run("rm", "--all", "--force", "--time", "0", check=False)
                self.run("system", "reset", "--force", check=False)
            unmount_under(self.home)
        shutil.rmtree(self.home, ignore_errors=True)


def mounts_under(path: Path) -> list[str]:
    """The mount points at or below ``path`` (this process's mount namespace)."""
    target = os.path.realpath(path)
    mounts = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == target or point.startswith(target + "/"):
                mounts.append(point)
    return mounts


def unmount_under(path: Path) -> None:
    """Detach every mount at or below ``path``, deepest first."""
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def sweep() -> list[Path]:
    """Destroy the stores whose owner is gone; the stores destroyed."""
    removed = []
    for path in sorted(RUNS.iterdir()):
        match = STORE_DIR.fullmatch(path.name)
        if match is None or not path.is_dir() or path.is_symlink():
            continue
        if Record(int(match.group(1)), int(match.group(2))).alive():
            continue
        Store(path).destroy()
        removed.append(path)
    return removed


def own_for_fs_group(root: Path, gid: int) -> None:
    """What the kubelet does to a volume for a pod's ``fsGroup``: every file and dir gets group
    ``gid`` and group read/write (dirs also search and setgid, so new files inherit the group)."""
    paths = [root, *root.rglob("*")]
    for path in paths:
        if path.is_symlink():
            continue
        info = path.stat()
        os.chown(path, -1, gid)
        extra = 0o2070 if path.is_dir() else 0o060
        os.chmod(path, (info.st_mode & 0o7777) | extra)


class ImageMode:
    """Pods run from ``image`` in ``store``: how a pod's container is run, signalled and probed."""

    def __init__(self, store: Store, image: str) -> None:
        self.store = store
        self.image = image

    def run_argv(
        self,
        name: str,
        hostname: str,
        netns: str,
        volumes: Sequence[tuple[Path, str, bool]],
        env: dict[str, str],
        security: Security,
        memory_limit: int | None,
        command: Sequence[str],
    ) -> list[str]:
        """``podman run`` in the foreground for one container of a pod (its output is the log)."""
        args = [
            "run", f"--name={name}", f"--hostname={hostname}", f"--network=ns:/run/netns/{netns}",
            "--health-cmd=none", "--pull=never", "--log-driver=none",
            f"--volume=/etc/netns/{netns}/hosts:/etc/hosts:ro",
            f"--volume=/etc/netns/{netns}/resolv.conf:/etc/resolv.conf:ro",
        ]  # fmt: skip
        args += security_flags(security)
        if memory_limit:
            args.append(f"--memory={memory_limit}")
        for source, target, read_only in volumes:
            args.append(f"--volume={source}:{target}" + (":ro" if read_only else ""))
        args += [f"--env={key}={value}" for key, value in env.items()]
        # A manifest's command replaces the image's ENTRYPOINT and CMD (args alone are not simulated).
        args += [f"--entrypoint={command[0]}", self.image, *command[1:]]
        return self.store.argv(*args)

    def exec_argv(self, name: str, command: Sequence[str]) -> list[str]:
        return self.store.argv("exec", name, *command)

    def pid(self, name: str) -> int | None:
        """The host PID of the container's first process, None when it is not running."""
        try:
            found = self.store.run("inspect", "--format={{.State.Pid}}", name).stdout.strip()
        except PodmanError:
            return None
        return int(found) if found.isdigit() and found != "0" else None

    def signal(self, name: str, signal_name: str) -> None:
        with contextlib.suppress(PodmanError):
            self.store.run("kill", f"--signal={signal_name}", name, check=False)

    def remove(self, name: str) -> None:
        with contextlib.suppress(PodmanError):
            self.store.run("rm", "--force", "--time=0", name, check=False)

    def runs_as_root(self, security: Security) -> bool:
        """Whether the container's processes would have uid 0 (runAsNonRoot refuses that)."""
        if security.run_as_user is not None:
            return security.run_as_user == 0
        user = self.store.run("image", "inspect", "--format={{.User}}", self.image).stdout.strip()
        return user.split(":")[0] in ("", "0", "root")


def security_flags(security: Security) -> list[str]:
    """podman's flags for a securityContext (seccomp: podman's default, as RuntimeDefault)."""
    flags = []
    if security.run_as_user is not None:
        group = security.run_as_group if security.run_as_group is not None else 0
        flags.append(f"--user={security.run_as_user}:{group}")
    if security.fs_group is not None:
        flags.append(f"--group-add={security.fs_group}")
    if security.read_only_root:
        # Kubernetes adds no tmpfs of its own: /tmp is writable only if a volume is mounted there.
        flags += ["--read-only", "--read-only-tmpfs=false"]
    flags += [f"--cap-drop={cap.lower()}" for cap in security.drop]
    flags += [f"--cap-add={cap.lower()}" for cap in security.add]
    if not security.allow_privilege_escalation:
        flags.append("--security-opt=no-new-privileges")
    return flags
