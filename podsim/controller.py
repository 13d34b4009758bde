"""The StatefulSet controller: spec.replicas and the template's revisions, the pods, their DNS
names and PVCs; it follows the real controller's rounds (pkg/controller/statefulset).

- ``podManagementPolicy``: OrderedReady creates pod i once pods 0..i-1 are Running and Ready, and
  removes the highest ordinal beyond ``replicas`` only once every pod below is Running and Ready
  and the previous one is gone; Parallel creates all missing pods at once and removes all pods
  beyond ``replicas`` at once.  A removal is SIGTERM, then SIGKILL after the grace period.
- Revisions: ``apply(sts)`` makes the template a new revision (or an earlier one again, when equal
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
- PVCs: one directory per pod and claim under the run directory; kept across restarts, pod
  deletions and scale-downs; removed by ``delete(ordinal, with_pvc=True)`` (the pod comes back on
  an empty one) and with the run directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from podsim.errors import SimulationError
from podsim.history import History
from podsim.manifest import StatefulSet
from podsim.net import Network
from podsim.pod import Pod
from podsim.podman import ImageMode


class StatefulSetController:
    def __init__(
        self,
        sts: StatefulSet,
        net: Network,
        root: Path,
        history: History,
        secret_dir: Callable[[str], Path],
        env: Callable[[StatefulSet], dict[str, str]],
        image: ImageMode | None,
    ) -> None:
        self.sts = sts  # as last applied: replicas, strategy and template of the update revision
        self.replicas = sts.replicas
        self.revisions = [sts]  # revision n is revisions[n - 1]
        self.revision = 1  # the update revision: what pods are rolled to
        self.current_revision = 1  # the revision of the last completed rollout
        self.net = net
        self.root = root  # the run directory: PVCs, emptyDirs, the pods' logs and records
        self.history = history
        self.secret_dir = secret_dir
        self.env = env
        self.image = image
        self.pods: dict[int, Pod] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.changed = threading.Condition(self.lock)
        self.thread = threading.Thread(target=self._control, name="statefulset-controller", daemon=True)
        self.closed = False
        self.overrides: dict[int, int] = {}  # ordinal -> ordinal whose PVC it gets (fault injection)
        self.terminating: set[int] = set()
        self.terminators: list[threading.Thread] = []  # the controller's deletions, joined on close
        self.past_restarts: dict[int, int] = {}  # ordinal -> container restarts of its deleted pods

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def close(self) -> bool:
        """Stop the controller, kill every pod and wait for the deletions under way; False when
        already closed.  The pods' names, namespaces and files are the caller's to remove."""
        with self.lock:
            if self.closed:
                return False
            self.closed = True
        self.stopping.set()
        self.notify()
        # The controller first, so that it creates nothing once the pods are being killed.
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for pod in list(self.pods.values()):
            pod.deleted = True
            pod._signal_group(signal.SIGKILL)
        for pod in list(self.pods.values()):
            pod.thread.join(timeout=5)
        for thread in self.terminators:
            thread.join(timeout=10)
        return True

    def notify(self) -> None:
        with self.lock:
            self.changed.notify_all()

    # -- the rounds ----------------------------------------------------------------------------

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

    # -- pods: creation and deletion -------------------------------------------------------------

    def pvc_dir(self, ordinal: int, claim: str) -> Path:
        return self.root / "pvc" / f"{claim}-{self.sts.name}-{ordinal}"

    def _create(self, ordinal: int) -> None:
        revision = self._revision_for(ordinal)
        sts = self.revisions[revision - 1]  # its Secrets written by start() or update()
        namespace = self.net.namespaces.get(ordinal) or self.net.add_pod(ordinal)
        owner = self.overrides.pop(ordinal, ordinal)
        pvcs = {claim: self.pvc_dir(owner, claim) for claim in sts.claims}
        pvcs.update({volume: self.secret_dir(secret) for volume, secret, _, _ in sts.secrets})
        pvcs.update({volume: self._config_map_dir(files, mode) for volume, files, mode in sts.config_maps})
        empty = self.root / "emptydir" / f"{sts.name}-{ordinal}-{secrets.token_hex(2)}"
        record = functools.partial(self.history.record, ordinal, revision)
        pod = Pod(
            sts, ordinal, namespace, pvcs, empty, self.env(sts), self.root, revision, self.notify, record, self.image
        )
        self._write_hosts()  # the name before the pod, as it goes after it (see _terminate)
        self.pods[ordinal] = pod
        record("created")
        pod.start()

    def _config_map_dir(self, files: tuple[tuple[str, str], ...], mode: int) -> Path:
        """A configMap volume's directory, one per content (pods of one revision share it)."""
        digest = hashlib.sha256(json.dumps([files, mode]).encode()).hexdigest()[:12]
        directory = self.root / "configmaps" / digest
        if not directory.is_dir():
            made = directory.with_name(f"{digest}.{secrets.token_hex(4)}")
            for path, content in files:
                target = made / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
                target.chmod(mode)
            made.rename(directory)
        return directory

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
            self.history.record(ordinal, pod.revision, "gone")
            self.terminating.discard(ordinal)
            self.changed.notify_all()

    # -- DNS: the headless Service's names in every pod's /etc/hosts ---------------------------------

    def _remove_names(self, ordinals: list[int]) -> None:
        """Pods ``ordinals``' namespaces and their names in every /etc/hosts, under the lock."""
        for ordinal in ordinals:
            self.net.remove_pod(ordinal)
        if ordinals:
            self._write_hosts()

    def _write_hosts(self) -> None:
        domain = self.sts.domain
        self.net.write_hosts({i: f"{self.sts.name}-{i}.{domain} {self.sts.name}-{i}" for i in self.net.namespaces})

    def _set_replicas(self, replicas: int) -> None:
        """spec.replicas, under the lock.  A name beyond it whose pod is already gone (deleted while
        still counted) goes now, in the caller's step: the controller may not get to it for long
        (OrderedReady stops its round at a pod that is not Ready), and only scale() and apply()
        lower replicas, so no name outlives both its pod and its ordinal at any release of the lock."""
        self.replicas = replicas
        self._remove_names([i for i in self.net.namespaces if i >= replicas and i not in self.pods])

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

    def apply(self, sts: StatefulSet) -> int:
        """A changed StatefulSet (the caller has checked what may not change and written its
        Secrets): the update revision's number, an earlier revision's when the template equals it."""
        with self.lock:
            same = [n for n, known in enumerate(self.revisions, 1) if known.template() == sts.template()]
            if not same:
                self.revisions.append(sts)
            self.revision = same[0] if same else len(self.revisions)
            self.sts = sts
            self._set_replicas(sts.replicas)
            self.changed.notify_all()
            return self.revision

    # -- state -----------------------------------------------------------------------------------------

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
