"""The Helm chart (manifests/helm/zookeeper) with helm 4.1 and helm 3.17: lint, the objects each
case renders (tests/helm.py), their validity for Kubernetes 1.27-1.37, what zkboot makes of every
member (the same checks as manifests/'s, tests/test_manifests.py), the old charts' values taking
effect, and unknown keys, wrong types and retired features refused with a message.

The StatefulSets booting for real is tests/e2e/test_helm.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from podsim.manifest import quantity_bytes
from tests.helm import (
    BITNAMI_13_8_8_KEYS,
    CASES,
    CHART,
    HELMS,
    RELEASE,
    TWO_SERVERS,
    Obj,
    nested,
    objects,
    run,
    template,
    template_text,
    values_file,
)
from tests.netpol import OUTSIDE, Pod, policies_of, reachable
from tests.test_manifests import (
    VERSIONS,
    ZKBOOT_VARIABLES,
    check_probes,
    check_statefulset,
    container,
    container_env,
    only,
    pod_spec,
    port_of,
    render,
    render_member,
    rendered,
    service_link_names,
    validate_exactly,
)
from zkboot.options import ProbeOptions
from zkboot.settings.schema import Settings

FULLNAME = f"{RELEASE}-zookeeper"
HEADLESS = f"{FULLNAME}-headless"
SELECTOR = {
    "app.kubernetes.io/name": "zookeeper",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "zookeeper",
}
NAMES = tuple(CASES)
BASE_OBJECTS = {
    ("StatefulSet", FULLNAME),
    ("Service", FULLNAME),
    ("Service", HEADLESS),
    ("PodDisruptionBudget", FULLNAME),
    ("Secret", f"{FULLNAME}-super"),
    ("Pod", f"{FULLNAME}-test-status"),
    ("NetworkPolicy", FULLNAME),
}
EXTRA_OBJECTS = {
    "bitnami": {("ServiceAccount", FULLNAME)},
    "bitnami-13.8.8": {("ServiceAccount", FULLNAME)},
}

# Bitnami's whole values file: static membership (its ensembles are), so no super user's Secret.
ABSENT_OBJECTS = {"bitnami-13.8.8": {("Secret", f"{FULLNAME}-super")}}


def statefulset(case: str) -> Obj:
    return only(template(case), "StatefulSet")


def env_of(case: str) -> dict[str, str]:
    return container_env(container(statefulset(case)))


def without_random(objs: list[Obj]) -> list[Obj]:
    """The objects with the super password (random at each render) blanked."""
    for obj in objs:
        if obj["kind"] == "Secret":
            obj["data"] = {key: "" for key in obj["data"]}
    return objs


def fails(helm: str, *args: str) -> str:
    """``helm template`` with these arguments must fail; its stderr."""
    done = run(helm, "template", RELEASE, str(CHART), *args)
    assert done.returncode != 0, f"{helm} template {' '.join(args)} succeeded"
    return done.stderr


# --- the chart as helm sees it ---------------------------------------------------------------------


@pytest.mark.parametrize("helm", HELMS)
def test_lint_strict(helm: str) -> None:
    done = run(helm, "lint", "--strict", str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("helm", HELMS)
def test_reports_its_versions(helm: str) -> None:
    """The helm binaries are the pinned 4.x and 3.x (a test of both is no test if they are one)."""
    done = run(helm, "version", "--short")
    assert done.stdout.startswith({"helm": "v4.", "helm3": "v3."}[helm]), done.stdout


@pytest.mark.parametrize("case", NAMES)
def test_renders_the_expected_objects(case: str) -> None:
    objs = template(case)
    expected = (BASE_OBJECTS | EXTRA_OBJECTS.get(case, set())) - ABSENT_OBJECTS.get(case, set())
    assert [(o["kind"], o["metadata"]["name"]) for o in objs if (o["kind"], o["metadata"]["name"]) in expected]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objs) == sorted(expected)


@pytest.mark.parametrize("case", NAMES)
def test_helm_3_and_4_render_the_same(case: str) -> None:
    assert without_random(template(case, "helm3")) == without_random(template(case, "helm"))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", NAMES)
def test_validates_against_kubernetes_schemas(case: str, version: str) -> None:
    for obj in template(case):
        validate_exactly(obj, version)


# --- what zkboot makes of it -----------------------------------------------------------------------


@pytest.mark.parametrize("case", NAMES)
def test_every_member_renders_with_the_whole_ensemble(case: str) -> None:
    """zkboot render for each pod: server lines for every member, myid from the ordinal, the client
    port the container's, every path on a writable volume (tests/test_manifests.py's checks)."""
    check_statefulset(statefulset(case))


@pytest.mark.parametrize("case", NAMES)
def test_probes_are_zkboots(case: str) -> None:
    check_probes(statefulset(case))


@pytest.mark.parametrize("case", NAMES)
def test_names_are_the_incubator_charts(case: str) -> None:
    """<release>-zookeeper, its -headless Service and pods <release>-zookeeper-<i>: what the old
    charts' users connect to; each Service selects the pods and targets the container's ports."""
    objs = template(case)
    sts = only(objs, "StatefulSet")
    assert sts["metadata"]["name"] == FULLNAME
    assert sts["spec"]["serviceName"] == HEADLESS
    assert sts["spec"]["selector"] == {"matchLabels": SELECTOR}
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert labels.items() >= {**SELECTOR, "app": "zookeeper", "release": RELEASE}.items()
    ctr = container(sts)
    for name in (FULLNAME, HEADLESS):
        service = only(objs, "Service", name)
        assert service["spec"]["selector"] == SELECTOR
        for port in service["spec"]["ports"]:
            assert port_of(ctr, port["targetPort"]) == port["port"] or name == FULLNAME
    headless = only(objs, "Service", HEADLESS)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    test_pod = only(objs, "Pod")
    assert test_pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"  # not one of the Services'
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["containers"][0]["command"] == [
        "zkboot",
        "status",
        f"--hostname={FULLNAME}-0.{HEADLESS}.default.svc.cluster.local",
    ]


@pytest.mark.parametrize("case", NAMES)
def test_service_links_would_not_collide(case: str) -> None:
    objs = template(case)
    injected = set().union(*(service_link_names(o) for o in objs if o["kind"] == "Service"))
    assert "MYZK_ZOOKEEPER_SERVICE_HOST" in injected
    assert not injected & ZKBOOT_VARIABLES


def test_defaults_are_the_base_manifests() -> None:
    """The chart's defaults render manifests/base's StatefulSet, field by field, apart from the
    names and labels (the chart's are the incubator chart's) and the Secret the chart makes."""
    chart, base = statefulset("defaults"), only(render("base"), "StatefulSet")
    for field in ("replicas", "podManagementPolicy", "updateStrategy"):
        assert chart["spec"][field] == base["spec"][field], field
    for field in ("enableServiceLinks", "automountServiceAccountToken", "terminationGracePeriodSeconds",
                  "securityContext"):  # fmt: skip
        assert pod_spec(chart)[field] == pod_spec(base)[field], field
    ctr, base_ctr = container(chart), container(base)
    for field in ("image", "imagePullPolicy", "command", "resources", "securityContext", "ports"):
        assert ctr[field] == base_ctr[field], field
    for field in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert {k: v for k, v in ctr[field].items() if k != "initialDelaySeconds"} == base_ctr[field], field
    assert container_env(ctr).items() >= container_env(base_ctr).items()
    (term,) = pod_spec(chart)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {"labelSelector": {"matchLabels": SELECTOR}, "topologyKey": "kubernetes.io/hostname"}
    # The claim is Bitnami's (tests/test_helm_bitnami.py), the base's the incubator chart's.
    ((claim,), (base_claim,)) = chart["spec"]["volumeClaimTemplates"], base["spec"]["volumeClaimTemplates"]
    assert (claim["metadata"]["name"], base_claim["metadata"]["name"]) == ("data", "datadir")
    assert claim["spec"]["accessModes"] == base_claim["spec"]["accessModes"]
    pdb = only(template("defaults"), "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": SELECTOR}}
    secret = only(template("defaults"), "Secret")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(base64.b64decode(secret["data"]["password"])) == 32
    # The conf dir in memory, as the base's.
    conf = [v for v in pod_spec(chart)["volumes"] if v["name"] == "conf"]
    assert (
        conf
        == [v for v in pod_spec(base)["volumes"] if v["name"] == "conf"]
        == [{"name": "conf", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}]
    )


# --- the values users bring ------------------------------------------------------------------------


def test_two_servers_and_a_warning() -> None:
    """A Helm install with ``--set resources.requests.memory=200Mi,servers=2``:
    two members, the memory request it gives; NOTES warns that two tolerate no
    failure, and tells to scale with the key the user used (servers).  (NOTES with helm 4 only:
    helm 3's client-only install still dials a cluster.)"""
    sts = only(template("two-servers"), "StatefulSet")
    ctr = container(sts)
    assert sts["spec"]["replicas"] == 2 and container_env(ctr)["ZK_REPLICAS"] == "2"
    assert ctr["resources"]["requests"]["memory"] == "200Mi"
    done = run("helm", "install", "--dry-run=client", RELEASE, str(CHART), *TWO_SERVERS)
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert notes.count("WARNING: 2 members tolerate no failure") == 1
    assert "--set servers=N" in notes and "replicaCount=N" not in notes
    three = run("helm", "install", "--dry-run=client", RELEASE, str(CHART))
    assert "WARNING" not in three.stdout.split("NOTES:", 1)[1]


def test_incubator_0x_values_take_effect() -> None:
    """Every parameter of the incubator chart's (0.x-1.x) table lands where it means something."""
    objs = template("incubator-0.x")
    sts = only(objs, "StatefulSet")
    ctr, pod = container(sts), pod_spec(sts)
    env = container_env(ctr)
    assert sts["spec"]["replicas"] == 3
    assert {
        k: env[k]
        for k in (
            "ZK_HEAP_SIZE",
            "ZK_TICK_TIME",
            "ZK_INIT_LIMIT",
            "ZK_SYNC_LIMIT",
            "ZK_MAX_CLIENT_CNXNS",
            "ZK_SNAP_RETAIN_COUNT",
            "ZK_PURGE_INTERVAL",
            "ZK_LOG_LEVEL",
            "ZK_CLIENT_PORT",
            "ZK_SERVER_PORT",
            "ZK_ELECTION_PORT",
        )
    } == {
        "ZK_HEAP_SIZE": "1G",
        "ZK_TICK_TIME": "2000",
        "ZK_INIT_LIMIT": "10",
        "ZK_SYNC_LIMIT": "5",
        "ZK_MAX_CLIENT_CNXNS": "60",
        "ZK_SNAP_RETAIN_COUNT": "3",
        "ZK_PURGE_INTERVAL": "1",
        "ZK_LOG_LEVEL": "INFO",
        "ZK_CLIENT_PORT": "2181",
        "ZK_SERVER_PORT": "2888",
        "ZK_ELECTION_PORT": "3888",
    }
    assert only(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in only(objs, "PodDisruptionBudget")["spec"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "datadir"  # the old chart's: its parameters name it
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "standard"
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert ctr["imagePullPolicy"] == "Always"
    for field in ("livenessProbe", "readinessProbe"):
        assert (ctr[field]["initialDelaySeconds"], ctr[field]["timeoutSeconds"]) == (15, 5)
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (1000, 1000)
    assert ctr["resources"]["requests"] == {"cpu": "500m", "memory": "2Gi"}


def test_incubator_2x_values_take_effect() -> None:
    objs = template("incubator-2.x")
    sts = only(objs, "StatefulSet")
    ctr, pod = container(sts), pod_spec(sts)
    env = container_env(ctr)
    # The official image's ZOO_* variables become zkboot's; ZK_* ones are zkboot's own; JMX* are
    # zkServer.sh's, passed as they are.
    assert (env["ZK_INIT_LIMIT"], env["ZK_SYNC_LIMIT"], env["ZK_TICK_TIME"], env["ZK_CLIENT_PORT"]) == (
        "5",
        "10",
        "2000",
        "2181",
    )
    assert (env["ZK_PURGE_INTERVAL"], env["ZK_SNAP_RETAIN_COUNT"], env["JMXDISABLE"]) == ("0", "3", "true")
    assert not {name for name in env if name.startswith("ZOO_")}
    assert "ZK_CFG_EXTRA" not in env  # ZK_QUORUM_LISTEN_ALL_IP: false
    assert pod["terminationGracePeriodSeconds"] == 1800
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "zookeeper", "effect": "NoSchedule"}
    ]
    assert sts["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    assert sts["spec"]["template"]["metadata"]["annotations"] == {"example.org/scrape": "false"}
    assert only(objs, "Service", HEADLESS)["metadata"]["annotations"] == {"example.org/owner": "platform"}
    assert only(objs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert (
        claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    )
    assert only(objs, "Service", FULLNAME)["spec"]["ports"] == [
        {"name": "tcp-client", "port": 2181, "targetPort": "client"}
    ]


def test_bitnami_values_take_effect_and_reuse_its_volumes() -> None:
    objs = template("bitnami")
    sts = only(objs, "StatefulSet")
    ctr, pod = container(sts), pod_spec(sts)
    env = container_env(ctr)
    assert env["ZK_HEAP_SIZE"] == "512M"  # heapSize is in MB
    # Bitnami's data dir; its log there too, which zkboot finds at start (tests/test_txnlog.py).
    assert (env["ZK_DATA_DIR"], env["ZK_DATA_LOG_DIR"]) == ("/bitnami/zookeeper/data", "/bitnami/zookeeper/log")
    assert env["ZK_CFG_EXTRA"] == "preAllocSize=65536;snapCount=100000"
    assert (env["ZK_4LW_WHITELIST"], env["ZK_LOG_LEVEL"], env["ZK_MAX_SESSION_TIMEOUT"]) == (
        "srvr,mntr,ruok",
        "ERROR",
        "40000",
    )
    assert (env["ZK_SNAP_RETAIN_COUNT"], env["ZK_PURGE_INTERVAL"], env["ZK_MYID_OFFSET"]) == ("10", "1", "1")
    # The PVCs data-myzk-zookeeper-<i> of a Bitnami release, at its mount path, with its uid.
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert {"name": "data", "mountPath": "/bitnami/zookeeper"} in ctr["volumeMounts"]
    assert (pod["securityContext"]["fsGroup"], ctr["securityContext"]["runAsUser"]) == (1001, 1001)
    assert ctr["livenessProbe"]["exec"]["command"] == ["zkboot", "probe", "live", "--timeout=3"]
    assert ctr["readinessProbe"]["exec"]["command"] == ["zkboot", "probe", "ready", "--timeout=2"]
    assert "probeCommandTimeout" not in ctr["livenessProbe"]
    preferred = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["labelSelector"] == {"matchLabels": SELECTOR}
    assert pod["serviceAccountName"] == FULLNAME
    policy = only(objs, "NetworkPolicy")
    assert policy["spec"]["ingress"][0] == {"ports": [{"protocol": "TCP", "port": 2181}]}  # allowExternal


def test_secure_values() -> None:
    objs = template("secure")
    sts = only(objs, "StatefulSet")
    ctr, pod = container(sts), pod_spec(sts)
    env = container_env(ctr)
    assert {
        k: env[k]
        for k in (
            "ZK_SECURE_CLIENT_PORT",
            "ZK_TLS_DIR",
            "ZK_QUORUM_TLS",
            "ZK_QUORUM_SASL_DIR",
            "ZK_CLIENT_SASL_DIR",
            "ZK_TLS_CLIENT_AUTH",
            "ZK_FIPS_MODE",
        )
    } == {
        "ZK_SECURE_CLIENT_PORT": "2281",
        "ZK_TLS_DIR": "/opt/zookeeper/secrets/tls",
        "ZK_QUORUM_TLS": "on",
        "ZK_QUORUM_SASL_DIR": "/opt/zookeeper/secrets/quorum-sasl",
        "ZK_CLIENT_SASL_DIR": "/opt/zookeeper/secrets/client-sasl",
        "ZK_TLS_CLIENT_AUTH": "need",
        "ZK_FIPS_MODE": "off",
    }
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert {
        name: (s["secretName"], [i["key"] for i in s["items"]], s["defaultMode"]) for name, s in volumes.items()
    } == {
        "super": (f"{FULLNAME}-super", ["password"], 0o440),
        "tls": ("zk-tls", ["tls.crt", "tls.key", "ca.crt"], 0o440),
        "quorum-sasl": ("zk-quorum-sasl", ["username", "password"], 0o440),
        "client-sasl": ("zk-client-sasl", ["username", "password"], 0o440),
    }
    assert only(objs, "Service", FULLNAME)["spec"]["ports"] == [
        {"name": "tcp-client-tls", "port": 2281, "targetPort": "client-tls"}
    ]
    client_rule = only(objs, "NetworkPolicy")["spec"]["ingress"][0]
    assert client_rule["ports"] == [{"protocol": "TCP", "port": 2281}]
    assert {"podSelector": {"matchLabels": {f"{FULLNAME}-client": "true"}}} in client_rule["from"]
    # The test pod sees the ensemble as a member does: the same Secrets, but the super user's, which
    # zkboot status never reads.
    test_pod = only(objs, "Pod")
    assert {m["name"] for m in test_pod["spec"]["containers"][0]["volumeMounts"]} == set(volumes) - {"super"}
    assert {v["name"] for v in test_pod["spec"]["volumes"]} == set(volumes) - {"super"}


# --- trusting no peer: the NetworkPolicy, JMX, the test pod, the super Secret ---------------------

NS, OTHER_NS = "zk-ns", "apps"
STRANGER = {"app": "web"}  # a pod of no ensemble
CLIENT_LABEL = {f"{FULLNAME}-client": "true"}


def objects_with(*args: str) -> list[Obj]:
    done = run("helm", "template", RELEASE, str(CHART), *args)
    assert done.returncode == 0, done.stderr
    return objects(done.stdout)


def sources(objs: list[Obj]) -> dict[str, Pod | None]:
    """Who may knock: a member, the helm test pod, a stranger and a labelled client of the
    namespace, the same elsewhere (also in a namespace labelled team=apps, and a pod there with a
    member's labels), a source outside the cluster."""
    member = Pod(only(objs, "StatefulSet")["spec"]["template"]["metadata"]["labels"], NS)
    return {
        "member": member,
        "test-pod": Pod(only(objs, "Pod")["metadata"]["labels"], NS),
        "stranger": Pod(STRANGER, NS),
        "labelled": Pod(CLIENT_LABEL, NS),
        "other-stranger": Pod(STRANGER, OTHER_NS),
        "other-labelled": Pod(CLIENT_LABEL, OTHER_NS),
        "team-stranger": Pod(STRANGER, OTHER_NS, {"team": "apps"}),
        "team-member-labels": Pod(member.labels, OTHER_NS, {"team": "apps"}),
        "outside": OUTSIDE,
    }


def reach(objs: list[Obj], port: int) -> dict[str, bool]:
    every = sources(objs)
    member = every["member"]
    assert member is not None
    return {who: reachable(policies_of(objs), member, port, source) for who, source in every.items()}


@pytest.mark.parametrize("case", NAMES)
def test_network_policy_keeps_the_quorum_ports_to_the_members(case: str) -> None:
    """On by default (and in every case): 2888/3888 from the members only, not from a pod of the
    namespace, a labelled client, a pod with a member's labels in another namespace, or outside."""
    objs = template(case)
    assert len(policies_of(objs)) == 1
    for port in (2888, 3888):
        assert reach(objs, port) == {who: who == "member" for who in sources(objs)}, port


ALL = ("member", "test-pod", "stranger", "labelled", "other-stranger", "other-labelled", "team-stranger",
       "team-member-labels", "outside")  # fmt: skip
NAMESPACE_ONLY = ("member", "test-pod", "stranger", "labelled")
LABELLED_ONLY = ("member", "test-pod", "labelled")


@pytest.mark.parametrize(
    ("args", "port", "allowed"),
    [
        ((), 2181, NAMESPACE_ONLY),
        (("--set", "networkPolicy.clients=labelled"), 2181, LABELLED_ONLY),
        (("--set", "networkPolicy.allowExternal=false"), 2181, LABELLED_ONLY),  # Bitnami's key
        (("--set", "networkPolicy.clients=any"), 2181, ALL),
        (("--set", "networkPolicy.allowExternal=true"), 2181, ALL),
        (("--set", "networkPolicy.clients=labelled,networkPolicy.ingressNSMatchLabels.team=apps"), 2181,
         (*LABELLED_ONLY, "team-stranger", "team-member-labels")),
        (("--set", "networkPolicy.ingressNSMatchLabels.team=apps"), 2181,
         (*NAMESPACE_ONLY, "team-stranger", "team-member-labels")),
        (("--set", "networkPolicy.clients=labelled,tls.client.enabled=true,tls.client.existingSecret=zk-tls"), 2281,
         LABELLED_ONLY),
    ],
)  # fmt: skip
def test_network_policy_client_port(args: tuple[str, ...], port: int, allowed: tuple[str, ...]) -> None:
    """The client port from the namespace by default, from labelled clients when asked (the helm test
    pod carries the label), from the namespaces ingressNSMatchLabels selects, or from everywhere."""
    objs = objects_with(*args)
    assert reach(objs, port) == {who: who in allowed for who in ALL}
    assert reach(objs, 2888) == {who: who == "member" for who in ALL}


def test_network_policy_lets_prometheus_scrape_from_any_namespace() -> None:
    objs = objects_with("--set", "metrics.enabled=true")
    assert reach(objs, 9141) == {who: who != "outside" for who in ALL}
    assert reach(objs, 2888) == {who: who == "member" for who in ALL}


def test_control_without_the_policy_a_stranger_reaches_the_quorum() -> None:
    """What the chart did before: no NetworkPolicy, and every source reaches 2888."""
    objs = objects_with("--set", "networkPolicy.enabled=false")
    assert policies_of(objs) == []
    assert reach(objs, 2888) == dict.fromkeys(ALL, True)


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize(
    ("args", "given"),
    [
        (("--set", "env.JMXPORT=9010"), "env.JMXPORT=9010"),
        (("--set", "env.JMXPORT=9010,env.JMXAUTH=false"), "env.JMXPORT=9010"),
        (("--set", "env.JMXPORT=9010,env.JMXDISABLE=false"), "env.JMXPORT=9010"),
        (("--set", "extraEnvVars[0].name=JMXPORT,extraEnvVars[0].value=9010"), "extraEnvVars JMXPORT=9010"),
    ],
)
def test_jmxport_without_authentication_is_refused(helm: str, args: tuple[str, ...], given: str) -> None:
    """zkServer.sh opens remote JMX on JMXPORT with JMXAUTH false by default: refused, one line."""
    stderr = fails(helm, *args)
    lines = [line for line in stderr.splitlines() if "values:" in line]
    assert len(lines) == 1, stderr
    assert f"values: {given} without JMXAUTH=true: " in lines[0] and "set env.JMXAUTH=true" in lines[0], lines[0]


@pytest.mark.parametrize("args", [("--set", "env.JMXPORT=9010,env.JMXAUTH=true"),
                                  ("--set", "env.JMXPORT=9010,env.JMXDISABLE=true")])  # fmt: skip
def test_jmxport_with_authentication_or_jmx_disabled_is_accepted(args: tuple[str, ...]) -> None:
    env = container_env(container(only(objects_with(*args), "StatefulSet")))
    assert env["JMXPORT"] == "9010"


def test_the_test_pod_mounts_no_super_secret() -> None:
    """zkboot status never reads the super user's password: the test pod has no volume of it."""
    pod = only(template("defaults"), "Pod")
    assert "volumes" not in pod["spec"] and "volumeMounts" not in pod["spec"]["containers"][0]
    assert {"super"} == {v["name"] for v in pod_spec(statefulset("defaults"))["volumes"] if "secret" in v}


def test_the_super_secret_says_how_to_render_for_gitops() -> None:
    """helm template (no cluster: lookup finds nothing) makes a new password each render; the
    rendered Secret says so and names superPasswordSecret, which makes the chart use yours."""
    text = template_text("defaults")
    secret = text[text.index("# Source: zookeeper/templates/secret-super.yaml") :].split("\n---", 1)[0]
    assert "helm" in secret and "template" in secret and "superPasswordSecret" in secret, secret
    objs = objects_with("--set", "superPasswordSecret=zk-super")
    assert [o for o in objs if o["kind"] == "Secret"] == []
    (volume,) = [v for v in pod_spec(only(objs, "StatefulSet"))["volumes"] if v["name"] == "super"]
    assert volume["secret"]["secretName"] == "zk-super"


def test_nodeport_notes_warn() -> None:
    """A NodePort client Service without TLS: NOTES warns of the plaintext port, and that the
    NetworkPolicy (clients: namespace) keeps outside clients off it. (helm 4 only, as above.)"""
    done = run("helm", "install", "--dry-run=client", RELEASE, str(CHART), "--set", "service.type=NodePort")
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "WARNING: service.type NodePort publishes the plaintext client port" in notes
    assert "networkPolicy.clients=any lets them in" in notes
    done = run("helm", "install", "--dry-run=client", RELEASE, str(CHART),
               "--set", "service.type=NodePort,networkPolicy.clients=any")  # fmt: skip
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "plaintext" in notes and "networkPolicy.clients=any" not in notes


# --- refusals -------------------------------------------------------------------------------------

QUORUM_SASL_NEEDS_FIPS_OFF = (
    "values: sasl.quorum.enabled=true needs fipsMode=off: ZooKeeper 3.9.4+ refuses quorum DIGEST-MD5 in FIPS mode"
)


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "servrs=2"), "servrs"),
        (("--set", "persistence.sizee=1Gi"), "sizee"),
        (("--set", "replicaCount=three"), "replicaCount"),
        (("--set", "tickTime=fast"), "tickTime"),
        (("--set", "heapSize=lots"), "heapSize"),
        (("--set", "env.ZK_REPLICA=3"), "ZK_REPLICA"),
        (("--set", "podManagementPolicy=Sometimes"), "podManagementPolicy"),
        (("--set", "fipsMode=false"), "fipsMode"),
    ],
)
def test_unknown_keys_and_wrong_types_fail(helm: str, args: tuple[str, ...], message: str) -> None:
    """The old charts ignored a typo silently; here values.schema.json fails the install, naming it."""
    stderr = fails(helm, *args)
    assert "schema" in stderr and message in stderr, stderr


