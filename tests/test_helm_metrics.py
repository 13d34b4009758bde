"""The chart's Prometheus keys (Bitnami's ``metrics.*``): ZooKeeper's own endpoint through
``ZK_METRICS_PORT`` and a container port, the metrics Service, the ServiceMonitor, the
PrometheusRule, and the default alerting rules checked and unit-tested by Prometheus' own promtool
(``promtool check rules``, ``promtool test rules`` with series that fire each alert and series
that do not).  The metric names the rules use are scraped from the real 3.9.5 in
tests/test_integration.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm import CHART, RELEASE, Obj, objects, run
from tests.helpers import UPSTREAM
from tests.test_manifests import container, container_env, only, port_of, render_member

FULLNAME = f"{RELEASE}-zookeeper"
METRICS = f"{FULLNAME}-metrics"
ON = ("--set", "metrics.enabled=true")
MONITORED = (*ON, "--set", "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true")
ALERTS = (
    "ZooKeeperQuorumLost",
    "ZooKeeperMemberNotServing",
    "ZooKeeperOutstandingRequests",
    "ZooKeeperSlowFsync",
    "ZooKeeperFileDescriptorsNearLimit",
)


def chart(*args: str, helm: str = "helm") -> list[Obj]:
    done = run(helm, "template", RELEASE, str(CHART), *args)
    assert done.returncode == 0, done.stderr
    return objects(done.stdout)


def kinds(objs: list[Obj]) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in objs}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not on PATH: ./dev setup installs Debian's prometheus package")
    return found


def rule_groups(objs: list[Obj]) -> list[Any]:
    groups: list[Any] = only(objs, "PrometheusRule")["spec"]["groups"]
    return groups


# --- the objects ----------------------------------------------------------------------------------


def test_off_by_default_nothing_of_metrics() -> None:
    objs = chart()
    ctr = container(only(objs, "StatefulSet"))
    assert "ZK_METRICS_PORT" not in container_env(ctr)
    assert "metrics" not in {p["name"] for p in ctr["ports"]}
    assert not {kind for kind, name in kinds(objs) if kind in ("ServiceMonitor", "PrometheusRule")}
    assert ("Service", METRICS) not in kinds(objs)


def test_enabled_turns_on_zookeepers_endpoint_and_a_service_for_it() -> None:
    objs = chart(*ON)
    sts = only(objs, "StatefulSet")
    ctr = container(sts)
    assert container_env(ctr)["ZK_METRICS_PORT"] == "9141"
    assert port_of(ctr, "metrics") == 9141
    service = only(objs, "Service", METRICS)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http-metrics", "port": 9141, "targetPort": "metrics"}]
    assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    assert service["spec"]["publishNotReadyAddresses"] is True  # a member that does not serve is scraped too
    assert service["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9141",
        "prometheus.io/path": "/metrics",
    }
    # Only with their own switches on.
    assert not {kind for kind, _ in kinds(objs) if kind in ("ServiceMonitor", "PrometheusRule")}


def test_ports_and_annotations_follow_the_values() -> None:
    """Bitnami 13's containerPorts.metrics, its older metrics.containerPort (which wins), the
    service port in the annotation's template, and env.ZK_METRICS_PORT over them all."""
    args = (*ON, "--set", "containerPorts.metrics=9200,metrics.service.port=9300,metrics.service.type=NodePort")
    objs = chart(*args)
    ctr = container(only(objs, "StatefulSet"))
    assert (container_env(ctr)["ZK_METRICS_PORT"], port_of(ctr, "metrics")) == ("9200", 9200)
    service = only(objs, "Service", METRICS)
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["port"] == 9300
    assert service["metadata"]["annotations"]["prometheus.io/port"] == "9300"
    ctr = container(only(chart(*args, "--set", "metrics.containerPort=9400"), "StatefulSet"))
    assert (container_env(ctr)["ZK_METRICS_PORT"], port_of(ctr, "metrics")) == ("9400", 9400)
    ctr = container(only(chart(*args, "--set-string", "env.ZK_METRICS_PORT=9500"), "StatefulSet"))
    assert (container_env(ctr)["ZK_METRICS_PORT"], port_of(ctr, "metrics")) == ("9500", 9500)


