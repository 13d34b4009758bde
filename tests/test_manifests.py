"""The Kubernetes manifests under manifests/: rendered with ``kubectl kustomize``, validated against
the API schemas of Kubernetes 1.27 to 1.37, and checked against what zkboot needs of them.

The container command of every StatefulSet is turned into the equivalent ``zkboot render`` call for
each of its ordinals (with the pod's hostname and the headless Service's domain, and the container's
environment), so a manifest whose servers setting, ports or paths disagree with its StatefulSet
fails here rather than in a cluster. The probe commands go through zkboot's own option parser.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import VersionNotSupportedError

from tests.helpers import old_start_pairs
from tests.netpol import OUTSIDE, Pod, policies_of, reachable
from zkboot.cli import probe as probe_cli
from zkboot.errors import UsageError
from zkboot.options import ProbeOptions
from zkboot.settings.schema import Settings
from zkboot.settings.values import heap_bytes

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZATIONS = {
    "base": ROOT / "manifests" / "base",
    "nodeport": ROOT / "manifests" / "overlays" / "nodeport",
    "legacy": ROOT / "manifests" / "overlays" / "legacy",
    "secure": ROOT / "manifests" / "overlays" / "secure",
}
# Every Kubernetes release kubernetes-validate has schemas for from 1.27 on.
VERSIONS = tuple(f"1.{minor}.0" for minor in range(27, 38))
EXPECTED_OBJECTS = {
    ("Service", "zk-hs"),
    ("Service", "zk-cs"),
    ("PodDisruptionBudget", "zk-pdb"),
    ("StatefulSet", "zk"),
    ("NetworkPolicy", "zk"),
}
# What an overlay renders besides the base's objects.
EXTRA_OBJECTS: dict[str, set[tuple[str, str]]] = {}
POD_LABELS = {"app.kubernetes.io/name": "zookeeper", "app.kubernetes.io/component": "ensemble"}
POLICY = {"base": "Parallel", "nodeport": "Parallel", "legacy": "OrderedReady", "secure": "Parallel"}
NAMESPACE = "default"
CLUSTER_DOMAIN = "cluster.local"
BIN = Path(sys.executable).parent  # the venv's console scripts
ZKBOOT = BIN / "zkboot"
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
SHELLS = {"sh", "bash", "dash"}
SHELL_SYNTAX = re.compile(r"[;&|`$<>(){}]")

Obj = dict[str, Any]


# --- rendering ------------------------------------------------------------------------------------


def kustomize(path: Path) -> list[Obj]:
    """``kubectl kustomize`` of one directory: the objects it renders."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: these tests render manifests/ with `kubectl kustomize`")
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"kubectl kustomize {path} took more than 60 s")
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize {path} exited {done.returncode}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


@functools.cache
def _kustomize(name: str) -> tuple[Obj, ...]:
    return tuple(kustomize(KUSTOMIZATIONS[name]))


def render(name: str) -> list[Obj]:
    """The objects of one kustomization (a fresh copy: tests may mutate it)."""
    return copy.deepcopy(list(_kustomize(name)))


