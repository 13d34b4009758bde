"""A StatefulSet on one machine: the controller, the headless Service's DNS, PVCs, and cleanup.

    with Simulation(sts) as sim:
        sim.start()
        sim.wait(lambda: sim.ready_count() == 3, 120, "3 pods Ready")
        sim.update(changed_sts)  # kubectl apply: a new template revision, rolled out per updateStrategy
        sim.wait(sim.rollout_done, 120, "the rollout")
        print(sim.table())

The controller follows the real StatefulSet controller's rounds (pkg/controller/statefulset):
- ``podManagementPolicy``: OrderedReady creates pod i once pods 0..i-1 are Running and Ready, and
  removes the highest ordinal beyond ``replicas`` only once every pod below is Running and Ready
  and the previous one is gone; Parallel creates all missing pods at once and removes all pods
  beyond ``replicas`` at once.  A removal is SIGTERM, then SIGKILL after the grace period.
- Revisions: ``update(sts)`` makes the template a new revision (or an earlier one again, when equal
  to it: the controller's revision hash).  A pod keeps the revision it was created from.  A pod
  (re)created gets the update revision, except below ``partition`` with RollingUpdate, where it
  gets the current one (the revision of the last completed rollout).
- RollingUpdate: while every pod 0..replicas-1 exists, is Running and Ready and none is being
  deleted, the highest ordinal >= partition not on the update revision is deleted (and recreated
  by the rule above); nothing else.  So one pod at a time, highest first, each replacement Ready
  before the next, and a replacement that never becomes Ready stalls the rollout for good.  (This
  is the controller with maxUnavailable 1, MaxUnavailableStatefulSet's path; without that gate
  the controller only waits on the pods from the top down to the one it updates.)
  OnDelete: pods keep their revision until ``delete()``.
- DNS: each ordinal's ``<sts>-<i>.<service>.<namespace>.svc.cluster.local`` is in every pod's
  /etc/hosts from its pod's first creation until it is removed by a scale-down, ready or not,
  deleted and being recreated or not (a headless Service with ``publishNotReadyAddresses`` keeps
  terminating pods; a real cluster has a short gap, and a new address, between a pod's deletion
  and its replacement, which podsim does not simulate).  The name is written before its pod enters
  ``pods`` and removed before it leaves: whoever reads ``pods``, even without the lock, never sees
  a pod without its name, nor a pod gone for good with its name still there.
- Secrets: one directory per Secret, its listed keys made when the run starts (or when ``update``
  brings a new one) and kept for the whole run; a Secret listing ``tls.crt`` and ``tls.key`` is a
  kubernetes.io/tls Secret signed by the run's CA (``tls_ca()``, podsim/pki.py), any other key a
  random value.
- PVCs: one directory per pod and claim under the run directory; kept across restarts, pod
  deletions and scale-downs; removed by ``delete(ordinal, with_pvc=True)`` (the pod comes back on
  an empty one) and at the end of the run.
- Cleanup (processes by recorded PID, namespaces, links, /etc/netns entries, the run directory)
  happens on ``close()``, which the context manager, atexit and SIGTERM/SIGINT all reach; what a
  run killed before its cleanup left behind, the next run's ``start()`` removes (podsim/runs.py).
- The image: zkboot's commands from this interpreter's bin directory (or ``image_bin``), refused
  at once when a pod would see a fresh directory there instead (podsim/pod.py, fresh_paths).
Needs root (network namespaces, mounts); says so in one line otherwise.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

from podsim import pki, runs
from podsim.manifest import StatefulSet
from podsim.net import Network
from podsim.pod import Pod, fresh_paths
from podsim.podman import ImageMode
from podsim.zk import ZkError, srvr

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TLS_KEYS = frozenset({"tls.crt", "tls.key"})  # a Secret listing both is made as a kubernetes.io/tls Secret
CERT_ORDINALS = 10  # a TLS Secret's certificate names pods 0..9 at least (see _tls_names)


class SimulationError(Exception):
    pass


@dataclass(frozen=True)
class PodEvent:
    """One step of a pod's life, in ``Simulation.history()``."""

    at: float  # time.monotonic()
    ordinal: int
    kind: str  # created, ready, unready, terminating, gone
    revision: int  # the revision the pod was created from


