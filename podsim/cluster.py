"""A StatefulSet on one machine: the controller, the headless Service's DNS, PVCs, and cleanup.

    with Simulation(sts) as sim:
        sim.start()
        sim.wait(lambda: sim.ready_count() == 3, 120, "3 pods Ready")
        print(sim.table())

- ``podManagementPolicy``: OrderedReady creates pod i once pods 0..i-1 are Running and Ready;
  Parallel creates them all at once.  Scaling down removes the highest ordinals first.
- DNS: every existing pod's ``<sts>-<i>.<service>.<namespace>.svc.cluster.local`` is in every
  pod's /etc/hosts, ready or not, as a headless Service with ``publishNotReadyAddresses`` gives.
- PVCs: one directory per pod and claim under the run directory; kept across restarts and pod
  deletions, removed at the end of the run.
- Cleanup (processes by recorded PID, namespaces, links, /etc/netns entries, the run directory)
  happens on ``close()``, which the context manager, atexit and SIGTERM/SIGINT all reach; what a
  run killed before its cleanup left behind, the next run's ``start()`` removes (podsim/runs.py).
- The image: zkboot's commands from this interpreter's bin directory (or ``image_bin``), refused
  at once when a pod would see a fresh directory there instead (podsim/pod.py, fresh_paths).
Needs root (network namespaces, mounts); says so in one line otherwise.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

from podsim import runs
from podsim.manifest import StatefulSet
from podsim.net import Network
from podsim.pod import Pod, fresh_paths
from podsim.zk import ZkError, srvr

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SimulationError(Exception):
    pass


def check_image_bin(bin_dir: Path, sts: StatefulSet) -> None:
    """SimulationError when the pods would see a fresh directory where ``bin_dir`` is: their
    container command would then fail with "zkboot: not found" and restart for ever."""
    for path, why in fresh_paths(sts).items():
        if any(seen.is_relative_to(path) for seen in (bin_dir, bin_dir.resolve())):
            raise SimulationError(
                f"the image's bin dir {bin_dir} lies under {path}, which every pod gets a fresh directory for "
                f"({why}): the pods would not find zkboot's commands there; put the venv elsewhere "
                f"(e.g. python3 -m venv /srv/zkboot-venv)"
            )


class Simulation:
    def __init__(self, sts: StatefulSet, *, image_bin: Path | None = None) -> None:
        # The "image": zkboot's commands from this interpreter's bin directory, ZooKeeper from PATH.
        bin_dir = image_bin or Path(sys.executable).parent
        check_image_bin(bin_dir, sts)
        if os.geteuid() != 0:
            raise SimulationError("podsim needs root (network namespaces, bind mounts): run it as root")
        self.sts = sts
        self.replicas = sts.replicas
        self.env = {"PATH": f"{bin_dir}:{DEFAULT_PATH}", "HOME": "/tmp", "LANG": "C.UTF-8", **sts.env}
        self.run_id, self.root = runs.create()
        try:
            self.net = Network(self.run_id)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.pods: dict[int, Pod] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.changed = threading.Condition(self.lock)
        self.controller = threading.Thread(target=self._control, name="statefulset-controller", daemon=True)
        self.closed = False
        self.overrides: dict[int, int] = {}  # ordinal -> ordinal whose PVC it gets (fault injection)
        self.terminating: set[int] = set()
        self.removed_runs: list[str] = []  # runs whose leftovers start() removed
        atexit.register(self.close)

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> Simulation:
        self._previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM,)}
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    def start(self) -> None:
        self.removed_runs = runs.sweep()
        self.net.create_bridge()
        self.controller.start()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.stopping.set()
        with self.lock:
            self.changed.notify_all()
        for pod in list(self.pods.values()):
            pod.deleted = True
            pod._signal_group(signal.SIGKILL)
        for pod in list(self.pods.values()):
            pod.thread.join(timeout=5)
        self.net.close()  # the names before the directory: see runs.sweep
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.close)

    # -- the controller ----------------------------------------------------------------------------

    def notify(self) -> None:
        with self.lock:
            self.changed.notify_all()

    def _control(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                self._reconcile()
                self.changed.wait(timeout=0.25)

    def _reconcile(self) -> None:
        for ordinal in sorted(self.pods, reverse=True):
            if ordinal >= self.replicas and ordinal not in self.terminating:
                self.terminating.add(ordinal)
                threading.Thread(target=self._terminate, args=(ordinal, None), daemon=True).start()
        for ordinal in range(self.replicas):
            if ordinal in self.pods:
                continue
            if ordinal in self.terminating:
                break
            if self.sts.policy == "OrderedReady" and not all(
                self.pods.get(i) is not None and self.pods[i].running() and self.pods[i].ready for i in range(ordinal)
            ):
                break
            self._create(ordinal)
            if self.sts.policy == "OrderedReady":
                break

    def pvc_dir(self, ordinal: int, claim: str) -> Path:
        return self.root / "pvc" / f"{claim}-{self.sts.name}-{ordinal}"

    def _create(self, ordinal: int) -> None:
        namespace = self.net.namespaces.get(ordinal) or self.net.add_pod(ordinal)
        owner = self.overrides.pop(ordinal, ordinal)
        pvcs = {claim: self.pvc_dir(owner, claim) for claim in self.sts.claims}
        empty = self.root / "emptydir" / f"{self.sts.name}-{ordinal}-{secrets.token_hex(2)}"
        pod = Pod(self.sts, ordinal, namespace, pvcs, empty, self.env, self.root, self.notify)
        self.pods[ordinal] = pod
        self._write_hosts()
        pod.start()

    def _terminate(self, ordinal: int, pvc_of: int | None) -> None:
        """Delete pod ``ordinal`` (SIGTERM, grace period, SIGKILL) outside the controller's lock."""
        pod = self.pods[ordinal]
        pod.delete()
        shutil.rmtree(pod.empty_root, ignore_errors=True)
        with self.lock:
            del self.pods[ordinal]
            if pvc_of is not None:
                self.overrides[ordinal] = pvc_of
            if ordinal >= self.replicas:
                self.net.remove_pod(ordinal)
            self._write_hosts()
            self.terminating.discard(ordinal)
            self.changed.notify_all()

    def _write_hosts(self) -> None:
        domain = self.sts.domain
        entries = {
            i: f"{self.sts.name}-{i}.{domain} {self.sts.name}-{i}" for i in self.net.namespaces if i in self.pods
        }
        self.net.write_hosts(entries)

    # -- operations ----------------------------------------------------------------------------------

    def kill(self, ordinal: int, hold: bool = False) -> None:
        """SIGKILL the pod's process group; the kubelet restarts it unless ``hold``."""
        self.pods[ordinal].kill(hold=hold)

    def restart(self, ordinal: int) -> None:
        """Start a held pod again, on the same PVC."""
        self.pods[ordinal].restart()

    def delete(self, ordinal: int, pvc_of: int | None = None) -> None:
        """Delete the pod (SIGTERM, grace period); the controller recreates it on its PVC, or
        (fault injection) on pod ``pvc_of``'s.  Returns once deleted."""
        with self.lock:
            if ordinal in self.terminating:
                raise SimulationError(f"pod {ordinal} is already being deleted")
            self.terminating.add(ordinal)
        self._terminate(ordinal, pvc_of)

    def scale(self, replicas: int) -> None:
        with self.lock:
            self.replicas = replicas
            self.changed.notify_all()

    # -- observation -----------------------------------------------------------------------------------

    def ready_count(self) -> int:
        return sum(1 for pod in self.pods.values() if pod.running() and pod.ready)

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until ``predicate()`` holds; SimulationError after ``timeout``."""
        start = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise SimulationError(f"timed out after {timeout:g}s waiting for {what}\n{self.table()}")
            time.sleep(0.1)

    def address(self, ordinal: int) -> str:
        return self.net.address(ordinal)

    def client_hosts(self) -> str:
        return ",".join(f"{self.address(i)}:2181" for i in sorted(self.pods))

    def myid(self, ordinal: int) -> str:
        for claim in self.sts.claims:
            for candidate in self.pvc_dir(ordinal, claim).rglob("myid"):
                return candidate.read_text().strip()
        return "-"

    def mode(self, ordinal: int) -> str:
        """The mode the pod's server reports to ``srvr``, or why there is none (refused, ...)."""
        try:
            return srvr(self.address(ordinal)).mode
        except ZkError as exc:
            return exc.kind

    def rows(self) -> list[dict[str, str]]:
        rows = []
        for ordinal in range(max([self.replicas, *[i + 1 for i in self.pods]])):
            pod = self.pods.get(ordinal)
            if pod is None:
                rows.append({"pod": f"{self.sts.name}-{ordinal}", "address": "-", "myid": "-", "mode": "-",
                             "live": "-", "ready": "-", "restarts": "-", "state": "Pending"})  # fmt: skip
                continue
            running = pod.running()
            rows.append(
                {
                    "pod": pod.hostname,
                    "address": self.address(ordinal),
                    "myid": self.myid(ordinal),
                    "mode": self.mode(ordinal) if running else "-",
                    "live": "yes" if running and pod.live else "no",
                    "ready": "yes" if running and pod.ready else "no",
                    "restarts": str(pod.restarts),
                    "state": "Running" if running else ("Held" if pod.held else "Waiting"),
                }
            )
        return rows

    def table(self) -> str:
        rows = self.rows()
        header = list(rows[0]) if rows else []
        cells = [header] + [[row[key] for key in header] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)