def only(objs: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def statefulsets(objs: list[Obj]) -> list[Obj]:
    found = [o for o in objs if o["kind"] == "StatefulSet"]
    assert found, "no StatefulSet rendered"
    return found


def pod_spec(sts: Obj) -> Obj:
    return sts["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def container(sts: Obj) -> Obj:
    containers = pod_spec(sts)["containers"]
    assert len(containers) == 1, f"{sts['metadata']['name']}: expected one container, found {len(containers)}"
    return containers[0]  # type: ignore[no-any-return]


def container_env(ctr: Obj) -> dict[str, str]:
    """The container's environment as the process sees it (only literal values are supported)."""
    assert "envFrom" not in ctr, "envFrom: the test cannot know what it injects"
    env: dict[str, str] = {}
    for item in ctr.get("env", []):
        assert "value" in item, f"env {item['name']}: only literal values are supported here, not valueFrom"
        env[item["name"]] = str(item["value"])
    return env


def port_of(ctr: Obj, name: str) -> int:
    ports = [p["containerPort"] for p in ctr.get("ports", []) if p.get("name") == name]
    assert len(ports) == 1, f"container port {name!r}: expected one, found {ports}"
    return ports[0]  # type: ignore[no-any-return]


def major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def quantity_bytes(text: str) -> int:
    match = re.fullmatch(r"([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(text))
    assert match, f"unsupported quantity {text!r}"
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    return int(match.group(1)) * units.get(match.group(2) or "", 1)


# --- commands -------------------------------------------------------------------------------------


def words(command: list[str], *, container: bool) -> list[str]:
    """The program and arguments a command runs, looking through ``sh -c "..."``.

    A container's ``sh -c`` must ``exec`` its program: otherwise sh stays PID 1 and SIGTERM never
    reaches the JVM. Scripts with more than one command, expansions or
    redirections are refused: their effect cannot be reproduced here.
    """
    assert command, "empty command"
    if PurePosixPath(command[0]).name in SHELLS and command[1:2] == ["-c"]:
        assert len(command) == 3, f"{command!r}: sh -c takes exactly one script here"
        tokens = shlex.split(command[2])
        assert tokens, f"{command!r}: empty script"
        check_plain(command, tokens)
        if tokens[0] == "exec":
            return tokens[1:]
        if container:
            raise AssertionError(f"{command!r}: sh -c without exec leaves sh as PID 1; write sh -c 'exec ...'")
        return tokens
    check_plain(command, command)
    return list(command)


def check_plain(command: list[str], tokens: list[str]) -> None:
    for token in tokens:
        assert not SHELL_SYNTAX.search(token), f"{command!r}: {token!r} needs a shell or $(VAR) expansion"


def start_args(ctr: Obj) -> list[str]:
    """The settings the container's command passes to zkboot start / start-zookeeper."""
    assert ctr.get("command"), "no command: the image's default (a standalone server) would run"
    tokens = words([*ctr["command"], *ctr.get("args", [])], container=True)
    program = PurePosixPath(tokens[0]).name
    if program == "zkboot":
        assert tokens[1:2] == ["start"], f"{tokens!r}: expected zkboot start"
        return tokens[2:]
    if program == "start-zookeeper":
        return tokens[1:]
    raise AssertionError(f"{tokens!r}: expected zkboot start or start-zookeeper")


def servers_setting(ctr: Obj) -> int:
    """The servers setting as zkboot resolves it: the last --servers flag, else ZK_REPLICAS, else 1."""
    args = start_args(ctr)
    value = None
    for i, arg in enumerate(args):
        if arg.startswith("--servers="):
            value = arg.partition("=")[2]
        elif arg == "--servers" and i + 1 < len(args):
            value = args[i + 1]
    if value is None:
        value = container_env(ctr).get("ZK_REPLICAS", "").strip() or "1"
    return int(value)


def render_member(
    sts: Obj, ordinal: int, wrapper: Sequence[str] = ()
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the container's command as ``zkboot render`` for pod <sts>-<ordinal> (after ``wrapper``,
    a command that execs the rest, e.g. in namespaces of its own)."""
    ctr = container(sts)
    name, service = sts["metadata"]["name"], sts["spec"]["serviceName"]
    argv = [
        *wrapper,
        str(ZKBOOT),
        "render",
        "--format=json",
        *start_args(ctr),
        f"--hostname={name}-{ordinal}",
        f"--domain={service}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}",
    ]
    env = {"PATH": CLEAN_PATH, **container_env(ctr)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    return done, argv


def writable_volume(sts: Obj, path: str) -> str | None:
    """The volume (emptyDir or claim template) a path lies on, None when on the image's root."""
    spec = pod_spec(sts)
    empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
    best: tuple[int, str] | None = None
    for mount in container(sts).get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") or "/"
        if path == root or path.startswith(root.rstrip("/") + "/"):
            if mount.get("readOnly") or mount["name"] not in empty_dirs | claims:
                continue
            if best is None or len(root) > best[0]:
                best = (len(root), mount["name"])
    return best[1] if best else None


def rendered(sts: Obj, ordinal: int) -> tuple[Obj, dict[str, str], dict[str, str]]:
    """``zkboot render --format=json`` for pod <sts>-<ordinal>, which must succeed: the document,
    the files' contents by path, and zoo.cfg's key/value pairs."""
    done, argv = render_member(sts, ordinal)
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()}"
    out = json.loads(done.stdout)
    files = {f["path"]: f["content"] for f in out["files"]}
    (zoo_cfg,) = (content for path, content in files.items() if path.endswith("/zoo.cfg"))
    cfg = dict(line.split("=", 1) for line in zoo_cfg.splitlines() if line and not line.startswith("#"))
    return out, files, cfg


def check_member(sts: Obj, ordinal: int) -> dict[str, str]:
    """Assert that pod <sts>-<ordinal> would start with a zoo.cfg for the whole StatefulSet."""
    out, files, cfg = rendered(sts, ordinal)
    zoo_cfg = next(content for path, content in files.items() if path.endswith("/zoo.cfg"))

    name, service, replicas = sts["metadata"]["name"], sts["spec"]["serviceName"], sts["spec"]["replicas"]
    ctr = container(sts)
    server, election = port_of(ctr, "server"), port_of(ctr, "leader-election")
    expected = [
        f"server.{j + 1}={name}-{j}.{service}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}:{server}:{election}"
        for j in range(replicas)
    ]
    servers = [line for line in zoo_cfg.splitlines() if line.startswith("server.")]
    if replicas == 1 and "dynamicConfigFile" not in cfg:
        expected = []  # a static ensemble of one is a standalone server: no server lines
    client_port = cfg.get("clientPort")
    if "dynamicConfigFile" in cfg:  # dynamic membership: a first boot's list is in its own file
        dynamic = files[cfg["dynamicConfigFile"]]
        servers = [line.split(":participant;")[0] for line in dynamic.splitlines() if line]
        (client_port,) = {line.rsplit(":", 1)[1] for line in dynamic.splitlines() if line}
    assert servers == expected, f"{name}-{ordinal}: server lines {servers} != {expected}"
    (myid,) = (content for path, content in files.items() if path.endswith("/myid"))
    assert myid.strip() == str(ordinal + 1), f"{name}-{ordinal}: myid {myid.strip()!r}"
    assert out["identity"]["myid"] == ordinal + 1
    assert int(client_port or 0) == port_of(ctr, "client"), "zoo.cfg's client port != the container's client port"

    # Everything zkboot writes, and every dir ZooKeeper writes to, must be on a writable volume:
    # the root filesystem is read-only.
    java_env = next(content for path, content in files.items() if path.endswith("/java.env"))
    log_dir = re.search(r'^ZOO_LOG_DIR="?([^"\n]+)"?$', java_env, re.MULTILINE)
    assert log_dir, "java.env sets no ZOO_LOG_DIR"
    for path in [*files, cfg["dataDir"], cfg["dataLogDir"], log_dir.group(1)]:
        assert writable_volume(sts, path), f"{name}-{ordinal}: {path} is on the read-only root filesystem"
    return cfg


def check_statefulset(sts: Obj) -> None:
    """Every member of the StatefulSet renders; the servers setting equals spec.replicas."""
    replicas = sts["spec"]["replicas"]
    assert servers_setting(container(sts)) == replicas, "the servers setting != spec.replicas"
    for ordinal in range(replicas):
        check_member(sts, ordinal)


# --- probes ---------------------------------------------------------------------------------------


def probe_kind(probe: Obj, env: Mapping[str, str]) -> tuple[str, ProbeOptions]:
    """``live`` or ``ready`` and the probe's options, as zkboot's probe commands would parse them."""
    assert set(probe) & {"exec", "httpGet", "tcpSocket", "grpc"} == {"exec"}, "expected an exec probe"
    command = probe["exec"]["command"]
    tokens = words(command, container=False)
    program = PurePosixPath(tokens[0]).name
    if program == "zkboot":
        assert tokens[1:2] == ["probe"] and tokens[2:3] in (["live"], ["ready"]), f"{command!r}"
        kind, args, positional_port = tokens[2], tokens[3:], False
    elif program == "zookeeper-ready":
        kind, args, positional_port = "live", tokens[1:], True
    elif program == "zkOk.sh":
        kind, args, positional_port = "live", tokens[1:], False
    else:
        raise AssertionError(f"{command!r}: expected zkboot probe live|ready, zookeeper-ready or zkOk.sh")
    assert (BIN / program).is_file(), f"{program} is not one of zkboot's installed commands"
    try:
        options = probe_cli.parse(args, env, positional_port)
    except UsageError as exc:
        raise AssertionError(f"{command!r}: {exc}") from exc
    timeout_seconds = probe.get("timeoutSeconds", 1)
    assert options.timeout < timeout_seconds, (
        f"{command!r}: deadline {options.timeout} s is not below timeoutSeconds {timeout_seconds}"
    )
    return kind, options


def check_probes(sts: Obj) -> None:
    ctr = container(sts)
    env = container_env(ctr)
    policy = sts["spec"].get("podManagementPolicy", "OrderedReady")
    kinds: dict[str, str] = {}
    for field in ("startupProbe", "livenessProbe", "readinessProbe"):
        if field not in ctr:
            continue
        kind, options = probe_kind(ctr[field], env)
        kinds[field] = kind
        assert options.transport == "tcp" and options.host == "127.0.0.1"
        assert options.port == port_of(ctr, "client"), f"{field} asks port {options.port}"
    assert {"livenessProbe", "readinessProbe"} <= set(kinds), "liveness and readiness probes are required"
    # A member without a quorum must not be restarted (restarting them all would make it worse).
    assert kinds["livenessProbe"] == "live", "liveness must not restart a member for lacking a quorum"
    assert kinds.get("startupProbe", "live") == "live", "startup must not wait for a quorum"
    # OrderedReady waits for zk-0 to be Ready before creating zk-1: a lone member never serves, so
    # readiness there must be liveness. With Parallel, readiness is the real thing.
    expected = "ready" if policy == "Parallel" else "live"
    assert kinds["readinessProbe"] == expected, f"{policy}: readiness is {kinds['readinessProbe']}"


# --- service links --------------------------------------------------------------------------------


def service_link_names(service: Obj) -> set[str]:
    """The variables the kubelet injects for a Service when enableServiceLinks is on."""
    if service["spec"].get("clusterIP") in ("None", ""):
        return set()  # headless: no links
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    names = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
    for port in service["spec"].get("ports", []):
        if port.get("name"):
            names.add(f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}")
        link = f"{prefix}_PORT_{port['port']}_{port.get('protocol', 'TCP').upper()}"
        names |= {link, f"{link}_PROTO", f"{link}_PORT", f"{link}_ADDR"}
    return names


# What zkboot reads, and what it hands to ZooKeeper's scripts.
ZKBOOT_VARIABLES = (
    {env for option in Settings.options() for env in option.env}
    | {env for option in ProbeOptions.options() for env in option.env}
    | {"JVMFLAGS", "SERVER_JVMFLAGS", "ZK_SERVER_HEAP", "ZOOCFGDIR", "ZOOCFG", "ZOO_LOG_DIR", "ZOO_LOG4J_PROP"}
)


# The conf dir's emptyDir: in memory, since zkboot writes the key stores and the JAAS file there.
CONF_EMPTY_DIR = {"medium": "Memory", "sizeLimit": "8Mi"}
# Kubernetes' limit on a Secret's data: a key store zkboot writes (a TLS Secret's key and
# certificates) is never larger.
SECRET_MAX_BYTES = 1024 * 1024


# --- tests ----------------------------------------------------------------------------------------

NAMES = tuple(KUSTOMIZATIONS)


@pytest.mark.parametrize("name", NAMES)
def test_renders_the_expected_objects(name: str) -> None:
    """The base's five objects, plus an overlay's own, once each."""
    objs = render(name)
    expected = EXPECTED_OBJECTS | EXTRA_OBJECTS.get(name, set())
    assert len(objs) == len(expected)
    assert {(o["kind"], o["metadata"]["name"]) for o in objs} == expected


def validate_exactly(obj: Obj, version: str) -> None:
    """Strict validation against exactly this release's schemas; any exception is a failure.

    kubernetes-validate compares versions as strings and silently falls back to the newest schemas
    not newer than the one asked (1.3.0 is validated as 1.29): the version it used must be the one
    asked. It raises SchemaNotFoundError for an unknown kind or apiVersion, VersionNotSupportedError
    above its newest release, IndexError below its oldest, ValidationError for the object itself.
    """
    used = kubernetes_validate.validate(obj, version, strict=True)
    assert used == major_minor(version), f"{obj['kind']}: validated against {used}, not {version}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_validates_against_kubernetes_schemas(name: str, version: str) -> None:
    for obj in render(name):
        validate_exactly(obj, version)


def _client_service() -> Obj:
    return only(render("base"), "Service", "zk-cs")


def _nonsense() -> Obj:
    return {"apiVersion": "v1", "kind": "Nonsense", "metadata": {"name": "x"}}


def _v1beta1_pdb() -> Obj:
    pdb = only(render("base"), "PodDisruptionBudget")
    pdb["apiVersion"] = "policy/v1beta1"  # removed in Kubernetes 1.25
    return pdb


def _unknown_field() -> Obj:
    sts = only(render("base"), "StatefulSet")
    container(sts)["readOnlyRootFileSystem"] = True  # misspelt: only strict validation notices
    return sts


def _wrong_type() -> Obj:
    sts = only(render("base"), "StatefulSet")
    sts["spec"]["replicas"] = "3"
    return sts


@pytest.mark.parametrize(
    ("make", "version", "raises", "message"),
    [
        (_nonsense, "1.30.0", kubernetes_validate.SchemaNotFoundError,
         "Couldn't find schema for kind Nonsense with api version v1 for kubernetes version 1.30"),
        (_v1beta1_pdb, "1.27.0", kubernetes_validate.SchemaNotFoundError,
         "Couldn't find schema for kind PodDisruptionBudget with api version policy/v1beta1 "
         "for kubernetes version 1.27"),
        (_unknown_field, "1.30.0", kubernetes_validate.ValidationError,
         "Additional properties are not allowed ('readOnlyRootFileSystem' was unexpected)"),
        (_wrong_type, "1.30.0", kubernetes_validate.ValidationError, "'3' is not of type 'integer', 'null'"),
        (_client_service, "1.38.0", VersionNotSupportedError, "kubernetes-validate does not support version 1.38"),
        (_client_service, "1.24.0", IndexError, "list index out of range"),  # below its oldest schemas
        (_client_service, "1.3.0", AssertionError, "Service: validated against 1.29, not 1.3.0"),
    ],
    ids=["unknown-kind", "policy-v1beta1", "unknown-field", "wrong-type", "too-new", "too-old", "fallback"],
)  # fmt: skip
def test_validation_fails_on_bad_objects(make: Any, version: str, raises: type[Exception], message: str) -> None:
    with pytest.raises(raises) as caught:
        validate_exactly(make(), version)
    # Exactly this failure, for exactly this reason: not any error on the way (a helper that
    # breaks, a renamed object) passing for the one meant. kubernetes-validate's own errors keep
    # their text in .message (str() of them is empty); pytest adds lines below an assert's own.
    assert type(caught.value) is raises
    text = getattr(caught.value, "message", None) or str(caught.value)
    assert text.splitlines()[0] == message


@pytest.mark.parametrize("name", NAMES)
def test_services_and_budget(name: str) -> None:
    objs = render(name)
    sts = only(objs, "StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert labels.items() >= POD_LABELS.items()
    assert sts["spec"]["selector"] == {"matchLabels": POD_LABELS}

    headless = only(objs, "Service", "zk-hs")
    assert sts["spec"]["serviceName"] == "zk-hs"
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    peer_ports = {("server", 2888), ("leader-election", 3888)}
    # The secure overlay: plain 2181 is loopback-only in the pod, so the Services offer TLS's 2281.
    client_ports = [("client-tls", 2281)] if name == "secure" else [("client", 2181)]
    expected_headless = peer_ports | {("client-tls", 2281)} if name == "secure" else peer_ports
    assert {(p["name"], p["port"]) for p in headless["spec"]["ports"]} == expected_headless

    client = only(objs, "Service", "zk-cs")
    assert [(p["name"], p["port"]) for p in client["spec"]["ports"]] == client_ports
    if name == "nodeport":
        assert client["spec"]["type"] == "NodePort"
        assert client["spec"]["ports"][0]["nodePort"] == 32181
    else:
        assert client["spec"].get("type", "ClusterIP") == "ClusterIP"
        assert "nodePort" not in client["spec"]["ports"][0]

    ctr = container(sts)
    for service in (headless, client):
        assert service["spec"]["selector"] == POD_LABELS
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            number = port_of(ctr, target) if isinstance(target, str) else target
            assert number == port["port"], f"{service['metadata']['name']}: {port} -> container port {number}"

    pdb = only(objs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["selector"] == {"matchLabels": POD_LABELS}


@pytest.mark.parametrize("name", NAMES)
def test_statefulset_shape(name: str) -> None:
    sts = only(render(name), "StatefulSet")
    spec, pod = sts["spec"], pod_spec(sts)
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == POLICY[name]
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["enableServiceLinks"] is False

    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"] == {"matchLabels": POD_LABELS}

    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    ctr = container(sts)
    assert ctr["image"] == "zkboot:0.1.0"
    assert ctr["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert {p["name"]: p["containerPort"] for p in ctr["ports"]} == {
        "client": 2181,
        "server": 2888,
        "leader-election": 3888,
        **({"client-tls": 2281} if name == "secure" else {}),
    }
    assert ctr["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}

    # Read-only root: emptyDirs for the conf dir (in memory: key stores and passwords), the log dir
    # and /tmp; the PVC for the data.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in ctr["volumeMounts"]}
    for path, volume, empty_dir in (
        ("/opt/zookeeper/conf", "conf", CONF_EMPTY_DIR), ("/var/log/zookeeper", "logs", {}), ("/tmp", "tmp", {}),
    ):  # fmt: skip
        assert mounts.get(path) == volume, f"{path} is not on the {volume} volume"
        assert volumes[volume] == {"name": volume, "emptyDir": empty_dir}
    assert mounts.get("/var/lib/zookeeper") == "datadir"
    assert "datadir" not in volumes
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "datadir"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


@pytest.mark.parametrize("name", NAMES)
def test_servers_setting_equals_replicas(name: str) -> None:
    for sts in statefulsets(render(name)):
        assert servers_setting(container(sts)) == sts["spec"]["replicas"]


@pytest.mark.parametrize("name", NAMES)
def test_heap_fits_the_memory_limit(name: str) -> None:
    ctr = container(only(render(name), "StatefulSet"))
    limit = quantity_bytes(ctr["resources"]["limits"]["memory"])
    heaps = [a.partition("=")[2] for a in start_args(ctr) if a.startswith("--heap=")]
    heap = heaps[-1] if heaps else container_env(ctr).get("ZK_HEAP_SIZE", "2G")
    if name == "legacy":
        assert heap == "512M"
    else:
        assert heap == "auto", "the base ties the heap to the memory limit"
    if heap != "auto":
        assert heap_bytes(heap) <= limit // 2, f"heap {heap} leaves less than half of {limit} bytes"


@pytest.mark.parametrize("name", NAMES)
def test_conf_in_memory_fits_beside_the_heap(name: str) -> None:
    """The conf emptyDir is tmpfs, charged to the pod's memory limit up to its sizeLimit. That
    holds the most zkboot can write there (the files it renders, and two key stores, each at most a
    Secret's size), and is a small part of what the heap leaves of the limit."""
    sts = only(render(name), "StatefulSet")
    ctr = container(sts)
    limit = quantity_bytes(ctr["resources"]["limits"]["memory"])
    heaps = [a.partition("=")[2] for a in start_args(ctr) if a.startswith("--heap=")]
    heap = heap_bytes(heaps[-1]) if heaps else limit // 2  # ZK_HEAP_SIZE=auto: half the limit
    (conf,) = (v["emptyDir"] for v in pod_spec(sts)["volumes"] if v["name"] == "conf")
    size = quantity_bytes(conf["sizeLimit"])
    _, files, _ = rendered(sts, 0)
    in_conf = {path: text for path, text in files.items() if path.startswith("/opt/zookeeper/conf/")}
    assert in_conf, f"no file rendered in the conf dir: {sorted(files)}"
    other = sum(len(text.encode()) for path, text in in_conf.items() if not path.endswith("-keystore.pem"))
    assert other + 2 * SECRET_MAX_BYTES <= size, f"{other} bytes of files and two key stores > sizeLimit {size}"
    assert size * 16 <= limit - heap, (
        f"sizeLimit {size} is over a sixteenth of the {limit - heap} bytes beside the heap"
    )


@pytest.mark.parametrize("name", NAMES)
def test_command_renders_every_member(name: str) -> None:
    for sts in statefulsets(render(name)):
        check_statefulset(sts)


def test_legacy_zoo_cfg_is_the_contracts() -> None:
    """The legacy overlay's flags (the old StatefulSet's) give the old script's zoo.cfg pairs, for StatefulSet zk."""
    cfg = check_member(only(render("legacy"), "StatefulSet"), 0)
    assert list(cfg.items())[:14] == old_start_pairs("zk")


@pytest.mark.parametrize("name", NAMES)
def test_probes(name: str) -> None:
    for sts in statefulsets(render(name)):
        check_probes(sts)


@pytest.mark.parametrize("name", NAMES)
def test_service_links_are_off_and_would_not_collide(name: str) -> None:
    objs = render(name)
    injected = set().union(*(service_link_names(o) for o in objs if o["kind"] == "Service"))
    assert "ZK_CS_SERVICE_HOST" in injected
    assert not injected & ZKBOOT_VARIABLES
    for sts in statefulsets(objs):
        assert pod_spec(sts)["enableServiceLinks"] is False


# --- the NetworkPolicy, judged by whom it lets in (tests/netpol.py) -------------------------------

NS, OTHER_NS = "zk-ns", "apps"
STRANGER = {"app": "web"}  # a pod of no ensemble
LABELLED = {"zookeeper-client": "true"}  # the secure overlay's client label
# Who reaches each overlay's client port: the members, a stranger and a labelled pod of the
# namespace, a stranger and a labelled pod of another namespace, a source outside the cluster.
CLIENT_REACH = {
    "base": (2181, {"member": True, "stranger": True, "labelled": True, "other-stranger": False,
                    "other-labelled": False, "outside": False}),
    "legacy": (2181, {"member": True, "stranger": True, "labelled": True, "other-stranger": False,
                      "other-labelled": False, "outside": False}),
    # The nodePort's traffic comes from outside the cluster: the plaintext port is open to all
    # (the overlay's warning says so).
    "nodeport": (2181, {"member": True, "stranger": True, "labelled": True, "other-stranger": True,
                        "other-labelled": True, "outside": True}),
    "secure": (2281, {"member": True, "stranger": False, "labelled": True, "other-stranger": False,
                      "other-labelled": False, "outside": False}),
}  # fmt: skip


def sources(member: Pod) -> dict[str, Pod | None]:
    return {
        "member": member,
        "stranger": Pod(STRANGER, NS),
        "labelled": Pod(LABELLED, NS),
        "other-stranger": Pod(STRANGER, OTHER_NS),
        "other-labelled": Pod(LABELLED, OTHER_NS),
        "other-member-labels": Pod(member.labels, OTHER_NS),  # a member's labels in another namespace
        "outside": OUTSIDE,
    }


def member_pod(sts: Obj) -> Pod:
    return Pod(sts["spec"]["template"]["metadata"]["labels"], NS)


@pytest.mark.parametrize("name", NAMES)
def test_network_policy_lets_only_the_members_into_the_quorum_ports(name: str) -> None:
    """2888/3888 (no quorum authentication in the base: a joiner gets the data tree) from the
    members only: not from another pod of the namespace, nor a pod with a member's labels elsewhere."""
    objs = render(name)
    policies, sts = policies_of(objs), only(objs, "StatefulSet")
    member, ctr = member_pod(sts), container(sts)
    for port in (port_of(ctr, "server"), port_of(ctr, "leader-election")):
        for who, source in sources(member).items():
            assert reachable(policies, member, port, source) == (who == "member"), f"{who} -> {port}"


@pytest.mark.parametrize("name", NAMES)
def test_network_policy_client_port(name: str) -> None:
    """The client port from the namespace (the base, legacy), from everywhere (nodeport), from
    labelled clients and the members (secure, whose plain port is for the pod's own probes)."""
    objs = render(name)
    policies, sts = policies_of(objs), only(objs, "StatefulSet")
    member = member_pod(sts)
    port, expected = CLIENT_REACH[name]
    every = sources(member)
    got = {who: reachable(policies, member, port, every[who]) for who in expected}
    assert got == expected
    if name == "secure":
        assert not any(reachable(policies, member, 2181, source) for who, source in every.items() if who != "member")


def test_control_without_the_policy_a_stranger_reaches_the_quorum() -> None:
    """The evaluator can say yes: with no policy (the manifests before it), or with the quorum rule
    open to the namespace, a stranger reaches 2888."""
    objs = render("base")
    member = member_pod(only(objs, "StatefulSet"))
    assert reachable([], member, 2888, Pod(STRANGER, NS))
    (policy,) = policies_of(objs)
    policy["spec"]["ingress"][1]["from"] = [{"podSelector": {}}]
    assert reachable([policy], member, 2888, Pod(STRANGER, NS))
    assert not reachable([policy], member, 2888, Pod(STRANGER, OTHER_NS))


def test_nodeport_overlay_warns() -> None:
    """The plaintext port on every node: the client Service carries the warning (kubectl describe
    shows it) and the kustomization's comment says it."""
    client = only(render("nodeport"), "Service", "zk-cs")
    warning = client["metadata"]["annotations"]["zkboot/warning"]
    assert "plaintext" in warning and "no authentication" in warning and "32181" in warning, warning
    assert "WARNING" in (KUSTOMIZATIONS["nodeport"] / "kustomization.yaml").read_text()
    assert "annotations" not in only(render("base"), "Service", "zk-cs")["metadata"]


# --- the secure overlay: TLS from Secrets, a NetworkPolicy ----------------------------------------

TLS_DIR = "/opt/zookeeper/secrets/tls"
CLIENT_SASL_DIR = "/opt/zookeeper/secrets/client-sasl"
# Members authenticate by mutual TLS alone: no quorum SASL, which 3.9.4+ refuses in FIPS mode.
TLS_ENV = {
    "ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": TLS_DIR, "ZK_QUORUM_TLS": "on",
    "ZK_CLIENT_SASL_DIR": CLIENT_SASL_DIR,
}  # fmt: skip


def secret_volume(name: str, secret: str, keys: tuple[str, ...]) -> dict[str, object]:
    """A Secret volume as the overlay declares it: the keys listed, group-readable (fsGroup 1000)."""
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440,
                                     "items": [{"key": key, "path": key} for key in keys]}}  # fmt: skip


CLIENT_SASL_VOLUME = secret_volume("client-sasl", "zk-client-sasl", ("username", "password"))
CLIENT_SASL_MOUNT = {"name": "client-sasl", "mountPath": CLIENT_SASL_DIR, "readOnly": True}
TLS_VOLUME = secret_volume("tls", "zk-tls", ("tls.crt", "tls.key", "ca.crt"))
TLS_MOUNT = {"name": "tls", "mountPath": TLS_DIR, "readOnly": True}
TLS_PORT = {"name": "client-tls", "containerPort": 2281}
SECRET_VOLUMES = (TLS_VOLUME, CLIENT_SASL_VOLUME)
SECRET_MOUNTS = (TLS_MOUNT, CLIENT_SASL_MOUNT)
CLIENT_TLS_SERVICE_PORT = {"name": "client-tls", "port": 2281, "targetPort": "client-tls"}


def tcp(*ports: int) -> list[Obj]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def test_secure_network_policy() -> None:
    objs = render("secure")
    policy = only(objs, "NetworkPolicy", "zk")
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    members = {"podSelector": {"matchLabels": POD_LABELS}}
    clients = {"podSelector": {"matchLabels": {"zookeeper-client": "true"}}}
    assert policy["spec"] == {
        "podSelector": {"matchLabels": POD_LABELS},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [clients, members], "ports": tcp(2281)},
            {"from": [members], "ports": tcp(2888, 3888)},
        ],
    }
    # It selects the StatefulSet's pods, and its members' peer selects them too (no namespaceSelector:
    # the policy's own namespace).
    sts = only(objs, "StatefulSet")
    assert sts["spec"]["template"]["metadata"]["labels"].items() >= POD_LABELS.items()
    # Every container port is let in except the plain client port (loopback-only); every Service port
    # is let in.
    allowed = {rule["port"] for entry in policy["spec"]["ingress"] for rule in entry["ports"]}
    ctr = container(sts)
    assert allowed == {p["containerPort"] for p in ctr["ports"]} - {port_of(ctr, "client")}
    for service in (o for o in objs if o["kind"] == "Service"):
        assert {p["port"] for p in service["spec"]["ports"]} <= allowed, service["metadata"]["name"]


def test_secure_statefulset_is_the_base_plus_tls() -> None:
    """The env, the Secret volume, its mount and the TLS port added; all else (probes too) the base's."""
    base, secure = only(render("base"), "StatefulSet"), only(render("secure"), "StatefulSet")
    ctr, base_ctr = container(secure), container(base)

    # Kustomize puts a patch's new list items first; their order means nothing here. The base's own
    # items, in their order, are compared below with the whole StatefulSet.
    added = [e for e in ctr["env"] if e["name"] in TLS_ENV]
    assert sorted(added, key=lambda e: e["name"]) == sorted(
        ({"name": k, "value": v} for k, v in TLS_ENV.items()), key=lambda e: e["name"]
    )
    assert container_env(ctr) == {**container_env(base_ctr), **TLS_ENV}

    volumes = pod_spec(secure)["volumes"]
    names = [v["name"] for v in SECRET_VOLUMES]
    assert [v for v in volumes if v["name"] in names] == list(SECRET_VOLUMES)
    assert [m for m in ctr["volumeMounts"] if m["name"] in names] == list(SECRET_MOUNTS)
    assert [p for p in ctr["ports"] if p["containerPort"] == 2281] == [TLS_PORT]

    ctr["env"] = [e for e in ctr["env"] if e["name"] not in TLS_ENV]
    for mount in SECRET_MOUNTS:
        ctr["volumeMounts"].remove(mount)
    ctr["ports"].remove(TLS_PORT)
    for volume in SECRET_VOLUMES:
        volumes.remove(volume)
    assert secure == base


def test_secure_services_ports() -> None:
    base, secure = render("base"), render("secure")
    client, base_client = only(secure, "Service", "zk-cs"), only(base, "Service", "zk-cs")
    assert client["spec"]["ports"] == [CLIENT_TLS_SERVICE_PORT]
    base_client["spec"]["ports"] = [CLIENT_TLS_SERVICE_PORT]
    assert client == base_client

    headless, base_headless = only(secure, "Service", "zk-hs"), only(base, "Service", "zk-hs")
    assert [p for p in headless["spec"]["ports"] if p["port"] == 2281] == [CLIENT_TLS_SERVICE_PORT]
    headless["spec"]["ports"].remove(CLIENT_TLS_SERVICE_PORT)
    assert headless == base_headless  # the peer ports, and all else, the base's


def check_secure_member(sts: Obj, ordinal: int) -> dict[str, str]:
    """Pod <sts>-<ordinal>'s zoo.cfg serves TLS on the client-tls port and between members, with the
    plain port on 127.0.0.1 only; the Secret's files are not here, so render warns and masks."""
    out, files, cfg = rendered(sts, ordinal)
    ctr = container(sts)
    assert cfg.get("secureClientPort") == str(port_of(ctr, "client-tls"))
    assert cfg.get("sslQuorum") == "true"
    assert "clientPortAddress" not in cfg  # dynamic membership: the address is in the dynamic file
    assert cfg.get("ssl.trustStore.location") == f"{TLS_DIR}/ca.crt"
    assert cfg.get("ssl.quorum.trustStore.location") == f"{TLS_DIR}/ca.crt"
    lines = [line for line in files[cfg["dynamicConfigFile"]].splitlines() if line]
    assert len(lines) == sts["spec"]["replicas"]
    plain = f";127.0.0.1:{port_of(ctr, 'client')}"
    assert all(line.endswith(plain) for line in lines), f"dynamic file lines {lines} do not end in {plain}"
    assert any(w.startswith(f"ZK_TLS_DIR={TLS_DIR}: ") for w in out["warnings"]), out["warnings"]
    # No quorum SASL: no quorum.auth.* key, and the JAAS file holds the clients' account only.
    assert not [key for key in cfg if key.startswith("quorum.auth.")], cfg
    jaas = files[str(Path(cfg["ssl.keyStore.location"]).parent / "jaas.conf")]
    assert "Quorum" not in jaas and jaas.count("user_<unread>=<masked>;") == 1, jaas
    assert cfg.get("sessionRequireClientSASLAuth") == "true"
    assert any(w.startswith(f"ZK_CLIENT_SASL_DIR={CLIENT_SASL_DIR}: ") for w in out["warnings"]), out["warnings"]
    assert "fips-mode" not in json.dumps(out["jvmflags"]), "the overlay leaves FIPS mode at ZooKeeper's default"
    return cfg


def test_secure_zoo_cfg_for_zk_1() -> None:
    sts = only(render("secure"), "StatefulSet")
    check_member(sts, 1)
    check_secure_member(sts, 1)


QUORUM_TLS_DIR = "/opt/zookeeper/secrets/quorum-tls"


def test_secure_quorum_ca_component(tmp_path: Path) -> None:
    """overlays/secure/quorum-ca, as its comment says to use it: the quorum's stores from
    zk-quorum-tls (its own CA), the client port's still from zk-tls; all else the secure overlay's."""
    secure = KUSTOMIZATIONS["secure"]
    rel = Path(*[".."] * len(tmp_path.parts[1:])) / secure.relative_to("/")  # kustomize takes no absolute path
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [str(rel)], "components": [str(rel / "quorum-ca")]})
    )
    objs, plain = kustomize(tmp_path), render("secure")
    sts = only(objs, "StatefulSet")
    ctr = container(sts)
    assert container_env(ctr) == {
        **container_env(container(only(plain, "StatefulSet"))),
        "ZK_QUORUM_TLS_DIR": QUORUM_TLS_DIR,
    }
    assert secret_volume("quorum-tls", "zk-quorum-tls", ("tls.crt", "tls.key", "ca.crt")) in pod_spec(sts)["volumes"]
    assert {"name": "quorum-tls", "mountPath": QUORUM_TLS_DIR, "readOnly": True} in ctr["volumeMounts"]
    check_member(sts, 1)
    _, _, cfg = rendered(sts, 1)
    assert cfg["ssl.quorum.trustStore.location"] == f"{QUORUM_TLS_DIR}/ca.crt"
    assert cfg["ssl.trustStore.location"] == f"{TLS_DIR}/ca.crt"
    assert [o for o in objs if o["kind"] != "StatefulSet"] == [o for o in plain if o["kind"] != "StatefulSet"]


