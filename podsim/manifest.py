"""What the simulator needs from a StatefulSet manifest, read from YAML as Kubernetes would.

Sources: any YAML stream with one StatefulSet (``kubectl kustomize`` output, a manifest file), or a
seed article whose manifest sits in a ``cat <<END>file.yaml ... END`` block.  Besides the
StatefulSet, the stream's ConfigMaps (the contents of configMap volumes) and cert-manager
Certificates (which issuer signs the TLS Secret each one names, see podsim/pod_secrets.py) are read.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

QUANTITY = re.compile(r"^([0-9.]+)([EPTGMK]i?|[mkKMGTPE])?$")
BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
# A Kubernetes object name (a DNS subdomain), as an Issuer's is: also a name podsim/pki.py takes.
OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
OBJECT_NAME_MAX = 253
DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3}


@dataclass(frozen=True)
class Probe:
    command: tuple[str, ...]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Probe | None:
        if not spec:
            return None
        if "exec" not in spec:
            raise ValueError(f"only exec probes are simulated, not {sorted(spec)}")
        return cls(
            command=tuple(spec["exec"]["command"]),
            initial_delay=float(spec.get("initialDelaySeconds", 0)),
            period=float(spec.get("periodSeconds", 10)),
            timeout=float(spec.get("timeoutSeconds", 1)),
            failure_threshold=int(spec.get("failureThreshold", 3)),
            success_threshold=int(spec.get("successThreshold", 1)),
        )


@dataclass(frozen=True)
class Security:
    """The container's effective securityContext (the container's fields over the pod's)."""

    run_as_user: int | None = None  # None: the image's user
    run_as_group: int | None = None
    fs_group: int | None = None  # volumes made group-owned and group-writable, an extra group
    run_as_non_root: bool = False
    read_only_root: bool = False
    allow_privilege_escalation: bool = True
    drop: tuple[str, ...] = ()  # capabilities, as written (ALL, NET_RAW, ...)
    add: tuple[str, ...] = ()

    @classmethod
    def from_specs(cls, pod: dict[str, Any], container: dict[str, Any]) -> Security:
        def pick(key: str) -> Any:
            return container.get(key, pod.get(key))

        capabilities = container.get("capabilities") or {}
        user, group, fs_group = pick("runAsUser"), pick("runAsGroup"), pod.get("fsGroup")
        return cls(
            run_as_user=None if user is None else int(user),
            run_as_group=None if group is None else int(group),
            fs_group=None if fs_group is None else int(fs_group),
            run_as_non_root=bool(pick("runAsNonRoot")),
            read_only_root=bool(container.get("readOnlyRootFilesystem")),
            allow_privilege_escalation=container.get("allowPrivilegeEscalation", True) is not False,
            drop=tuple(str(c) for c in capabilities.get("drop") or ()),
            add=tuple(str(c) for c in capabilities.get("add") or ()),
        )


@dataclass(frozen=True)
class StatefulSet:
    name: str
    service: str
    replicas: int
    policy: str  # OrderedReady or Parallel
    command: tuple[str, ...]  # command + args, as the container runs them
    env: dict[str, str]
    mounts: dict[str, str]  # mount path -> volume name
    claims: tuple[str, ...]  # volumeClaimTemplates names (persistent)
    memory_limit: int | None  # bytes
    startup: Probe | None
    liveness: Probe | None
    readiness: Probe | None
    grace_period: float = 30.0
    namespace: str = "default"
    update_strategy: str = "RollingUpdate"  # or OnDelete
    partition: int = 0  # RollingUpdate: ordinals below it keep their revision
    # Secret volumes: (volume name, secretName, ((key, path in the volume), ...) from ``items``,
    # the files' mode from ``defaultMode``).
    secrets: tuple[tuple[str, str, tuple[tuple[str, str], ...], int], ...] = ()
    # ConfigMap volumes: (volume name, ((path in the volume, content), ...), the files' mode from
    # ``defaultMode``), the ConfigMap's data read from the same YAML stream.
    config_maps: tuple[tuple[str, tuple[tuple[str, str], ...], int], ...] = ()
    # TLS Secrets a cert-manager Certificate in the same YAML stream names: (spec.secretName, its
    # spec.issuerRef.name), sorted.  Not the pod template's: which CA signs a Secret.
    issuers: tuple[tuple[str, str], ...] = ()
    image: str = ""
    security: Security = Security()
    selector: tuple[tuple[str, str], ...] = ()  # spec.selector.matchLabels, sorted
    # volumeClaimTemplates as written (JSON, keys sorted): Kubernetes compares them whole.
    claim_templates: str = "[]"

    @property
    def domain(self) -> str:
        return f"{self.service}.{self.namespace}.svc.cluster.local"

    def template(self) -> tuple[object, ...]:
        """What the pod template holds: two StatefulSets with equal templates are one revision."""
        return (self.command, self.env, self.mounts, self.memory_limit, self.startup, self.liveness,
                self.readiness, self.grace_period, self.secrets, self.config_maps, self.image,
                self.security)  # fmt: skip

    def immutable(self) -> dict[str, object]:
        """The fields Kubernetes refuses to change on an existing StatefulSet."""
        return {"name": self.name, "serviceName": self.service, "namespace": self.namespace,
                "selector": self.selector, "podManagementPolicy": self.policy,
                "volumeClaimTemplates": self.claim_templates}  # fmt: skip