def test_zkboot_writes_the_provider_for_every_member() -> None:
    """What the container's settings make zoo.cfg say, rendered by zkboot against the 3.9.5
    installation the image carries (Debian's, on this machine's PATH, has no provider)."""
    sts = only(chart(*ON), "StatefulSet")
    container(sts)["env"].append({"name": "ZK_HOME", "value": str(UPSTREAM.home)})
    for ordinal in range(3):
        done, argv = render_member(sts, ordinal)
        assert done.returncode == 0, f"{argv}: {done.stderr}"
        (zoo_cfg,) = (f["content"] for f in json.loads(done.stdout)["files"] if f["path"].endswith("/zoo.cfg"))
        lines = zoo_cfg.splitlines()
        assert "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider" in lines
        assert "metricsProvider.httpPort=9141" in lines


def test_the_service_monitor_takes_bitnamis_keys_and_selects_the_metrics_service_alone() -> None:
    args = (
        *MONITORED,
        "--set", "metrics.serviceMonitor.namespace=monitoring,metrics.serviceMonitor.interval=30s",
        "--set", "metrics.serviceMonitor.scrapeTimeout=10s,metrics.serviceMonitor.honorLabels=true",
        "--set", "metrics.serviceMonitor.jobLabel=app.kubernetes.io/name",
        "--set", "metrics.serviceMonitor.additionalLabels.release=kube-prometheus",
        "--set", "metrics.serviceMonitor.selector.prometheus=main",
        "--set", "metrics.serviceMonitor.relabelings[0].targetLabel=cluster",
        "--set", "metrics.serviceMonitor.relabelings[0].replacement=east",
        "--set", "metrics.serviceMonitor.metricRelabelings[0].action=drop",
        "--set", "metrics.serviceMonitor.metricRelabelings[0].regex=jvm_.*",
        "--set", "metrics.serviceMonitor.metricRelabelings[0].sourceLabels[0]=__name__",
    )  # fmt: skip
    objs = chart(*args)
    monitor = only(objs, "ServiceMonitor", FULLNAME)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["metadata"]["labels"]["prometheus"] == "main"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["default"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "http-metrics",
        "path": "/metrics",
        "interval": "30s",
        "scrapeTimeout": "10s",
        "honorLabels": True,
        "relabelings": [{"targetLabel": "cluster", "replacement": "east"}],
        "metricRelabelings": [{"action": "drop", "regex": "jvm_.*", "sourceLabels": ["__name__"]}],
    }
    wanted = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        o["metadata"]["name"]
        for o in objs
        if o["kind"] == "Service" and wanted.items() <= o["metadata"]["labels"].items()
    ]
    assert selected == [METRICS]
    # Bitnami's older spelling of the labels.
    older = only(chart(*MONITORED, "--set", "metrics.serviceMonitor.labels.team=storage"), "ServiceMonitor")
    assert older["metadata"]["labels"]["team"] == "storage"


def test_the_prometheus_rule_carries_the_users_rules_and_the_default_ones() -> None:
    args = (
        *MONITORED,
        "--set", "metrics.prometheusRule.namespace=monitoring,metrics.prometheusRule.additionalLabels.role=alert-rules",
        "--set", "metrics.prometheusRule.rules[0].alert=ZooKeeperSyncedFollowers",
        "--set", "metrics.prometheusRule.rules[0].expr=max(synced_followers) < 2",
    )  # fmt: skip
    rule = only(chart(*args), "PrometheusRule", FULLNAME)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["role"] == "alert-rules"
    (group,) = rule["spec"]["groups"]
    names = [r["alert"] for r in group["rules"]]
    assert names == ["ZooKeeperSyncedFollowers", *ALERTS]
    # Without the defaults, the user's alone; with neither, no object at all.
    alone = rule_groups(chart(*args, "--set", "metrics.prometheusRule.defaultRules=false"))
    assert [r["alert"] for r in alone[0]["rules"]] == ["ZooKeeperSyncedFollowers"]
    bare = chart(*MONITORED, "--set", "metrics.prometheusRule.defaultRules=false")
    assert "PrometheusRule" not in {kind for kind, _ in kinds(bare)}
    # A standalone server never has a leader: no quorum alert for one member.
    single = rule_groups(chart(*MONITORED, "--set", "replicaCount=1"))
    assert [r["alert"] for r in single[0]["rules"]] == list(ALERTS[1:])