@pytest.mark.parametrize("helm", HELMS)
def test_a_typo_in_a_values_file_fails(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"servers": 3, "tickTimeMS": 2000}))
    stderr = fails(helm, "-f", str(values))
    assert "tickTimeMS" in stderr, stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--set", "exporters.jmx.enabled=true"),
            "exporters.jmx.enabled=true is not supported here: no exporter sidecar: ZooKeeper serves Prometheus "
            "metrics itself with metrics.enabled",
        ),
        (
            ("--set", "prometheus.serviceMonitor.enabled=true"),
            "prometheus.serviceMonitor.enabled=true is not supported here: use metrics.enabled and "
            "metrics.serviceMonitor.enabled",
        ),
        (
            ("--set", "command[0]=/bin/bash"),
            'command=["/bin/bash"] is not supported here: the container runs `zkboot start`',
        ),
        (
            ("--set", "auth.client.enabled=true"),
            "auth.client.enabled=true is not supported here: client SASL is sasl.client.enabled",
        ),
        (
            ("--set", "persistence.existingClaim=zk-data"),
            'persistence.existingClaim="zk-data" is not supported here: each member needs a claim of its own',
        ),
        (
            ("--set", "tls.client.keystorePath=/certs/ks.jks"),
            "zkboot reads PEM files (tls.crt, tls.key, ca.crt) from tls.client.existingSecret",
        ),
        (
            ("--set", "env.ZOO_SERVERS=server.1=a"),
            "env.ZOO_SERVERS is not supported here: zkboot derives the server list",
        ),
        (("--set", "env.ZOO_STANDALONE_ENABLED=true"), "values: env.ZOO_STANDALONE_ENABLED=true is not supported here"),
        (("--set", "image.repository=zookeeper"), "values: image.repository=zookeeper has no zkboot"),
        (("--set", "configuration=tickTime=2000"), "values: configuration is a map of zoo.cfg keys here"),
        (("--set", "security.enabled=false"), "values: security.enabled=false is not supported here"),
        (("--set", "service.headless.publishNotReadyAddresses=false"), "members must resolve each other"),
        (
            ("--set", "dataDir=/data"),
            "dataDir=/data is not on the data volume: expected a path under persistence.mountPath",
        ),
        (("--set", "pdb.minAvailable=2,pdb.maxUnavailable=1"), "a PodDisruptionBudget takes one of them"),
        (
            ("--set", "livenessProbe.probeCommandTimeout=1"),
            "livenessProbe.probeCommandTimeout=1: expected less than livenessProbe.timeoutSeconds (1)",
        ),
        (("--set", "tls.client.enabled=true"), "values: tls.client.enabled=true needs tls.client.existingSecret"),
        *(
            (("--set", f"sasl.quorum.enabled=true,sasl.quorum.existingSecret=q{fips}"), QUORUM_SASL_NEEDS_FIPS_OFF)
            for fips in ("", ",fipsMode=auto", ",fipsMode=on", ",fipsMode=off,env.ZK_FIPS_MODE=on")
        ),
    ],
)
def test_retired_keys_are_refused_saying_what_replaced_them(args: tuple[str, ...], message: str) -> None:
    for helm in HELMS:
        stderr = fails(helm, *args)
        lines = [line for line in stderr.splitlines() if "values:" in line]
        assert len(lines) == 1 and message in lines[0], stderr