def quantity_bytes(text: str) -> int:
    match = QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = float(match.group(1)), match.group(2) or ""
    scale = BINARY.get(suffix) or DECIMAL.get(suffix, 1)
    return int(number * scale)


def from_documents(documents: list[Any]) -> StatefulSet:
    found = [d for d in documents if isinstance(d, dict) and d.get("kind") == "StatefulSet"]
    if len(found) != 1:
        raise ValueError(f"expected one StatefulSet, found {len(found)}")
    sts = found[0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    command = tuple(container.get("command", [])) + tuple(container.get("args", []))
    if not command:
        raise ValueError("the container has no command: the simulator has no image entrypoint to fall back on")
    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = tuple(c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", []))
    mounts = {}
    secret_volumes = []
    config_volumes = []
    config_data = {
        d["metadata"]["name"]: {str(k): str(v) for k, v in (d.get("data") or {}).items()}
        for d in documents
        if isinstance(d, dict) and d.get("kind") == "ConfigMap"
    }
    for mount in container.get("volumeMounts", []):
        name = mount["name"]
        volume = volumes.get(name, {})
        if "secret" in volume:
            items = volume["secret"].get("items")
            if not items:
                raise ValueError(f"volume {name}: a secret volume is simulated with its keys listed under items")
            pairs = tuple((str(i["key"]), str(i["path"])) for i in items)
            mode = int(volume["secret"].get("defaultMode", 0o644))  # Kubernetes' default
            secret_volumes.append((name, str(volume["secret"]["secretName"]), pairs, mode))
        elif "configMap" in volume:
            config_volumes.append(config_map_volume(name, volume["configMap"], config_data))
        elif name not in claims and "emptyDir" not in volume:
            raise ValueError(f"volume {name}: only volumeClaimTemplates, emptyDir, secret and configMap are simulated")
        if "subPath" in mount:
            raise ValueError(f"volume {name}: subPath is not simulated; mount the volume's directory")
        mounts[mount["mountPath"]] = name
    limits = container.get("resources", {}).get("limits", {})
    policy = spec.get("podManagementPolicy", "OrderedReady")
    if policy not in ("OrderedReady", "Parallel"):
        raise ValueError(f"podManagementPolicy {policy!r}: expected OrderedReady or Parallel")
    strategy = spec.get("updateStrategy") or {}
    update_type = strategy.get("type", "RollingUpdate")
    if update_type not in ("RollingUpdate", "OnDelete"):
        raise ValueError(f"updateStrategy.type {update_type!r}: expected RollingUpdate or OnDelete")
    if update_type == "OnDelete" and strategy.get("rollingUpdate") is not None:
        raise ValueError("updateStrategy.rollingUpdate is only allowed with type RollingUpdate")
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
    # As the API server validates: a selector by labels, which the pod template's labels match.
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if not selector or set(spec.get("selector") or {}) - {"matchLabels"}:
        raise ValueError("spec.selector: expected matchLabels (and nothing else: matchExpressions are not simulated)")
    labels = (spec["template"].get("metadata") or {}).get("labels") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        raise ValueError(f"spec.template.metadata.labels {labels} do not match spec.selector {selector}")
    if partition < 0:
        raise ValueError(f"updateStrategy.rollingUpdate.partition {partition}: must not be negative")
    return StatefulSet(
        name=sts["metadata"]["name"],
        service=spec["serviceName"],
        replicas=int(spec.get("replicas", 1)),
        policy=policy,
        command=command,
        env=env,
        mounts=mounts,
        claims=claims,
        memory_limit=quantity_bytes(limits["memory"]) if "memory" in limits else None,
        startup=Probe.from_spec(container.get("startupProbe")),
        liveness=Probe.from_spec(container.get("livenessProbe")),
        readiness=Probe.from_spec(container.get("readinessProbe")),
        grace_period=float(pod.get("terminationGracePeriodSeconds", 30)),
        namespace=sts["metadata"].get("namespace", "default"),
        update_strategy=update_type,
        partition=partition,
        secrets=tuple(secret_volumes),
        config_maps=tuple(config_volumes),
        issuers=certificate_issuers(documents),
        image=str(container.get("image", "")),
        security=Security.from_specs(pod.get("securityContext") or {}, container.get("securityContext") or {}),
        selector=tuple(sorted((str(k), str(v)) for k, v in selector.items())),
        claim_templates=json.dumps(spec.get("volumeClaimTemplates", []), sort_keys=True),
    )


def config_map_volume(
    volume: str, source: dict[str, Any], config_data: dict[str, dict[str, str]]
) -> tuple[str, tuple[tuple[str, str], ...], int]:
    """A configMap volume: its files (every key, or those of ``items`` at their paths) and mode."""
    name = str(source["name"])
    if name not in config_data:
        raise ValueError(f"volume {volume}: ConfigMap {name} is not in the manifest")
    data = config_data[name]
    items = source.get("items") or [{"key": key, "path": key} for key in sorted(data)]
    missing = [str(item["key"]) for item in items if item["key"] not in data]
    if missing:
        raise ValueError(f"volume {volume}: ConfigMap {name} has no key {', '.join(missing)}")
    files = tuple((str(item["path"]), data[item["key"]]) for item in items)
    return volume, files, int(source.get("defaultMode", 0o644))


def certificate_issuers(documents: list[Any]) -> tuple[tuple[str, str], ...]:
    """(secretName, issuerRef.name) of each cert-manager Certificate among ``documents``, sorted;
    ValueError for one without them, or two naming one Secret with different issuers."""
    issuers: dict[str, str] = {}
    for document in documents:
        if not isinstance(document, dict) or document.get("kind") != "Certificate":
            continue
        if not str(document.get("apiVersion", "")).startswith("cert-manager.io/"):
            continue
        what = f"Certificate {(document.get('metadata') or {}).get('name')}"
        spec = document.get("spec") or {}
        secret = object_name(what, "spec.secretName", spec.get("secretName"))
        issuer = object_name(what, "spec.issuerRef.name", (spec.get("issuerRef") or {}).get("name"))
        if issuers.setdefault(secret, issuer) != issuer:
            raise ValueError(f"Secret {secret}: named by Certificates of two issuers, {issuers[secret]} and {issuer}")
    return tuple(sorted(issuers.items()))


def object_name(what: str, field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > OBJECT_NAME_MAX or not OBJECT_NAME.fullmatch(value):
        raise ValueError(f"{what}: {field} {value!r}: expected a Kubernetes object name")
    return value


def load_yaml(text: str) -> StatefulSet:
    return from_documents(list(yaml.safe_load_all(text)))


def load_kustomization(directory: Path) -> StatefulSet:
    """``kubectl kustomize DIR``, as ``kubectl apply -k`` would render it."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return load_yaml(rendered)


def load_seed(article: Path) -> StatefulSet:
    """The manifest of a seed article: the ``cat <<END>x.yaml`` ... ``END`` block in it."""
    text = article.read_text()
    match = re.search(r"^cat <<END>\S+\.yaml\n(.*?)^END$", text, re.MULTILINE | re.DOTALL)
    if not match:
        raise ValueError(f"{article}: no cat <<END>...yaml block")
    return load_yaml(match.group(1))