# --- negative controls: the checks above can fail -------------------------------------------------


def test_control_service_named_zk_client_would_set_zk_client_port() -> None:
    service = {"metadata": {"name": "zk-client"}, "spec": {"ports": [{"name": "client", "port": 2181}]}}
    assert service_link_names(service) & ZKBOOT_VARIABLES == {"ZK_CLIENT_PORT"}


def test_control_servers_flag_disagreeing_with_replicas() -> None:
    sts = only(render("legacy"), "StatefulSet")
    ctr = container(sts)
    ctr["command"] = ["--servers=2" if a == "--servers=3" else a for a in ctr["command"]]
    with pytest.raises(AssertionError, match="servers setting"):
        check_statefulset(sts)
    with pytest.raises(AssertionError, match="server lines"):
        check_member(sts, 0)


def test_control_zk_replicas_disagreeing_with_replicas() -> None:
    sts = only(render("base"), "StatefulSet")
    (replicas,) = (e for e in container(sts)["env"] if e["name"] == "ZK_REPLICAS")
    replicas["value"] = "2"
    with pytest.raises(AssertionError, match="servers setting"):
        check_statefulset(sts)
    with pytest.raises(AssertionError, match="server lines"):
        check_member(sts, 1)


def test_control_ordinal_beyond_the_ensemble() -> None:
    # Static membership (the legacy overlay): pod 3 of 3 servers.  With dynamic membership (the
    # base) it is a new member that joins by reconfiguration.
    sts = only(render("legacy"), "StatefulSet")
    with pytest.raises(AssertionError, match="exited 2"):
        check_member(sts, 3)