def test_fips_mode_is_zk_fips_mode_and_lets_quorum_sasl_in_when_off() -> None:
    """fipsMode (or env.ZK_FIPS_MODE, which wins) becomes ZK_FIPS_MODE; auto, the default, sets
    nothing (ZooKeeper's own default). Quorum SASL renders once FIPS mode is off by either."""
    assert "ZK_FIPS_MODE" not in env_of("defaults")
    for sets, expected in (
        ("fipsMode=on", "on"),
        ("sasl.quorum.enabled=true,sasl.quorum.existingSecret=q,fipsMode=off", "off"),
        ("sasl.quorum.enabled=true,sasl.quorum.existingSecret=q,env.ZK_FIPS_MODE=off", "off"),
    ):
        sts = only(objects(run("helm", "template", RELEASE, str(CHART), "--set", sets).stdout), "StatefulSet")
        assert container_env(container(sts))["ZK_FIPS_MODE"] == expected, sets


def test_retired_keys_at_their_defaults_are_accepted() -> None:
    """A values file copied whole from an old chart names its features switched off: accepted."""
    text = template_text("incubator-2.x")
    assert "exporter" not in text


# --- one declaration per fact ----------------------------------------------------------------------


def test_schema_env_names_are_zkboots_or_translated() -> None:
    """The ``env`` keys the schema takes: every variable zkboot reads, plus the official image's
    ZOO_* names the chart translates or refuses (each named in _helpers.tpl) and zkServer.sh's."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = set(schema["properties"]["env"]["propertyNames"]["enum"])
    zkboot = {env for option in Settings.options() for env in option.env} | {
        env for option in ProbeOptions.options() for env in option.env
    }
    assert zkboot <= allowed
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    for name in allowed - zkboot:
        assert name.startswith("JMX") or name in {"JVMFLAGS", "SERVER_JVMFLAGS"} or f'"{name}"' in helpers, name


def test_values_yaml_keys_are_in_the_schema() -> None:
    """Every default the chart ships is a key its schema knows (or lint --strict would not catch it)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: Any, props: Obj, path: str) -> None:
        for key, value in node.items():
            assert key in props, f"{path}{key} is not in values.schema.json"
            if (
                isinstance(value, dict)
                and "properties" in props[key]
                and props[key].get("additionalProperties") is False
            ):
                walk(value, props[key]["properties"], f"{path}{key}.")

    walk(values, schema["properties"], "")
    assert objects(template_text("defaults"))


