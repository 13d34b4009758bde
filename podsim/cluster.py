"""A StatefulSet on one machine: ``Simulation``, the one object tests and ``python -m podsim`` use.

    with Simulation(sts) as sim:
        sim.start()
        sim.wait(lambda: sim.ready_count() == 3, 120, "3 pods Ready")
        sim.update(changed_sts)  # kubectl apply: a new template revision, rolled out per updateStrategy
        sim.wait(sim.rollout_done, 120, "the rollout")
        print(sim.table())

It holds a run's parts and answers for them:
- podsim/controller.py: the StatefulSet controller (its rounds, revisions, rollouts, scaling), the
  pods, the headless Service's DNS names and the PVCs;
- podsim/pod_secrets.py: the Secrets the pods mount, TLS Secrets signed by the run's CA (or by
  the CA of the issuer a cert-manager Certificate in the manifest names for them);
- podsim/clients.py: how the host reaches the pods' client service (plain or TLS, SASL);
- podsim/status.py: the pods as the host sees them (rows, the table, ``wait``);
- podsim/history.py: every pod's events; podsim/image.py: what the pods run;
- podsim/net.py: the bridge and the pods' network namespaces; podsim/runs.py: the run directory.
Cleanup (processes by recorded PID, namespaces, links, /etc/netns entries, the run directory)
happens on ``close()``, which the context manager, atexit and SIGTERM/SIGINT all reach; what a
run killed before its cleanup left behind, the next run's ``start()`` removes (podsim/runs.py).
The image: zkboot's commands from this interpreter's bin directory (or ``image_bin``), refused at
once when a pod would see a fresh directory there instead (podsim/image.py), or a real image
under podman (``image``).  Needs root (network namespaces, mounts); says so in one line otherwise.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import ssl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

from podsim import runs
from podsim.clients import ClientAccess
from podsim.controller import StatefulSetController
from podsim.errors import SimulationError
from podsim.history import History, PodEvent
from podsim.image import check_image_bin, pod_env
from podsim.manifest import StatefulSet
from podsim.net import Network
from podsim.pod import Pod
from podsim.pod_secrets import PodSecrets
from podsim.podman import ImageMode
from podsim.status import Status

__all__ = ["PodEvent", "Simulation", "SimulationError", "check_image_bin"]


class Simulation:
    def __init__(self, sts: StatefulSet, *, image_bin: Path | None = None, image: ImageMode | None = None) -> None:
        # Host mode: the "image" is zkboot's commands from this interpreter's bin directory and
        # ZooKeeper from PATH.  Image mode: the pods run from a real image under podman.
        self.image = image
        self.bin_dir = image_bin or Path(sys.executable).parent
        if image is None:
            check_image_bin(self.bin_dir, sts)
        if os.geteuid() != 0:
            raise SimulationError("podsim needs root (network namespaces, bind mounts): run it as root")
        self.run_id, self.root = runs.create()
        try:
            self.net = Network(self.run_id)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.removed_runs: list[str] = []  # runs whose leftovers start() removed
        self.secrets = PodSecrets(self.root, self.run_id)
        self.clients = ClientAccess()
        self.pod_history = History()
        self.statefulset = StatefulSetController(
            sts,
            self.net,
            self.root,
            self.pod_history,
            self.secrets.secret_dir,
            functools.partial(pod_env, self.bin_dir, image),
            image,
        )
        self.status = Status(self.statefulset, self.net, self.clients)
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
        self.secrets.write(self.sts, self.replicas)
        self.net.create_bridge()
        self.statefulset.start()

    def close(self) -> None:
        if not self.statefulset.close():
            return
        self.net.close()  # the names before the directory: see runs.sweep
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.close)

    # -- Secrets and the client service ------------------------------------------------------------

    def secret_dir(self, name: str) -> Path:
        return self.secrets.secret_dir(name)

    def tls_ca(self, issuer: str | None = None) -> Path:
        """The run's CA certificate, which every TLS Secret's ``ca.crt`` holds and signed its
        ``tls.crt``: what a test's client verifies the pods with.  With ``issuer``, the CA of that
        issuer, which signed instead the TLS Secrets that the manifest's cert-manager Certificates
        naming it list (see podsim/pod_secrets.py)."""
        return self.secrets.tls_ca(issuer)

    def clients_over_tls(self, secret: str, port: int, sasl_secret: str | None = None) -> None:
        """From now on reach the pods' client service on ``port`` over TLS, as a client holding
        the TLS Secret ``secret``'s certificate and trusting the run's CA (no name check: the
        host dials pod IPs); with ``sasl_secret``, sessions authenticate as the account in that
        Secret (``username``, ``password``) with SASL DIGEST-MD5."""
        sasl_dir = None if sasl_secret is None else self.secret_dir(sasl_secret)
        self.clients.over_tls(port, self.tls_ca(), self.secret_dir(secret), sasl_dir)

    def kazoo_args(self) -> dict[str, object]:
        """KazooClient's TLS and SASL arguments for the pods' client service (none over plain)."""
        return self.clients.kazoo_args()

    # -- operations ----------------------------------------------------------------------------------

    def pvc_dir(self, ordinal: int, claim: str) -> Path:
        return self.statefulset.pvc_dir(ordinal, claim)

    def kill(self, ordinal: int, hold: bool = False) -> None:
        """SIGKILL the pod's process group; the kubelet restarts it unless ``hold``."""
        self.statefulset.kill(ordinal, hold)

    def restart(self, ordinal: int) -> None:
        """Start a held pod again, on the same PVC (a container restart)."""
        self.statefulset.restart(ordinal)

    def delete(self, ordinal: int, with_pvc: bool = False, pvc_of: int | None = None) -> None:
        """Delete the pod (SIGTERM, grace period, SIGKILL); the controller recreates it (at the
        revision its ordinal gets, see podsim/controller.py) on its PVC, or ``with_pvc`` on a new,
        empty one (its PVC deleted too), or (fault injection) on pod ``pvc_of``'s.  Returns once deleted."""
        self.statefulset.delete(ordinal, with_pvc, pvc_of)

    def scale(self, replicas: int) -> None:
        """``kubectl scale``: spec.replicas only; the template and its revision stay."""
        self.statefulset.scale(replicas)

    def update(self, sts: StatefulSet) -> int:
        """``kubectl apply`` of a changed StatefulSet (replicas, updateStrategy, partition and the
        pod template: command, env, mounts, probes, limits, grace period); the update revision's
        number.  A template equal to an earlier revision's is that revision again.  The fields
        Kubernetes refuses to change (name, serviceName, podManagementPolicy, volumeClaimTemplates)
        raise SimulationError, as the API server refuses them."""
        changed = [key for key, value in sts.immutable().items() if value != self.sts.immutable()[key]]
        if changed:
            raise SimulationError(f"StatefulSet {self.sts.name}: {', '.join(changed)} may not be changed")
        check_image_bin(self.bin_dir, sts)
        # Under the controller's lock: no pod of the new revision is made before its Secrets are.
        with self.statefulset.lock:
            self.secrets.write(sts, self.replicas)
            return self.statefulset.apply(sts)

    # -- observation -----------------------------------------------------------------------------------

    def ready_count(self) -> int:
        return self.statefulset.ready_count()

    def ordinals(self) -> list[int]:
        """The ordinals that have a pod now (running or not, being deleted or not)."""
        return self.statefulset.ordinals()

    def revision_of(self, ordinal: int) -> int | None:
        """The revision pod ``ordinal`` was created from; None when there is no such pod now."""
        return self.statefulset.revision_of(ordinal)

    def rollout_done(self) -> bool:
        """The update has gone as far as the strategy takes it (see podsim/controller.py)."""
        return self.statefulset.rollout_done()

    def restarts(self, ordinal: int) -> int:
        """Container restarts of every pod ordinal ``ordinal`` has had in this run."""
        return self.statefulset.restarts(ordinal)

    def creations(self, ordinal: int) -> int:
        """How many pods ordinal ``ordinal`` has had in this run (1: never deleted and recreated)."""
        return self.pod_history.creations(ordinal)

    def history(self) -> list[PodEvent]:
        """Every pod's creation, readiness changes, deletion and end, in order."""
        return self.pod_history.all()

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until ``predicate()`` holds; SimulationError after ``timeout``."""
        return self.status.wait(predicate, timeout, what)

    def address(self, ordinal: int) -> str:
        return self.status.address(ordinal)

    def client_hosts(self) -> str:
        return self.status.client_hosts()

    def myid(self, ordinal: int) -> str:
        return self.status.myid(ordinal)

    def mode(self, ordinal: int) -> str:
        """The mode the pod's server reports to ``srvr``, or why there is none (refused, ...)."""
        return self.status.mode(ordinal)

    def rows(self) -> list[dict[str, str]]:
        return self.status.rows()

    def table(self) -> str:
        return self.status.table()

    # -- the parts' state, read-only, under the names callers know ---------------------------------------

    @property
    def sts(self) -> StatefulSet:
        """As last applied: replicas, strategy and template of the update revision."""
        return self.statefulset.sts

    @property
    def replicas(self) -> int:
        return self.statefulset.replicas

    @property
    def revision(self) -> int:
        """The update revision: what pods are rolled to."""
        return self.statefulset.revision

    @property
    def pods(self) -> dict[int, Pod]:
        return self.statefulset.pods

    @property
    def closed(self) -> bool:
        return self.statefulset.closed

    @property
    def client_port(self) -> int:
        return self.clients.port

    @property
    def client_tls(self) -> ssl.SSLContext | None:
        return self.clients.tls

    @property
    def client_sasl(self) -> dict[str, str] | None:
        return self.clients.sasl