def test_control_data_dir_on_the_read_only_root() -> None:
    sts = only(render("legacy"), "StatefulSet")
    ctr = container(sts)
    ctr["command"] = ["--data_log_dir=/srv/zk/log" if a.startswith("--data_log_dir=") else a for a in ctr["command"]]
    with pytest.raises(AssertionError, match="read-only root"):
        check_member(sts, 0)


def test_shell_forms_of_the_legacy_command() -> None:
    sts = only(render("legacy"), "StatefulSet")
    ctr = container(sts)
    line = shlex.join(ctr["command"])
    ctr["command"] = ["sh", "-c", f"exec {line}"]
    check_statefulset(sts)  # the old manifests' form, with exec, passes
    ctr["command"] = ["sh", "-c", line]
    with pytest.raises(AssertionError, match="PID 1"):
        check_statefulset(sts)
    ctr["command"] = ["sh", "-c", f"zkGenConfig.sh && exec {line}"]
    with pytest.raises(AssertionError, match="needs a shell"):
        check_statefulset(sts)


@pytest.mark.parametrize(
    ("field", "command", "message"),
    [
        ("livenessProbe", ["zkboot", "probe", "live", "--timeout", "1"], "not below timeoutSeconds"),
        ("livenessProbe", ["zkboot", "probe", "ready"], "lacking a quorum"),
        ("readinessProbe", ["zookeeper-ready", "2181"], "Parallel"),
        ("readinessProbe", ["zkboot", "probe", "ready", "--port", "2182"], "port 2182"),
        ("readinessProbe", ["zkboot", "probe", "ready", "--bogus"], "unknown option"),
        ("livenessProbe", ["sh", "-c", "echo ruok | nc 127.0.0.1 2181"], "needs a shell"),
        ("livenessProbe", ["zkCli.sh", "ls", "/"], "expected zkboot probe"),
    ],
)
def test_control_bad_probes(field: str, command: list[str], message: str) -> None:
    sts = only(render("base"), "StatefulSet")
    container(sts)[field]["exec"]["command"] = command
    with pytest.raises(AssertionError, match=message):
        check_probes(sts)