@pytest.mark.parametrize(
    ("sets", "storage_class", "image"),
    [
        ("persistence.storageClass=fast", "fast", "zkboot:0.1.0"),
        ("global.defaultStorageClass=slow", "slow", "zkboot:0.1.0"),
        ("global.defaultStorageClass=slow,persistence.storageClass=fast", "fast", "zkboot:0.1.0"),
        ("global.storageClass=g,persistence.storageClass=fast", "g", "zkboot:0.1.0"),
        ("persistence.storageClass=-", "", "zkboot:0.1.0"),
        ("image.registry=own.example", None, "own.example/zkboot:0.1.0"),
        ("global.imageRegistry=r.example,image.registry=own.example", None, "r.example/zkboot:0.1.0"),
        ("image.tag=0.2.0,image.repository=registry.example.org/zkboot", None, "registry.example.org/zkboot:0.2.0"),
    ],
)
def test_bitnami_globals_in_bitnamis_order(sets: str, storage_class: str | None, image: str) -> None:
    """global.storageClass over persistence.storageClass over global.defaultStorageClass, and
    global.imageRegistry over image.registry, as Bitnami's charts take them."""
    sts = only(objects(run("helm", "template", RELEASE, str(CHART), "--set", sets).stdout), "StatefulSet")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"].get("storageClassName") == storage_class
    assert container(sts)["image"] == image


