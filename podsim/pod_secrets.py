"""The Secrets the pods mount: one directory per Secret under the run directory, its listed keys
made when the run starts (or when ``update`` brings a new one) and kept for the whole run.

A Secret listing ``tls.crt`` and ``tls.key`` is a kubernetes.io/tls Secret as cert-manager's CA
issuer makes it, signed by the run's CA (``tls_ca()``, podsim/pki.py); any other key is a random
value, as docs/kubernetes.md's ``kubectl create secret`` line makes it.

A TLS Secret that a cert-manager Certificate in the manifest names (its ``secretName``) is signed
instead by its issuer's CA (``issuerRef.name``; ``tls_ca(issuer)``), one CA per distinct issuer name
in a run, and its ``ca.crt`` is that CA: a Certificate from a CA Issuer of its own, as docs tell a
user to make for a CA that must sign nothing else.  Only the Certificate's ``secretName`` and
``issuerRef.name`` are read: the names, key and validity are podsim's, as for any TLS Secret.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from podsim import pki
from podsim.errors import SimulationError
from podsim.manifest import StatefulSet

TLS_KEYS = frozenset({"tls.crt", "tls.key"})  # a Secret listing both is made as a kubernetes.io/tls Secret
CERT_ORDINALS = 10  # a TLS Secret's certificate names pods 0..9 at least (see PodSecrets._tls_names)


def write_secret_file(target: Path, value: str, mode: int, fs_group: int | None) -> None:
    """One Secret key's file as the kubelet makes it: ``defaultMode``, and with fsGroup the group's,
    group-readable.  Created 0600, so that a key is never readable beyond its mode, not even at first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as sink:
        sink.write(value)
    if fs_group is not None:
        os.chown(target, -1, fs_group)
    target.chmod(mode | (0o040 if fs_group is not None else 0))


def make_pki(what: str, make: Callable[[], tuple[Path, Path]]) -> tuple[Path, Path]:
    """``make()`` (podsim/pki.py's work), its failure a SimulationError of one line."""
    try:
        return make()
    except (ValueError, OSError) as exc:
        raise SimulationError(f"{what}: {exc}") from None


class PodSecrets:
    """One run's Secrets under ``root``, its CAs and its TLS Secrets' leaves."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.run_id = run_id
        self.lock = threading.RLock()  # each CA and each leaf are made once, whoever asks first
        # Issuer name (None: the run's own CA) -> its CA (cert, key), made on first use.
        self.cas: dict[str | None, tuple[Path, Path]] = {}
        self.tls_leaves: dict[str, tuple[Path, Path, Path]] = {}  # Secret name -> its (cert, key, CA cert)

    def secret_dir(self, name: str) -> Path:
        return self.root / "secrets" / name

    def tls_ca(self, issuer: str | None = None) -> Path:
        """The run's CA certificate, which every TLS Secret's ``ca.crt`` holds and signed its
        ``tls.crt`` (what a test's client verifies the pods with); with ``issuer``, that issuer's
        CA, which signed the Secrets its Certificates name instead (SimulationError when no
        Secret of the run is from ``issuer``: a CA that signed nothing would vouch for nothing)."""
        with self.lock:
            if issuer is not None and issuer not in self.cas:
                made = ", ".join(sorted(i for i in self.cas if i is not None)) or "none"
                raise SimulationError(f"issuer {issuer}: no TLS Secret of this run is from it (issuers: {made})")
            return self._ca(issuer)[0]

    def write(self, sts: StatefulSet, replicas: int) -> None:
        """The Secrets the pods of ``sts`` mount, one file per listed key, kept for the whole run;
        ``replicas`` is spec.replicas now, which a TLS certificate's names cover.  Called by
        ``start()`` and ``update()``, in the caller's thread: a failure is the caller's one-line
        SimulationError, not the controller thread's end."""
        listed: dict[str, set[str]] = {}
        for _volume, name, items, _mode in sts.secrets:
            listed.setdefault(name, set()).update(key for key, _ in items)
        with self.lock:
            for _volume, name, items, mode in sts.secrets:
                values = self._tls_values(sts, name, replicas) if listed[name] >= TLS_KEYS else {}
                for key, path in items:
                    target = self.secret_dir(name) / path
                    if not target.exists():
                        value = values[key] if key in values else secrets.token_urlsafe(24)
                        write_secret_file(target, value, mode, sts.security.fs_group)

    def _ca(self, issuer: str | None = None) -> tuple[Path, Path]:
        """The run's CA (cert, key), or ``issuer``'s: one per run each, made on first use."""
        with self.lock:
            if issuer not in self.cas:
                if issuer is None:
                    what, directory, name = "the run's CA", self.root / "pki", f"podsim-{self.run_id}-ca"
                else:
                    what, directory, name = f"issuer {issuer}'s CA", self.root / "pki" / "issuers", issuer
                self.cas[issuer] = make_pki(what, lambda: pki.make_ca(directory, name))
            return self.cas[issuer]

    def _tls_names(self, sts: StatefulSet, replicas: int) -> list[str]:
        """The DNS names of a TLS Secret's certificate: each pod's FQDN and short name for ordinals
        0..max(replicas, CERT_ORDINALS)-1, then the Service's own names and localhost.

        Listed one by one rather than as ``*.<service>.<namespace>.svc.cluster.local``: the short
        names have to be listed anyway (no wildcard matches a one-label name), and a wildcard
        would also vouch for names no pod of this StatefulSet has (another StatefulSet's pods under
        the same Service), which a hostname-verification test must be able to see refused.  The
        certificate is made once per run, so a scale-up beyond those ordinals gets pods the
        certificate does not name, as a cert-manager Certificate listing fewer pods would."""
        pods = [f"{sts.name}-{i}" for i in range(max(replicas, sts.replicas, CERT_ORDINALS))]
        return [*(f"{pod}.{sts.domain}" for pod in pods), *pods, sts.service, sts.domain, "localhost"]

    def _tls_values(self, sts: StatefulSet, name: str, replicas: int) -> dict[str, str]:
        """Secret ``name``: ``tls.crt`` (the leaf), ``tls.key`` (its PKCS#8 key) and ``ca.crt``
        (the run's CA, or the CA of the issuer a Certificate names for it); the leaf made once per run."""
        with self.lock:
            if name not in self.tls_leaves:
                ca_cert, ca_key = self._ca(dict(sts.issuers).get(name))
                names = self._tls_names(sts, replicas)
                leaves = self.root / "pki" / "secrets"
                cert, key = make_pki(
                    f"Secret {name}", lambda: pki.make_leaf(leaves, name, ca_cert, ca_key, names, ["127.0.0.1"])
                )
                self.tls_leaves[name] = (cert, key, ca_cert)
            cert, key, ca_cert = self.tls_leaves[name]
            return {"tls.crt": cert.read_text(), "tls.key": key.read_text(), "ca.crt": ca_cert.read_text()}