def test_control_probe_timeout_from_the_environment() -> None:
    sts = only(render("base"), "StatefulSet")
    container(sts)["env"].append({"name": "ZK_PROBE_TIMEOUT", "value": "1.5"})
    with pytest.raises(AssertionError, match="not below timeoutSeconds"):
        check_probes(sts)


def test_control_ready_probe_under_ordered_ready() -> None:
    sts = only(render("base"), "StatefulSet")
    sts["spec"]["podManagementPolicy"] = "OrderedReady"
    with pytest.raises(AssertionError, match="OrderedReady"):
        check_probes(sts)


def test_control_secure_port_without_tls_dir() -> None:
    sts = only(render("secure"), "StatefulSet")
    ctr = container(sts)
    ctr["env"] = [e for e in ctr["env"] if e["name"] != "ZK_TLS_DIR"]
    with pytest.raises(AssertionError, match="exited 2"):
        check_secure_member(sts, 1)


def test_control_secure_member_without_a_secure_port() -> None:
    # Without a secure client port the plain port listens on every address again.
    sts = only(render("secure"), "StatefulSet")
    ctr = container(sts)
    ctr["env"] = [e for e in ctr["env"] if e["name"] != "ZK_SECURE_CLIENT_PORT"]
    with pytest.raises(AssertionError, match="secureClientPort"):
        check_secure_member(sts, 1)
    ctr["env"].append({"name": "ZK_SECURE_CLIENT_PORT", "value": "2281"})
    ctr["env"].append({"name": "ZK_PLAIN_CLIENT_PORT", "value": "all"})
    with pytest.raises(AssertionError, match=r"do not end in ;127\.0\.0\.1:2181"):
        check_secure_member(sts, 1)