def test_jvm_flags_extra_env_and_zoo_cfg_keys() -> None:
    """jvmFlags -> JVMFLAGS (zkServer.sh puts it after zkboot's flags), extraEnvVars as given,
    configuration / listenOnAllIPs / env.ZK_CFG_EXTRA into one ZK_CFG_EXTRA, sorted by key."""
    args = (
        "--set", "jvmFlags=-XX:+UseG1GC,listenOnAllIPs=true,configuration.globalOutstandingLimit=2000",
        "--set", "extraEnvVars[0].name=APP_MODE,extraEnvVars[0].value=blue",
        "--set-string", "env.ZK_CFG_EXTRA=clientPortListenBacklog=100",
    )  # fmt: skip
    sts = only(objects(run("helm", "template", RELEASE, str(CHART), *args).stdout), "StatefulSet")
    env = container_env(container(sts))
    assert env["JVMFLAGS"] == "-XX:+UseG1GC"
    assert env["APP_MODE"] == "blue"
    assert env["ZK_CFG_EXTRA"] == "clientPortListenBacklog=100;globalOutstandingLimit=2000;quorumListenOnAllIPs=true"
    check_statefulset(sts)  # zkboot takes every one of those keys


def test_min_server_id_offsets_every_myid() -> None:
    """Bitnami's minServerId: myid = ordinal + minServerId, as zkboot writes it for each pod."""
    sts = only(objects(run("helm", "template", RELEASE, str(CHART), "--set", "minServerId=10").stdout), "StatefulSet")
    assert container_env(container(sts))["ZK_MYID_OFFSET"] == "10"
    for ordinal in range(3):
        document, _files, _cfg = rendered(sts, ordinal)
        assert document["identity"]["myid"] == ordinal + 10
        servers = document["identity"]["servers"]
        assert [line.split("=", 1)[0] for line in servers] == ["server.10", "server.11", "server.12"]