def write_secret_file(target: Path, value: str, mode: int, fs_group: int | None) -> None:
    """One Secret key's file as the kubelet makes it: ``defaultMode``, and with fsGroup the group's,
    group-readable.  Created 0600, so that a key is never readable beyond its mode, not even at first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as sink:
        sink.write(value)
    if fs_group is not None:
        os.chown(target, -1, fs_group)
    target.chmod(mode | (0o040 if fs_group is not None else 0))


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
    def __init__(self, sts: StatefulSet, *, image_bin: Path | None = None, image: ImageMode | None = None) -> None:
        # Host mode: the "image" is zkboot's commands from this interpreter's bin directory and
        # ZooKeeper from PATH.  Image mode: the pods run from a real image under podman.
        self.image = image
        self.bin_dir = image_bin or Path(sys.executable).parent
        if image is None:
            check_image_bin(self.bin_dir, sts)
        if os.geteuid() != 0:
            raise SimulationError("podsim needs root (network namespaces, bind mounts): run it as root")
        self.sts = sts  # as last applied: replicas, strategy and template of the update revision
        self.replicas = sts.replicas
        self.revisions = [sts]  # revision n is revisions[n - 1]
        self.revision = 1  # the update revision: what pods are rolled to
        self.current_revision = 1  # the revision of the last completed rollout
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
        self.terminators: list[threading.Thread] = []  # the controller's deletions, joined on close
        self.removed_runs: list[str] = []  # runs whose leftovers start() removed
        # How the host reaches the pods' client service (the table, the tests' clients): plain
        # 2181 unless clients_over_tls() says otherwise.
        self.client_port = 2181
        self.client_tls: ssl.SSLContext | None = None
        self.client_files: dict[str, str] = {}
        self.client_sasl: dict[str, str] | None = None
        # A lock of its own: pods record under their own lock, which the controller takes under its.
        self.history_lock = threading.Lock()
        self.events: list[PodEvent] = []
        self.past_restarts: dict[int, int] = {}  # ordinal -> container restarts of its deleted pods
        self.ca: tuple[Path, Path] | None = None  # the run's CA (cert, key), made on first use
        self.tls_leaves: dict[str, tuple[Path, Path]] = {}  # Secret name -> its (cert, key)
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
        self._write_secrets(self.sts)
        self.net.create_bridge()
        self.controller.start()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.stopping.set()
        self.notify()
        # The controller first, so that it creates nothing once the pods are being killed.
        if self.controller.is_alive():
            self.controller.join(timeout=10)
        for pod in list(self.pods.values()):
            pod.deleted = True
            pod._signal_group(signal.SIGKILL)
        for pod in list(self.pods.values()):
            pod.thread.join(timeout=5)
        for thread in self.terminators:
            thread.join(timeout=10)
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
                if self.stopping.is_set():
                    return
                self._reconcile()
                self.changed.wait(timeout=0.25)

    def _reconcile(self) -> None:
        """One round of the controller: create, then scale down, then roll (see the module doc)."""
        ordered = self.sts.policy == "OrderedReady"
        for ordinal in range(self.replicas):
            pod = self.pods.get(ordinal)
            if pod is None:
                self._create(ordinal)
                if ordered:
                    return
            elif ordered and (ordinal in self.terminating or not pod.serving()):
                return
        condemned = sorted((i for i in self.pods if i >= self.replicas), reverse=True)
        unhealthy = [i for i in sorted(condemned) if not self.pods[i].serving()]
        for ordinal in condemned:
            if ordinal in self.terminating:
                if ordered:
                    return
                continue
            # As the controller: OrderedReady removes an unhealthy pod only when it is the lowest one.
            if ordered and not self.pods[ordinal].serving() and ordinal != unhealthy[0]:
                return
            self._terminate_later(ordinal)
            if ordered:
                return
        if self.sts.update_strategy == "RollingUpdate":
            self._roll()

    def _roll(self) -> None:
        revisions = {}
        for ordinal in range(self.replicas):
            pod = self.pods.get(ordinal)
            if pod is None or ordinal in self.terminating or not pod.serving():
                return  # nothing proceeds while a pod is missing, being deleted or not Ready
            revisions[ordinal] = pod.revision
        for ordinal in range(self.replicas - 1, self.sts.partition - 1, -1):
            if revisions[ordinal] != self.revision:
                self._terminate_later(ordinal)
                return
        if set(revisions.values()) <= {self.revision} and not any(i >= self.replicas for i in self.pods):
            self.current_revision = self.revision  # every pod updated and Ready: the rollout is complete

    def _revision_for(self, ordinal: int) -> int:
        if self.sts.update_strategy == "RollingUpdate" and ordinal < self.sts.partition:
            return self.current_revision
        return self.revision

    def _env(self, sts: StatefulSet) -> dict[str, str]:
        if self.image is not None:
            return self.image.store.env  # podman's own; the container's is the manifest's (--env)
        return {"PATH": f"{self.bin_dir}:{DEFAULT_PATH}", "HOME": "/tmp", "LANG": "C.UTF-8", **sts.env}

    def secret_dir(self, name: str) -> Path:
        return self.root / "secrets" / name

    def clients_over_tls(self, secret: str, port: int, sasl_secret: str | None = None) -> None:
        """From now on reach the pods' client service on ``port`` over TLS, as a client holding
        the TLS Secret ``secret``'s certificate and trusting the run's CA (no name check: the
        host dials pod IPs); with ``sasl_secret``, sessions authenticate as the account in that
        Secret (``username``, ``password``) with SASL DIGEST-MD5."""
        files = {"ca": str(self.tls_ca()), "certfile": str(self.secret_dir(secret) / "tls.crt"),
                 "keyfile": str(self.secret_dir(secret) / "tls.key")}  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(files["ca"])
        context.load_cert_chain(files["certfile"], files["keyfile"])
        self.client_port, self.client_tls, self.client_files = port, context, files
        if sasl_secret is not None:
            folder = self.secret_dir(sasl_secret)
            account = {name: (folder / name).read_text().strip() for name in ("username", "password")}
            self.client_sasl = {"mechanism": "DIGEST-MD5", **account}

    def kazoo_args(self) -> dict[str, object]:
        """KazooClient's TLS and SASL arguments for the pods' client service (none over plain)."""
        arguments: dict[str, object] = {}
        if self.client_tls is not None:
            arguments.update(use_ssl=True, verify_certs=True, **self.client_files)
        if self.client_sasl is not None:
            arguments["sasl_options"] = self.client_sasl
        return arguments

    def tls_ca(self) -> Path:
        """The run's CA certificate, which every TLS Secret's ``ca.crt`` holds and signed its
        ``tls.crt``: what a test's client verifies the pods with."""
        return self._ca()[0]

    def _ca(self) -> tuple[Path, Path]:
        """The run's CA (cert, key): one per run, made on first use."""
        with self.lock:
            if self.ca is None:
                name = f"podsim-{self.run_id}-ca"
                self.ca = self._pki("the run's CA", lambda: pki.make_ca(self.root / "pki", name))
            return self.ca

    def _pki(self, what: str, make: Callable[[], tuple[Path, Path]]) -> tuple[Path, Path]:
        """``make()`` (podsim/pki.py's work), its failure a SimulationError of one line."""
        try:
            return make()
        except (ValueError, OSError) as exc:
            raise SimulationError(f"{what}: {exc}") from None

    def _tls_names(self, sts: StatefulSet) -> list[str]:
        """The DNS names of a TLS Secret's certificate: each pod's FQDN and short name for ordinals
        0..max(replicas, CERT_ORDINALS)-1, then the Service's own names and localhost.

        Listed one by one rather than as ``*.<service>.<namespace>.svc.cluster.local``: the short
        names have to be listed anyway (no wildcard matches a one-label name), and a wildcard
        would also vouch for names no pod of this StatefulSet has (another StatefulSet's pods under
        the same Service), which a hostname-verification test must be able to see refused.  The
        certificate is made once per run, so a scale-up beyond those ordinals gets pods the
        certificate does not name, as a cert-manager Certificate listing fewer pods would."""
        pods = [f"{sts.name}-{i}" for i in range(max(self.replicas, sts.replicas, CERT_ORDINALS))]
        return [*(f"{pod}.{sts.domain}" for pod in pods), *pods, sts.service, sts.domain, "localhost"]

    def _tls_values(self, sts: StatefulSet, name: str) -> dict[str, str]:
        """Secret ``name`` as cert-manager's CA issuer makes it: ``tls.crt`` (the leaf), ``tls.key``
        (its PKCS#8 key) and ``ca.crt`` (the run's CA); the leaf made once per run."""
        with self.lock:
            ca_cert, ca_key = self._ca()
            if name not in self.tls_leaves:
                names = self._tls_names(sts)
                leaves = self.root / "pki" / "secrets"
                self.tls_leaves[name] = self._pki(
                    f"Secret {name}", lambda: pki.make_leaf(leaves, name, ca_cert, ca_key, names, ["127.0.0.1"])
                )
            cert, key = self.tls_leaves[name]
            return {"tls.crt": cert.read_text(), "tls.key": key.read_text(), "ca.crt": ca_cert.read_text()}

    def _write_secrets(self, sts: StatefulSet) -> None:
        """The Secrets the pods of ``sts`` mount, one file per listed key, kept for the whole run:
        a Secret listing ``tls.crt`` and ``tls.key`` (in any of its volumes) as a kubernetes.io/tls
        Secret (``_tls_values``), any other key a random value, as the README's ``kubectl create
        secret`` line makes it.  Called by ``start()`` and ``update()``, in the caller's thread:
        a failure is the caller's one-line SimulationError, not the controller thread's end."""
        listed: dict[str, set[str]] = {}
        for _volume, name, items, _mode in sts.secrets:
            listed.setdefault(name, set()).update(key for key, _ in items)
        with self.lock:
            for _volume, name, items, mode in sts.secrets:
                values = self._tls_values(sts, name) if listed[name] >= TLS_KEYS else {}
                for key, path in items:
                    target = self.secret_dir(name) / path
                    if not target.exists():
                        value = values[key] if key in values else secrets.token_urlsafe(24)
                        write_secret_file(target, value, mode, sts.security.fs_group)

    def pvc_dir(self, ordinal: int, claim: str) -> Path:
        return self.root / "pvc" / f"{claim}-{self.sts.name}-{ordinal}"

    def _create(self, ordinal: int) -> None:
        revision = self._revision_for(ordinal)
        sts = self.revisions[revision - 1]  # its Secrets written by start() or update()
        namespace = self.net.namespaces.get(ordinal) or self.net.add_pod(ordinal)
        owner = self.overrides.pop(ordinal, ordinal)
        pvcs = {claim: self.pvc_dir(owner, claim) for claim in sts.claims}
        pvcs.update({volume: self.secret_dir(secret) for volume, secret, _, _ in sts.secrets})
        empty = self.root / "emptydir" / f"{sts.name}-{ordinal}-{secrets.token_hex(2)}"
        record = functools.partial(self._record, ordinal, revision)
        pod = Pod(
            sts, ordinal, namespace, pvcs, empty, self._env(sts), self.root, revision, self.notify, record, self.image
        )
        self._write_hosts()  # the name before the pod, as it goes after it (see _terminate)
        self.pods[ordinal] = pod
        record("created")
        pod.start()

    def _terminate_later(self, ordinal: int) -> None:
        self.terminating.add(ordinal)
        thread = threading.Thread(target=self._terminate, args=(ordinal, None, False), daemon=True)
        self.terminators = [t for t in self.terminators if t.is_alive()] + [thread]
        thread.start()

    def _terminate(self, ordinal: int, pvc_of: int | None, with_pvc: bool) -> None:
        """Delete pod ``ordinal`` (SIGTERM, grace period, SIGKILL) outside the controller's lock."""
        pod = self.pods[ordinal]
        pod.delete()
        shutil.rmtree(pod.empty_root, ignore_errors=True)
        with self.lock:
            if self.closed:
                return  # close() removes the rest
            # The pod leaves ``pods`` last: readers that skip the lock (tests' predicates, rows())
            # must not see it gone while its name, namespace or PVC is still there.
            if ordinal >= self.replicas:  # gone for good: its name goes too
                self._remove_names([ordinal])
            if with_pvc:
                for claim in self.sts.claims:
                    shutil.rmtree(self.pvc_dir(ordinal, claim), ignore_errors=True)
            if pvc_of is not None:
                self.overrides[ordinal] = pvc_of
            self.past_restarts[ordinal] = self.past_restarts.get(ordinal, 0) + pod.restarts
            del self.pods[ordinal]
            self._record(ordinal, pod.revision, "gone")
            self.terminating.discard(ordinal)
            self.changed.notify_all()

    def _remove_names(self, ordinals: list[int]) -> None:
        """Pods ``ordinals``' namespaces and their names in every /etc/hosts, under the lock."""
        for ordinal in ordinals:
            self.net.remove_pod(ordinal)
        if ordinals:
            self._write_hosts()

    def _set_replicas(self, replicas: int) -> None:
        """spec.replicas, under the lock.  A name beyond it whose pod is already gone (deleted while
        still counted) goes now, in the caller's step: the controller may not get to it for long
        (OrderedReady stops its round at a pod that is not Ready), and only scale() and update()
        lower replicas, so no name outlives both its pod and its ordinal at any release of the lock."""
        self.replicas = replicas
        self._remove_names([i for i in self.net.namespaces if i >= replicas and i not in self.pods])

    def _write_hosts(self) -> None:
        domain = self.sts.domain
        self.net.write_hosts({i: f"{self.sts.name}-{i}.{domain} {self.sts.name}-{i}" for i in self.net.namespaces})

    def _record(self, ordinal: int, revision: int, kind: str) -> None:
        with self.history_lock:
            self.events.append(PodEvent(time.monotonic(), ordinal, kind, revision))

    # -- operations ----------------------------------------------------------------------------------

    def kill(self, ordinal: int, hold: bool = False) -> None:
        """SIGKILL the pod's process group; the kubelet restarts it unless ``hold``."""
        self.pods[ordinal].kill(hold=hold)

    def restart(self, ordinal: int) -> None:
        """Start a held pod again, on the same PVC (a container restart)."""
        self.pods[ordinal].restart()

    def delete(self, ordinal: int, with_pvc: bool = False, pvc_of: int | None = None) -> None:
        """Delete the pod (SIGTERM, grace period, SIGKILL); the controller recreates it (at the
        revision its ordinal gets, see the module doc) on its PVC, or ``with_pvc`` on a new, empty
        one (its PVC deleted too), or (fault injection) on pod ``pvc_of``'s.  Returns once deleted."""
        with self.lock:
            if ordinal not in self.pods:
                raise SimulationError(f"there is no pod {ordinal} to delete")
            if ordinal in self.terminating:
                raise SimulationError(f"pod {ordinal} is already being deleted")
            self.terminating.add(ordinal)
        self._terminate(ordinal, pvc_of, with_pvc)

    def scale(self, replicas: int) -> None:
        """``kubectl scale``: spec.replicas only; the template and its revision stay."""
        with self.lock:
            self._set_replicas(replicas)
            self.changed.notify_all()

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
        with self.lock:
            self._write_secrets(sts)
            same = [n for n, known in enumerate(self.revisions, 1) if known.template() == sts.template()]
            if not same:
                self.revisions.append(sts)
            self.revision = same[0] if same else len(self.revisions)
            self.sts = sts
            self._set_replicas(sts.replicas)
            self.changed.notify_all()
            return self.revision

    # -- observation -----------------------------------------------------------------------------------

    def ready_count(self) -> int:
        return sum(1 for pod in list(self.pods.values()) if pod.serving())

    def ordinals(self) -> list[int]:
        """The ordinals that have a pod now (running or not, being deleted or not).  Under the lock:
        a pod leaves ``pods`` and its DNS name goes in one step, and nobody sees one without the other."""
        with self.lock:
            return sorted(self.pods)

    def revision_of(self, ordinal: int) -> int | None:
        """The revision pod ``ordinal`` was created from; None when there is no such pod now."""
        pod = self.pods.get(ordinal)
        return None if pod is None else pod.revision

    def rollout_done(self) -> bool:
        """The update has gone as far as the strategy takes it: pods 0..replicas-1 exist, Running and
        Ready, none being deleted, none beyond; each on the update revision (with RollingUpdate,
        those below ``partition`` on any)."""
        with self.lock:
            if any(i >= self.replicas for i in self.pods):
                return False
            for ordinal in range(self.replicas):
                pod = self.pods.get(ordinal)
                if pod is None or ordinal in self.terminating or not pod.serving():
                    return False
                below = self.sts.update_strategy == "RollingUpdate" and ordinal < self.sts.partition
                if pod.revision != self.revision and not below:
                    return False
            return True

    def restarts(self, ordinal: int) -> int:
        """Container restarts of every pod ordinal ``ordinal`` has had in this run (a recreated
        pod's count starts at 0, as Kubernetes', but a restart before the recreation still counts)."""
        with self.lock:
            pod = self.pods.get(ordinal)
            return self.past_restarts.get(ordinal, 0) + (pod.restarts if pod is not None else 0)

    def creations(self, ordinal: int) -> int:
        """How many pods ordinal ``ordinal`` has had in this run (1: never deleted and recreated)."""
        return sum(1 for event in self.history() if event.ordinal == ordinal and event.kind == "created")

    def history(self) -> list[PodEvent]:
        """Every pod's creation, readiness changes, deletion and end, in order."""
        with self.history_lock:
            return list(self.events)

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
        return ",".join(f"{self.address(i)}:{self.client_port}" for i in self.ordinals())

    def myid(self, ordinal: int) -> str:
        for claim in self.sts.claims:
            for candidate in self.pvc_dir(ordinal, claim).rglob("myid"):
                return candidate.read_text().strip()
        return "-"

    def mode(self, ordinal: int) -> str:
        """The mode the pod's server reports to ``srvr``, or why there is none (refused, ...)."""
        try:
            return srvr(self.address(ordinal), self.client_port, tls=self.client_tls).mode
        except ZkError as exc:
            return exc.kind

    def rows(self) -> list[dict[str, str]]:
        rows = []
        pods = self.pods.copy()
        for ordinal in range(max([self.replicas, *[i + 1 for i in pods]])):
            pod = pods.get(ordinal)
            if pod is None:
                rows.append({"pod": f"{self.sts.name}-{ordinal}", "address": "-", "myid": "-", "mode": "-",
                             "live": "-", "ready": "-", "restarts": "-", "revision": "-",
                             "state": "Pending"})  # fmt: skip
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
                    "revision": str(pod.revision),
                    "state": "Terminating" if ordinal in self.terminating
                    else "Running" if running else ("Held" if pod.held else "Waiting"),
                }
            )  # fmt: skip
        return rows

    def table(self) -> str:
        rows = self.rows()
        header = list(rows[0]) if rows else []
        cells = [header] + [[row[key] for key in header] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)
