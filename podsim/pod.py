"""One pod: its container process in the pod's namespaces, and a kubelet thread probing it.

The container runs as ``ip netns exec <ns> unshare --uts -- sh -c SETUP ... -- <command>``:
- network namespace: the pod's (ip netns exec also binds /etc/netns/<ns>/hosts on /etc/hosts and
  mounts a sysfs of its own, in a mount namespace of its own);
- UTS namespace: the hostname ``<sts>-<ordinal>``;
- mounts: each volumeMount's path is bound to the pod's directory for that volume (the PVC
  directory, which outlives the pod, or an emptyDir directory, which lives as long as the pod).
  A mount path whose parent is missing on this machine gets a tmpfs over its nearest existing
  ancestor (never ``/``) so that nothing is created outside the run directory;
- the container's writable layer: a fresh directory for each path of CONTAINER_LAYER that no
  volume covers (a manifest with only a PVC still writes its conf dir somewhere of its own);
- memory limit: a tmpfs on /sys/fs/cgroup holding ``memory.max``, so that what the pod reads as
  its cgroup limit is the container's ``resources.limits.memory`` (visible, not enforced).
The process leads a session of its own, so killing its process group kills the whole pod; its PID
and start time are recorded in the run directory as it starts (podsim/runs.py), so that a later
run can kill it should this one die without its cleanup.
A pod is made from one revision of the StatefulSet's template (``sts`` is that revision, ``revision``
its number) and keeps it for its whole life: a new template reaches an ordinal only through a new pod.
A container without a readiness (liveness) probe is Ready (live) once started, as the kubelet has it.
In host mode pods run as root: securityContext is not simulated.

In image mode (``image``, podsim/podman.py) the container is ``podman run`` of that image instead,
in the pod's network namespace with the pod's hostname and /etc/hosts, its volumes bound (secrets
read-only), its memory limit enforced, and its securityContext honoured: user and group, fsGroup
(the volumes group-owned and group-writable first, as the kubelet does, and the group added),
a read-only root filesystem, capabilities, no privilege escalation, and runAsNonRoot (a container
that would run as root is not started).  Signals and probes go through ``podman kill`` and
``podman exec``; each container (one per start) is removed once it has exited.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from podsim.manifest import Probe, StatefulSet
from podsim.podman import ImageMode, own_for_fs_group
from podsim.runs import Record

SETUP = r"""
set -e
hostname "$1"; shift
limit="$1"; shift
while [ "$1" != "--" ]; do
  src="$1"; dst="$2"; shift 2
  if [ ! -d "$dst" ]; then
    parent=$(dirname "$dst")
    while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
    [ "$parent" != "/" ] || { echo "podsim: refusing a tmpfs over / for $dst" >&2; exit 1; }
    mount -t tmpfs -o mode=0755 podsim "$parent"
    mkdir -p "$dst"
  fi
  mount --bind "$src" "$dst"
done
shift
if [ "$limit" != none ]; then
  mount -t tmpfs -o size=64k podsim /sys/fs/cgroup
  echo "$limit" > /sys/fs/cgroup/memory.max