# --- Bitnami's resourcesPreset ---------------------------------------------------------------------

# Bitnami's presets (its charts' common library 2.x, as its zookeeper chart 13.8 ships it), written
# out here rather than read from the chart, so that a wrong number in files/resources-presets.yaml
# fails: preset -> ((cpu, memory) requested, (cpu, memory) limits); every preset requests 50Mi of
# ephemeral storage and limits it to 2Gi.
BITNAMI_PRESETS = {
    "nano": (("100m", "128Mi"), ("150m", "192Mi")),
    "micro": (("250m", "256Mi"), ("375m", "384Mi")),
    "small": (("500m", "512Mi"), ("750m", "768Mi")),
    "medium": (("500m", "1024Mi"), ("750m", "1536Mi")),
    "large": (("1.0", "2048Mi"), ("1.5", "3072Mi")),
    "xlarge": (("1.0", "3072Mi"), ("3.0", "6144Mi")),
    "2xlarge": (("1.0", "3072Mi"), ("6.0", "12288Mi")),
}
MIB = 1 << 20


def bitnami_resources(preset: str) -> Obj:
    (cpu, memory), (cpu_limit, memory_limit) = BITNAMI_PRESETS[preset]
    return {
        "requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": "50Mi"},
        "limits": {"cpu": cpu_limit, "memory": memory_limit, "ephemeral-storage": "2Gi"},
    }


def resources_with(helm: str, *args: str) -> Obj | None:
    """The ZooKeeper container's resources as ``helm template ARGS`` renders them (None: none)."""
    done = run(helm, "template", RELEASE, str(CHART), *args)
    assert done.returncode == 0, done.stderr
    resources: Obj | None = container(only(objects(done.stdout), "StatefulSet")).get("resources")
    return resources


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize("preset", BITNAMI_PRESETS)
def test_each_bitnami_preset_renders_bitnamis_numbers(helm: str, preset: str) -> None:
    assert resources_with(helm, "--set", f"resourcesPreset={preset}") == bitnami_resources(preset)


@pytest.mark.parametrize("helm", HELMS)
def test_a_bitnami_values_file_with_a_preset_gets_it(helm: str, tmp_path: Path) -> None:
    """Bitnami's values file as it comes, `resources: {}` beside the preset: the preset applies
    (the chart's own sizing is not a non-empty resources that would win over it)."""
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"resourcesPreset": "micro", "resources": {}, "tls": {"resourcesPreset": "nano"}}))
    assert resources_with(helm, "-f", str(values)) == bitnami_resources("micro")