def test_helm_3_and_4_render_the_metrics_objects_alike() -> None:
    def metrics_objects(helm: str) -> list[Obj]:
        objs = chart(*MONITORED, helm=helm)
        return [
            o for o in objs if o["kind"] in ("ServiceMonitor", "PrometheusRule") or o["metadata"]["name"] == METRICS
        ]

    assert metrics_objects("helm3") == metrics_objects("helm")
    assert len(metrics_objects("helm")) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "metrics.serviceMonitor.intervall=30s"), "intervall"),
        (("--set", "metrics.service.port=http"), "port"),
        (("--set", "metrics.prometheusRule.rules=oops"), "rules"),
    ],
)
def test_typos_and_wrong_types_in_metrics_fail(args: tuple[str, ...], message: str) -> None:
    done = run("helm", "template", RELEASE, str(CHART), *ON, *args)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


# --- the default rules, by promtool -----------------------------------------------------------------

SERVICE = {"namespace": "default", "service": METRICS, "job": METRICS}


def member(ordinal: int) -> dict[str, str]:
    return {**SERVICE, "pod": f"{FULLNAME}-{ordinal}", "instance": f"10.0.0.{ordinal}:9141"}


def series(name: str, ordinal: int, values: str) -> dict[str, str]:
    labels = ",".join(f'{key}="{value}"' for key, value in member(ordinal).items())
    return {"series": f"{name}{{{labels}}}", "values": values}


def alert(severity: str, ordinal: int | None, summary: str, description: str) -> dict[str, Any]:
    labels = {"severity": severity, **(member(ordinal) if ordinal is not None else {})}
    return {"exp_labels": labels, "exp_annotations": {"summary": summary, "description": description}}


def healthy(minutes: int, leader: int = 0, skip: tuple[int, ...] = ()) -> list[dict[str, str]]:
    """Three members serving for ``minutes``: ``leader`` leads; the metrics of ``skip`` are left out."""
    found = []
    for ordinal in (0, 1, 2):
        if ordinal in skip:
            continue
        found += [
            series("up", ordinal, f"1x{minutes}"),
            series("uptime", ordinal, f"1000+60000x{minutes}"),
            series("outstanding_requests", ordinal, f"0x{minutes}"),
            series("fsynctime_sum", ordinal, f"0+5x{minutes}"),  # 5 ms a fsync
            series("fsynctime_count", ordinal, f"0+1x{minutes}"),
            series("open_file_descriptor_count", ordinal, f"120x{minutes}"),
            series("max_file_descriptor_count", ordinal, f"1048576x{minutes}"),
        ]
    if leader not in skip:
        found.append(series("leader_uptime", leader, f"1000+60000x{minutes}"))
    return found


def none_of(*names: str, at: str) -> list[dict[str, Any]]:
    return [{"eval_time": at, "alertname": name, "exp_alerts": []} for name in names]