fi
exec "$@"
"""

# Paths of the "image" a container writes to: zkboot's default conf dir and ZooKeeper's log dir,
# and /tmp.  A container gets its own fresh copy of each (its writable layer) unless a volume
# covers it; without this, pods of a manifest that mounts no volume there would share the host's.
CONTAINER_LAYER = ("/opt/zookeeper", "/var/log/zookeeper", "/tmp")

BACKOFF_START = 1.0  # seconds; kubelet starts at 10 s, shortened so tests stay quick
BACKOFF_MAX = 8.0


def covers(outer: str, path: str) -> bool:
    """``path`` is ``outer`` or lies under it."""
    return path == outer or path.startswith(outer.rstrip("/") + "/")


def layer_paths(mounts: dict[str, str]) -> list[str]:
    """The CONTAINER_LAYER paths that no volume mount covers: each gets a fresh directory."""
    return [path for path in CONTAINER_LAYER if not any(covers(mount, path) for mount in mounts)]


def fresh_paths(sts: StatefulSet) -> dict[str, str]:
    """Every path under which a pod of ``sts`` sees none of this machine's files -> why.

    Each volume mount and container-layer path; and for one that is missing here and lies under
    no other (SETUP makes the others' mount points in their parent's source), the nearest existing
    ancestor, on which SETUP puts a tmpfs (never ``/``: SETUP refuses that).
    """
    paths = [*sts.mounts, *layer_paths(sts.mounts)]
    fresh: dict[str, str] = {}
    for path in paths:
        fresh[path] = "a volume mount" if path in sts.mounts else "the container's writable layer"
        if not Path(path).is_dir() and not any(covers(other, path) for other in paths if other != path):
            parent = Path(path).parent
            while not parent.is_dir():  # ends at / at the latest
                parent = parent.parent
            if parent != Path("/"):
                fresh.setdefault(str(parent), f"a tmpfs, {path} being missing on this machine")
    return fresh


@dataclass
class ProbeState:
    probe: Probe
    failures: int = 0
    successes: int = 0
    passed: bool = False
    next_run: float = 0.0


class Pod:
    def __init__(
        self,
        sts: StatefulSet,
        ordinal: int,
        namespace: str,
        pvc_dirs: dict[str, Path],
        empty_root: Path,
        env: dict[str, str],
        run_dir: Path,
        revision: int,
        on_change: Callable[[], None],
        record: Callable[[str], None],
        image: ImageMode | None = None,
    ) -> None:
        self.sts = sts
        self.image = image
        self.run_name = run_dir.name
        self.revision = revision
        self.hostname = f"{sts.name}-{ordinal}"
        self.netns = namespace
        self.pvc_dirs = pvc_dirs
        self.empty_root = empty_root
        self.env = env
        self.log_path = run_dir / "logs" / f"{self.hostname}.log"
        self.record_path = run_dir / "procs" / self.hostname
        self.on_change = on_change  # the controller looks again
        self.record = record  # the simulation's history: "ready", "unready", "terminating"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.held = False  # killed and kept down until restart()
        self.deleted = False
        self.started_at = 0.0
        self.backoff = BACKOFF_START
        self.restart_at: float | None = None
        self.lock = threading.RLock()
        self.ready = False
        self.live = False
        self.started = False  # the startup probe has passed (or there is none)
        self.probes: dict[str, ProbeState] = {}
        self.events: list[str] = []
        self.thread = threading.Thread(target=self._kubelet, name=f"kubelet-{self.hostname}", daemon=True)

    # -- the container -------------------------------------------------------------------------

    def volume_dirs(self) -> dict[str, Path]:
        """Mount path -> directory: the volumes, and a fresh writable layer for each image path
        that no volume covers (so that what a pod writes there stays its own)."""
        dirs = {}
        for path, volume in self.sts.mounts.items():
            if volume in self.pvc_dirs:
                dirs[path] = self.pvc_dirs[volume]
            else:
                dirs[path] = self.empty_root / volume
        if self.image is not None:
            return dirs  # the image has a writable layer of its own
        layer = self.empty_root / f"layer-{self.restarts}"
        for path in layer_paths(self.sts.mounts):
            dirs[path] = layer / path.strip("/").replace("/", "_")
        return dirs

    def argv(self, command: tuple[str, ...]) -> list[str]:
        limit = str(self.sts.memory_limit) if self.sts.memory_limit else "none"
        mounts: list[str] = []
        # A mount on an ancestor of the sources would hide the sources of later mounts: last.
        order = sorted(self.volume_dirs().items(), key=lambda item: (item[1].is_relative_to(item[0]), item[0]))
        hiding = [path for path, source in order if source.is_relative_to(path)]
        if len(hiding) > 1:
            raise ValueError(f"mount paths {hiding} would hide the volumes' directories; use another run root")
        for index, (path, source) in enumerate(order):
            source.mkdir(parents=True, exist_ok=True)
            # Mount points for the mounts that go on top of this one, made in its source.
            for inner, _ in order[index + 1 :]:
                if inner.startswith(path.rstrip("/") + "/"):
                    (source / inner[len(path.rstrip("/")) + 1 :]).mkdir(parents=True, exist_ok=True)
            mounts += [str(source), path]
        return [
            "ip", "netns", "exec", self.netns, "unshare", "--uts", "--",
            "sh", "-c", SETUP, "podsim-setup", self.hostname, limit, *mounts, "--", *command,
        ]  # fmt: skip

    @property
    def container(self) -> str:
        """The image-mode container of this start (one per start, as the kubelet makes them)."""
        return f"{self.run_name}-{self.hostname}-{self.restarts}"

    def image_argv(self, image: ImageMode) -> list[str]:
        # Read-only, as the kubelet mounts them, and never chowned for fsGroup here.
        secret_volumes = {volume for volume, _, _, _ in self.sts.secrets}
        secret_volumes |= {volume for volume, _, _ in self.sts.config_maps}
        volumes = []
        for path, source in sorted(self.volume_dirs().items()):
            source.mkdir(parents=True, exist_ok=True)
            secret = self.sts.mounts[path] in secret_volumes
            fs_group = self.sts.security.fs_group
            if fs_group is not None and not secret and source.stat().st_gid != fs_group:
                own_for_fs_group(source, fs_group)  # fsGroupChangePolicy OnRootMismatch
            volumes.append((source, path, secret))
        return image.run_argv(
            self.container, self.hostname, self.netns, volumes, self.sts.env, self.sts.security,
            self.sts.memory_limit, self.sts.command,
        )  # fmt: skip

    def run_container(self) -> None:
        with self.lock:
            security = self.sts.security
            if self.image is not None and security.run_as_non_root and self.image.runs_as_root(security):
                self.event("CreateContainerConfigError: runAsNonRoot and the image runs as root")
                self.held = True
                return
            argv = self.argv(self.sts.command) if self.image is None else self.image_argv(self.image)
            with self.log_path.open("ab") as log:
                log.write(f"--- podsim: starting {self.hostname} (restart {self.restarts}) ---\n".encode())
                log.flush()
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                )
            # Recorded before it counts as running, so that a running pod is always on record.
            record = Record.of(process.pid)
            if record is not None:
                record.write(self.record_path)
            self.process = process
            self.started_at = time.monotonic()
            self.started = self.sts.startup is None
            self._set_health()
            now = time.monotonic()
            self.probes = {
                kind: ProbeState(probe, next_run=now + probe.initial_delay)
                for kind, probe in (
                    ("startup", self.sts.startup),
                    ("liveness", self.sts.liveness),
                    ("readiness", self.sts.readiness),
                )
                if probe is not None
            }
            self.event(f"started pid {self.process.pid}")

    def main_pid(self) -> int | None:
        """The host PID of the container's first process (in image mode not podman's client)."""
        if self.process is None or not self.running():
            return None
        return self.process.pid if self.image is None else self.image.pid(self.container)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def serving(self) -> bool:
        """Running and Ready: what the StatefulSet controller waits for."""
        return self.running() and self.ready

    def _set_health(self, ready: bool | None = None, live: bool | None = None) -> None:
        """Readiness and liveness; a container without the probe has it once started. Records
        the readiness transitions in the simulation's history."""
        if ready is None:
            ready = self.started and self.sts.readiness is None and self.running()
        if live is None:
            live = self.started and self.sts.liveness is None and self.running()
        self.live = live
        if ready != self.ready:
            # Recorded before the controller can see it: the history never shows a step the
            # controller took on a readiness that is not in it yet.
            self.record("ready" if ready else "unready")
            self.ready = ready

    def kill(self, hold: bool = False) -> None:
        """SIGKILL the pod's process group (a crash); with ``hold``, keep it down until restart()."""
        with self.lock:
            self.held = self.held or hold
            self._signal_group(signal.SIGKILL)
            self._set_health(False, False)
            self.event("killed" + (" (held down)" if hold else ""))
        self.on_change()

    def restart(self) -> None:
        """Bring a held pod back (same PVC, same namespace)."""
        with self.lock:
            self.held = False
            self.backoff = BACKOFF_START
            self.restart_at = None
            if not self.running():
                self.restarts += 1  # a new container in the same pod, as after a crash
                self.run_container()
        self.on_change()

    def delete(self) -> None:
        """Stop the pod for good: SIGTERM, then SIGKILL after the grace period."""
        with self.lock:
            self.deleted = True
            self.record("terminating")
            self.event(f"deleting: SIGTERM, SIGKILL after {self.sts.grace_period:g}s")
            self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.sts.grace_period
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            if self.running():
                self.event("grace period over: SIGKILL")
            self._signal_group(signal.SIGKILL)
            self._set_health(False, False)
        self.thread.join(timeout=5)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        if self.image is not None:
            # The podman client is not the container: signal the container, then the client.
            if self.process.poll() is None:
                self.image.signal(self.container, sig.name)
            if sig != signal.SIGKILL:
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.image is not None:
                self.image.remove(self.container)

    def start(self) -> None:
        self.run_container()
        self.thread.start()

    def event(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {self.hostname}: {text}")

    # -- the kubelet -----------------------------------------------------------------------------

    def _kubelet(self) -> None:
        while not self.deleted:
            time.sleep(0.05)
            with self.lock:
                if self.deleted:
                    return
                if not self.running():
                    self._handle_exit()
                    continue
                now = time.monotonic()
                due = [(kind, state) for kind, state in self.probes.items() if now >= state.next_run]
            for kind, state in due:
                if (kind == "startup") == self.started:
                    continue  # startup runs until it passes; the others only after
                self._probe(kind, state)

    def _handle_exit(self) -> None:
        """restartPolicy Always: restart after a back-off that doubles, reset after 10 s of running."""
        if self.restart_at is None:
            if self.ready or self.live:
                self._set_health(False, False)
                self.on_change()
            if self.held or self.process is None:
                return
            if time.monotonic() - self.started_at > 10:
                self.backoff = BACKOFF_START
            self.restart_at = time.monotonic() + self.backoff
            self.event(f"exited with {self.process.returncode}; restarting in {self.backoff:g}s")
            if self.image is not None:
                self.image.remove(self.container)
            self.backoff = min(BACKOFF_MAX, self.backoff * 2)
        elif not self.held and time.monotonic() >= self.restart_at:
            self.restart_at = None
            self.restarts += 1
            self.run_container()

    def _probe(self, kind: str, state: ProbeState) -> None:
        probe = state.probe
        state.next_run = time.monotonic() + probe.period
        ok, output = self.exec_probe(probe)
        changed = False
        with self.lock:
            if not self.running():
                return
            if ok:
                state.successes, state.failures = state.successes + 1, 0
            else:
                state.successes, state.failures = 0, state.failures + 1
            failed = state.failures >= probe.failure_threshold
            if ok and state.successes >= probe.success_threshold:
                state.passed = True
            elif failed:
                state.passed = False
            if kind == "startup" and state.passed:
                self.started = changed = True
                self._set_health(self.ready if self.sts.readiness else None, self.live if self.sts.liveness else None)
            elif kind == "liveness":
                self.live = ok
            elif kind == "readiness" and self.ready != state.passed:
                self._set_health(state.passed, self.live)
                changed = True
                self.event("ready" if self.ready else f"not ready: {output.strip()}")
            if failed and kind in ("startup", "liveness"):
                self.event(f"{kind} probe failed {state.failures} times: {output.strip()}; restarting")
                self._signal_group(signal.SIGKILL)
        if changed:
            self.on_change()

    def exec_argv(self, command: Sequence[str]) -> list[str]:
        """``command`` as ``kubectl exec`` and exec probes run it: in the container, so with its
        volumes, network and hostname.  Host mode: in the container process's mount, network and
        UTS namespaces (run with ``self.env``); image mode: ``podman exec``."""
        if self.image is not None:
            return self.image.exec_argv(self.container, command)
        pid = self.process.pid if self.process is not None else 0
        return ["nsenter", "-t", str(pid), "-m", "-n", "-u", "--", *command]

    def exec_probe(self, probe: Probe) -> tuple[bool, str]:
        """Run an exec probe in the pod (exec_argv), killed at its timeout."""
        command = self.exec_argv(probe.command)
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, env=self.env, timeout=probe.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return False, f"probe timed out after {probe.timeout:g}s (kubelet)"
        return result.returncode == 0, (result.stderr or result.stdout)[-300:]