@pytest.mark.parametrize("helm", HELMS)
def test_resources_given_win_over_a_preset_whole(helm: str) -> None:
    """As in Bitnami's charts: resources, when given, is the container's resources, nothing of the
    preset's kept (no CPU limit, no ephemeral storage)."""
    given = "resources.requests.memory=2Gi,resources.limits.memory=2Gi"
    expected = {"requests": {"memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    assert resources_with(helm, "--set", f"resourcesPreset=micro,{given}") == expected
    assert resources_with(helm, "--set", f"resourcesPreset=none,{given}") == expected
    assert resources_with(helm, "--set", "resourcesPreset=none") is None


@pytest.mark.parametrize("helm", HELMS)
def test_without_a_preset_resources_are_laid_over_the_charts_own(helm: str) -> None:
    """The default preset ("") is the chart's own sizing; an old install line's
    ``--set resources.requests.memory=200Mi`` changes that one key and keeps the memory limit the
    heap is sized from."""
    own = container(statefulset("defaults"))["resources"]
    laid_over = resources_with(helm, *TWO_SERVERS)
    assert laid_over == {"requests": {**own["requests"], "memory": "200Mi"}, "limits": own["limits"]}
    assert resources_with(helm, "--set", "resourcesPreset=") == own


@pytest.mark.parametrize("helm", HELMS)
def test_an_unknown_preset_fails_the_schema_naming_the_presets(helm: str) -> None:
    stderr = fails(helm, "--set", "resourcesPreset=huge")
    (line,) = [line for line in stderr.splitlines() if "resourcesPreset" in line]
    assert "schema" in stderr and all(preset in line for preset in ("none", *BITNAMI_PRESETS)), stderr
    # Past the schema (helm's --skip-schema-validation), the template refuses it as well.
    stderr = fails(helm, "--set", "resourcesPreset=huge", "--skip-schema-validation")
    lines = [line for line in stderr.splitlines() if "values:" in line]
    assert len(lines) == 1 and 'values: resourcesPreset=huge: expected "" ' in lines[0], stderr
    assert all(preset in lines[0] for preset in BITNAMI_PRESETS), stderr


def test_schema_takes_exactly_the_presets() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert set(schema["properties"]["resourcesPreset"]["enum"]) == {"", "none", *BITNAMI_PRESETS}


UNSHARE_CGROUP = (
    "unshare", "--mount", "--", "sh", "-c",
    'mount -t tmpfs -o size=64k zkboot-test /sys/fs/cgroup && echo "$1" > /sys/fs/cgroup/memory.max'
    ' && shift && exec "$@"',
    "sh",
)  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root for unshare --mount")
@pytest.mark.parametrize("preset", ["nano", "micro", "2xlarge"])
def test_heap_auto_follows_the_presets_memory_limit(preset: str) -> None:
    """The container's command, as ``zkboot render``, in a mount namespace whose cgroup
    ``memory.max`` is the rendered memory limit (as the kubelet sets it): heapSize auto, the
    default, is half of the preset's limit."""
    sts = only(objects(run("helm", "template", RELEASE, str(CHART), "--set", f"resourcesPreset={preset}").stdout),
               "StatefulSet")  # fmt: skip
    env = container_env(container(sts))
    assert env["ZK_HEAP_SIZE"] == "auto"
    limit = quantity_bytes(container(sts)["resources"]["limits"]["memory"])
    assert limit == quantity_bytes(BITNAMI_PRESETS[preset][1][1])
    done, argv = render_member(sts, 0, (*UNSHARE_CGROUP, str(limit)))
    assert done.returncode == 0, f"{argv} exited {done.returncode}: {done.stderr.strip()}"
    heap = json.loads(done.stdout)["heap"]
    assert heap["size"] == f"{limit // 2 // MIB}M", heap
    assert heap["note"].endswith("from /sys/fs/cgroup/memory.max"), heap


@pytest.mark.parametrize("preset", ["", *BITNAMI_PRESETS])
def test_conf_in_memory_fits_beside_the_heap_with_every_preset(preset: str) -> None:
    """The conf emptyDir (tmpfs, charged to the memory limit up to its sizeLimit) is at most an
    eighth of what heapSize auto leaves of the limit, with the smallest preset too."""
    sts = only(objects_with("--set", f"resourcesPreset={preset}"), "StatefulSet")
    limit = quantity_bytes(container(sts)["resources"]["limits"]["memory"])
    (conf,) = (v["emptyDir"] for v in pod_spec(sts)["volumes"] if v["name"] == "conf")
    assert conf["medium"] == "Memory"
    assert quantity_bytes(conf["sizeLimit"]) * 8 <= limit - limit // 2, (conf, limit)


# --- Bitnami's chart 13.8.8, its whole values.yaml ------------------------------------------------

BITNAMI_KEYS: Obj = yaml.safe_load((CHART / "files" / "bitnami-keys.yaml").read_text())
KINDS = ("mapped", "noEffect", "refused")


def bitnami_with(**changes: Any) -> dict[str, Any]:
    """Bitnami 13.8.8's values document with some key paths changed."""
    return nested({**BITNAMI_13_8_8_KEYS, **{key.replace("__", "."): value for key, value in changes.items()}})


def test_every_bitnami_13_8_8_key_is_classified_once() -> None:
    """Each key path of Bitnami's values.yaml is in exactly one of the chart's lists
    (files/bitnami-keys.yaml): it takes effect, it has no effect (NOTES says so), or it is refused
    when set otherwise than Bitnami's default."""
    for key in BITNAMI_13_8_8_KEYS:
        assert [kind for kind in KINDS if key in BITNAMI_KEYS[kind]] in ([kind] for kind in KINDS), key
    declared = [key for kind in KINDS for key in BITNAMI_KEYS[kind]]
    assert sorted(declared) == sorted(BITNAMI_13_8_8_KEYS)


def test_bitnamis_image_gives_way_to_values_yamls() -> None:
    own = yaml.safe_load((CHART / "values.yaml").read_text())["image"]
    assert BITNAMI_KEYS["ownImage"] == {key: own[key] for key in ("registry", "repository", "tag")}
    assert container(statefulset("bitnami-13.8.8"))["image"] == "zkboot:0.1.0"
    assert BITNAMI_13_8_8_KEYS["image.repository"] == "bitnami/zookeeper"


def test_bitnami_13_8_8_notes_list_the_keys_without_effect() -> None:
    """(NOTES with helm 4 only, as above.)"""
    done = run("helm", "install", "--dry-run=client", RELEASE, str(CHART), *CASES["bitnami-13.8.8"])
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "Bitnami's image (bitnami/zookeeper) has no zkboot: the pods run zkboot:0.1.0 instead" in notes
    listed = notes.split("Accepted with no effect here", 1)[1].split(":", 1)[1].split(", ")
    assert [key.strip() for key in listed] == BITNAMI_KEYS["noEffect"]
    # The chart's own defaults are not listed as if the user had given Bitnami's keys.
    plain = run("helm", "install", "--dry-run=client", RELEASE, str(CHART))
    assert "no effect" not in plain.stdout and "Bitnami's image" not in plain.stdout


def other_than(default: Any) -> Any:
    """A value that is not Bitnami's default, of its type."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, list):
        return ["/bin/sh"]
    if isinstance(default, dict):
        return {"exec": {"command": ["true"]}}
    return "/certs/other" if default else "other"


@pytest.mark.parametrize("key", BITNAMI_KEYS["refused"])
def test_bitnami_13_8_8_refused_keys_fail_when_set_with_one_line(key: str) -> None:
    helms = HELMS if key in {"args", "tls.client.keystorePath", "networkPolicy.allowExternalEgress"} else ("helm",)
    for helm in helms:
        stderr = fails(helm, "-f", values_file(bitnami_with(**{key: other_than(BITNAMI_13_8_8_KEYS[key])})))
        lines = [line for line in stderr.splitlines() if "values:" in line]
        assert len(lines) == 1 and f"values: {key}" in lines[0], stderr
        assert "schema" not in stderr, stderr


@pytest.mark.parametrize("helm", HELMS)
def test_a_misspelt_bitnami_key_still_fails_the_schema(helm: str) -> None:
    doc = bitnami_with()
    doc["revisionHistoryLimt"] = doc.pop("revisionHistoryLimit")
    doc["service"]["loadBalancerSourceRange"] = doc["service"].pop("loadBalancerSourceRanges")
    stderr = fails(helm, "-f", values_file(doc))
    assert "schema" in stderr and "revisionHistoryLimt" in stderr, stderr
    assert re.search(r"\bloadBalancerSourceRange\b", stderr), stderr


def test_bitnami_13_8_8_defaults_take_effect() -> None:
    objs = template("bitnami-13.8.8")
    sts = only(objs, "StatefulSet")
    pod = pod_spec(sts)
    assert sts["spec"]["revisionHistoryLimit"] == 10 and pod["automountServiceAccountToken"] is False
    assert only(objs, "ServiceAccount")["automountServiceAccountToken"] is False
    client = only(objs, "Service", FULLNAME)["spec"]
    # Bitnami's externalTrafficPolicy: Cluster is for NodePort and LoadBalancer Services only.
    assert client["sessionAffinity"] == "None" and "externalTrafficPolicy" not in client
    assert container_env(container(sts))["ZK_CFG_EXTRA"] == "preAllocSize=65536;snapCount=100000"


def test_bitnamis_simple_keys_take_effect() -> None:
    doc = bitnami_with(
        revisionHistoryLimit=3,
        automountServiceAccountToken=True,
        serviceAccount__automountServiceAccountToken=True,
        service__type="LoadBalancer",
        service__loadBalancerSourceRanges=["10.0.0.0/8"],
        service__loadBalancerIP="10.1.2.3",
        service__externalTrafficPolicy="Local",
        service__sessionAffinity="ClientIP",
        service__extraPorts=[{"name": "admin", "port": 8080, "targetPort": 8080}],
        networkPolicy__allowExternal=False,
        networkPolicy__ingressNSMatchLabels={"team": "apps"},
        networkPolicy__ingressNSPodMatchLabels={"role": "client"},
        networkPolicy__extraIngress=[{"ports": [{"protocol": "TCP", "port": 8080}]}],
        extraDeploy=[
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ .Release.Name }}-extra"}},
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: text-extra\n",
        ],
        extraEnvVarsCM="zk-env",
        extraEnvVarsSecret="zk-env-secret",
        lifecycleHooks={"preStop": {"exec": {"command": ["zkboot", "status"]}}},
        tls__client__enabled=True,
        tls__client__existingSecret="zk-tls",
        tls__client__auth="want",
    )
    objs = objects(run("helm", "template", RELEASE, str(CHART), "-f", values_file(doc)).stdout)
    for obj in objs:
        validate_exactly(obj, VERSIONS[0])
    sts = only(objs, "StatefulSet")
    pod, ctr = pod_spec(sts), container(sts)
    assert sts["spec"]["revisionHistoryLimit"] == 3 and pod["automountServiceAccountToken"] is True
    assert only(objs, "ServiceAccount")["automountServiceAccountToken"] is True
    client = only(objs, "Service", FULLNAME)["spec"]
    assert (client["loadBalancerSourceRanges"], client["loadBalancerIP"]) == (["10.0.0.0/8"], "10.1.2.3")
    assert (client["externalTrafficPolicy"], client["sessionAffinity"]) == ("Local", "ClientIP")
    assert client["ports"][-1] == {"name": "admin", "port": 8080, "targetPort": 8080}
    ingress = only(objs, "NetworkPolicy")["spec"]["ingress"]
    assert {
        "namespaceSelector": {"matchLabels": {"team": "apps"}},
        "podSelector": {"matchLabels": {"role": "client"}},
    } in (ingress[0]["from"])
    assert ingress[-1] == {"ports": [{"protocol": "TCP", "port": 8080}]}
    assert {o["metadata"]["name"] for o in objs if o["kind"] == "ConfigMap"} == {f"{RELEASE}-extra", "text-extra"}
    assert ctr["envFrom"] == [{"configMapRef": {"name": "zk-env"}}, {"secretRef": {"name": "zk-env-secret"}}]
    assert ctr["lifecycle"] == {"preStop": {"exec": {"command": ["zkboot", "status"]}}}
    assert {"name": "ZK_TLS_CLIENT_AUTH", "value": "want"} in ctr["env"]


# Chart 0.1.0's StatefulSet for release myzk (recorded from its render): what its upgrade keeps.
CHART_0_1_SELECTOR = {**SELECTOR, "app.kubernetes.io/component": "ensemble"}
CHART_0_1_CLAIM = {
    "metadata": {"name": "datadir"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
}


@pytest.mark.parametrize("helm", HELMS)
def test_a_chart_0_1_release_upgrades_with_its_claim_and_one_relabelled_selector_label(helm: str) -> None:
    """The chart's README: upgrading a 0.1.x release with persistence.claimName=datadir and
    persistence.size=10Gi renders its claim template (so the new StatefulSet's pods mount the old
    PVCs), and a selector that differs in the component label alone, which the README's
    relabelling step gives the running pods."""
    done = run(helm, "template", RELEASE, str(CHART), "--set", "persistence.claimName=datadir,persistence.size=10Gi")
    assert done.returncode == 0, done.stderr
    sts = only(objects(done.stdout), "StatefulSet")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert {key: claim[key] for key in ("metadata", "spec")} == CHART_0_1_CLAIM
    selector = sts["spec"]["selector"]["matchLabels"]
    assert {k: v for k, v in selector.items() if selector[k] != CHART_0_1_SELECTOR.get(k)} == {
        "app.kubernetes.io/component": "zookeeper"
    }
    assert selector.keys() == CHART_0_1_SELECTOR.keys()


@pytest.mark.parametrize(
    ("case", "claim"),
    [("defaults", "data"), ("bitnami-13.8.8", "data"), ("incubator-2.x", "data"),
     ("incubator-0.x", "datadir"), ("two-servers", "datadir")],
)  # fmt: skip
def test_an_old_charts_values_keep_its_claim(case: str, claim: str) -> None:
    """The claim template is named as the chart the values come from named it (incubator 0.x-1.x:
    datadir, its parameters given; Bitnami's and incubator 2.x: data), so its PVCs are reused."""
    (template,) = statefulset(case)["spec"]["volumeClaimTemplates"]
    assert template["metadata"]["name"] == claim