def rule_tests() -> list[dict[str, Any]]:
    """Each alert fires on the series that should page, and on no others."""
    pod = [f"{FULLNAME}-{i}" for i in range(3)]
    not_serving = "ZooKeeper member {pod} is not serving"
    not_serving_text = (
        "{pod} of "
        + FULLNAME
        + " has not served clients for 5 minutes (not scraped, looking for a leader, or syncing)."
    )
    return [
        {  # a healthy ensemble pages no one
            "interval": "1m",
            "input_series": healthy(30),
            "alert_rule_test": none_of(*ALERTS, at="25m"),
        },
        {  # every member up but none leading, nor serving, after 5 minutes: quorum lost
            "interval": "1m",
            "input_series": [
                *[series("up", i, "1x30") for i in range(3)],
                *[series("uptime", i, "1000+60000x5 stale") for i in range(3)],
                series("leader_uptime", 1, "1000+60000x5 stale"),
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ZooKeeperQuorumLost", "exp_alerts": []},
                {
                    "eval_time": "10m",
                    "alertname": "ZooKeeperQuorumLost",
                    "exp_alerts": [
                        alert(
                            "critical",
                            None,
                            f"ZooKeeper {FULLNAME} has no leader",
                            f"No member of {FULLNAME} leads, so none serves clients (quorum lost, or an election "
                            "that does not end).",
                        )
                    ],
                },
                # Not yet for 5 minutes at 10m; each member at 15m.
                {"eval_time": "10m", "alertname": "ZooKeeperMemberNotServing", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "ZooKeeperMemberNotServing",
                    "exp_alerts": [
                        alert("warning", i, not_serving.format(pod=pod[i]), not_serving_text.format(pod=pod[i]))
                        for i in range(3)
                    ],
                },
            ],
        },
        {  # one member's scrape fails (its JVM is gone): that member alone, the quorum stands
            "interval": "1m",
            "input_series": [*healthy(30, skip=(2,)), series("up", 2, "0x30")],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "ZooKeeperMemberNotServing",
                    "exp_alerts": [
                        alert("warning", 2, not_serving.format(pod=pod[2]), not_serving_text.format(pod=pod[2]))
                    ],
                },
                *none_of("ZooKeeperQuorumLost", at="10m"),
            ],
        },
        {  # requests pile up on one member; another's few are no matter
            "interval": "1m",
            "input_series": [
                *[s for s in healthy(30) if not s["series"].startswith("outstanding_requests")],
                series("outstanding_requests", 0, "5x30"),
                series("outstanding_requests", 1, "50x30"),
                series("outstanding_requests", 2, "0x30"),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "ZooKeeperOutstandingRequests",
                    "exp_alerts": [
                        alert(
                            "warning",
                            1,
                            f"Requests pile up on ZooKeeper member {pod[1]}",
                            f"{pod[1]} of {FULLNAME} has had more than 10 requests queued for 5 minutes (50 now).",
                        )
                    ],
                }
            ],
        },
        {  # one member's disk takes 500 ms a fsync, the others' 5 ms
            "interval": "1m",
            "input_series": [
                *[
                    s
                    for s in healthy(40)
                    if not (s["series"].startswith("fsynctime") and 'pod="' + pod[0] in s["series"])
                ],
                series("fsynctime_sum", 0, "0+500x40"),
                series("fsynctime_count", 0, "0+1x40"),
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "ZooKeeperSlowFsync", "exp_alerts": []},  # pending
                {
                    "eval_time": "20m",
                    "alertname": "ZooKeeperSlowFsync",
                    "exp_alerts": [
                        alert(
                            "warning",
                            0,
                            f"Slow transaction log fsync on ZooKeeper member {pod[0]}",
                            f"The transaction log's fsync on {pod[0]} of {FULLNAME} has taken 500 ms on average for "
                            "10 minutes; every write waits for it.",
                        )
                    ],
                },
            ],
        },
        {  # 90% of the descriptors open pages; 80% does not
            "interval": "1m",
            "input_series": [
                *[s for s in healthy(30) if "file_descriptor" not in s["series"]],
                series("open_file_descriptor_count", 0, "900x30"),
                series("max_file_descriptor_count", 0, "1000x30"),
                series("open_file_descriptor_count", 1, "800x30"),
                series("max_file_descriptor_count", 1, "1000x30"),
                series("open_file_descriptor_count", 2, "10x30"),
                series("max_file_descriptor_count", 2, "1000x30"),
            ],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "ZooKeeperFileDescriptorsNearLimit",
                    "exp_alerts": [
                        alert(
                            "warning",
                            0,
                            f"ZooKeeper member {pod[0]} is near its file descriptor limit",
                            f"{pod[0]} of {FULLNAME} uses 90% of its file descriptors; at the limit it refuses "
                            "connections.",
                        )
                    ],
                }
            ],
        },
    ]


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """The default rules as the chart renders them, in a Prometheus rules file."""
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(chart(*MONITORED))}))
    return path


def test_promtool_checks_the_rendered_rules(rules_file: Path) -> None:
    done = subprocess.run([promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout + done.stderr


def test_promtool_unit_tests_every_default_alert(rules_file: Path, tmp_path: Path) -> None:
    tests = tmp_path / "rules_test.yaml"
    body = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": rule_tests()}
    tests.write_text(yaml.safe_dump(body, sort_keys=False))
    done = subprocess.run([promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Every alert is expected to fire somewhere, so that a rule that never fires cannot pass.
    fired = {t["alertname"] for case in rule_tests() for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert fired == set(ALERTS)


def test_promtool_test_fails_when_a_rule_does_not_fire(rules_file: Path, tmp_path: Path) -> None:
    """The harness can fail: a healthy ensemble's series do not fire the quorum alert."""
    tests = tmp_path / "rules_test.yaml"
    case = {
        "interval": "1m",
        "input_series": healthy(20),
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "ZooKeeperQuorumLost", "exp_alerts": [alert("critical", None, "", "")]}
        ],
    }
    body = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": [case]}
    tests.write_text(yaml.safe_dump(body, sort_keys=False))
    done = subprocess.run([promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "ZooKeeperQuorumLost" in done.stdout + done.stderr
