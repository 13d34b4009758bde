"""A StatefulSet on one machine: the controller, the headless Service's DNS, PVCs, and cleanup.

    with Simulation(sts) as sim:
        sim.start()
        sim.wait_ready(3, timeout=120)
        print(sim.table())

- ``podManagementPolicy``: OrderedReady creates pod i once pods 0..i-1 are Running and Ready;
  Parallel creates them all at once.  Scaling down removes the highest ordinals first.
- DNS: every existing pod's ``<sts>-<i>.<service>.<namespace>.svc.cluster.local`` is in every
  pod's /etc/hosts, ready or not, as a headless Service with ``publishNotReadyAddresses`` gives.
- PVCs: one directory per pod and claim under the run directory; kept across restarts and pod
  deletions, removed only by ``delete(ordinal, with_pvc=True)`` or at the end of the run.
- Cleanup (processes by recorded PID, namespaces, links, /etc/netns entries, the run directory)
  happens on ``close()``, which the context manager, atexit and SIGTERM/SIGINT all reach.
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
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from podsim.manifest import StatefulSet
from podsim.net import Network
from podsim.pod import Pod

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SimulationError(Exception):
    pass


class Simulation:
    def __init__(
        self,
        sts: StatefulSet,
        *,
        root: Path | None = None,
        image_bin: Path | None = None,
        env: dict[str, str] | None = None,
        keep: bool = False,
    ) -> None:
        if os.geteuid() != 0:
            raise SimulationError("podsim needs root (network namespaces, bind mounts): run it as root")
        self.sts = sts
        self.replicas = sts.replicas
        self.run_id = secrets.token_hex(3)
        # Not under /tmp: a pod's emptyDir on /tmp would hide its other volumes' sources.
        self.root = root or Path("/var/tmp") / f"podsim-{self.run_id}"
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        # The "image": zkboot's commands from this interpreter's bin directory, ZooKeeper from PATH.
        bin_dir = image_bin or Path(sys.executable).parent
        self.env = {
            "PATH": f"{bin_dir}:{DEFAULT_PATH}",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            **sts.env,
            **(env or {}),
        }
        self.net = Network(self.run_id)
        self.pods: dict[int, Pod] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.changed = threading.Condition(self.lock)
        self.controller = threading.Thread(target=self._control, name="statefulset-controller", daemon=True)
        self.closed = False
        self.overrides: dict[int, int] = {}  # ordinal -> ordinal whose PVC it gets (fault injection)
        self.terminating: set[int] = set()
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
        self.net.close()
        if not self.keep:
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
                threading.Thread(target=self._terminate, args=(ordinal, False, None), daemon=True).start()
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
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        pod = Pod(self.sts, ordinal, namespace, pvcs, empty, self.env, logs, self.notify)
        self.pods[ordinal] = pod
        self._write_hosts()
        pod.start()

    def _terminate(self, ordinal: int, with_pvc: bool, pvc_of: int | None) -> None:
        """Delete pod ``ordinal`` (SIGTERM, grace period, SIGKILL) outside the controller's lock."""
        pod = self.pods[ordinal]
        pod.delete()
        shutil.rmtree(pod.empty_root, ignore_errors=True)
        with self.lock:
            del self.pods[ordinal]
            if with_pvc:
                for claim in self.sts.claims:
                    shutil.rmtree(self.pvc_dir(ordinal, claim), ignore_errors=True)
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

    def delete(self, ordinal: int, with_pvc: bool = False, pvc_of: int | None = None) -> None:
        """Delete the pod (SIGTERM, grace period); the controller recreates it on its PVC, or on
        a fresh one ``with_pvc``, or (fault injection) on pod ``pvc_of``'s.  Returns once deleted."""
        with self.lock:
            if ordinal in self.terminating:
                raise SimulationError(f"pod {ordinal} is already being deleted")
            self.terminating.add(ordinal)
        self._terminate(ordinal, with_pvc, pvc_of)

    def scale(self, replicas: int) -> None:
        with self.lock:
            self.replicas = replicas
            self.changed.notify_all()

    # -- observation -----------------------------------------------------------------------------------

    def ready_count(self) -> int:
        return sum(1 for pod in self.pods.values() if pod.running() and pod.ready)

    def wait(self, predicate: Any, timeout: float, what: str, progress: Any = None) -> float:
        """Seconds until ``predicate()`` holds; SimulationError after ``timeout``."""
        start = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise SimulationError(f"timed out after {timeout:g}s waiting for {what}\n{self.table()}")
            if progress is not None:
                progress()
            time.sleep(0.1)

    def wait_ready(self, count: int | None = None, timeout: float = 180, progress: Any = None) -> float:
        want = self.replicas if count is None else count
        return self.wait(lambda: self.ready_count() >= want, timeout, f"{want} pods Ready", progress)

    def address(self, ordinal: int) -> str:
        return self.net.address(ordinal)

    def client_hosts(self, port: int = 2181) -> str:
        return ",".join(f"{self.address(i)}:{port}" for i in sorted(self.pods))

    def myid(self, ordinal: int) -> str:
        for claim in self.sts.claims:
            for candidate in self.pvc_dir(ordinal, claim).rglob("myid"):
                return candidate.read_text().strip()
        return "-"

    def mode(self, ordinal: int, port: int = 2181) -> str:
        from zkboot.client.endpoint import Endpoint
        from zkboot.client.fourlw import FourLetterError

        try:
            return Endpoint(self.address(ordinal), port, timeout=0.5).srvr().mode
        except FourLetterError as exc:
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
