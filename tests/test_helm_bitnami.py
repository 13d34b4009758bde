"""``helm upgrade`` of a release Bitnami's chart installed: what Kubernetes will not change.

For each case of tests/fixtures/helm/bitnami-13.8.8-kept.yaml (facts recorded from Bitnami 13.8.8's
render with both helms), this chart, rendered under the same release name with Bitnami's whole
values.yaml and the same ``--set`` arguments, must give the StatefulSet the same name, serviceName,
selector, podManagementPolicy and volumeClaimTemplates (the API server refuses an update that
changes any of them), pods that the selector matches, and Services of the same names with the
same ports; the one difference, documented in the chart's README, is that the client Service does
not offer the quorum ports (only members use them, through the headless Service).  And the
membership Bitnami's whole values file gets: static, as its ensembles are.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helm import BITNAMI_13_8_8_KEYS, CHART, FIXTURES, HELMS, nested, objects, run, values_file

KEPT: dict[str, dict[str, Any]] = yaml.safe_load((FIXTURES / "bitnami-13.8.8-kept.yaml").read_text())
WHOLE_VALUES = values_file(nested(BITNAMI_13_8_8_KEYS))
QUORUM_PORTS = {"tcp-follower", "tcp-election"}


def render(case: str, helm: str) -> list[dict[str, Any]]:
    facts = KEPT[case]
    args = ["template", facts["release"], str(CHART), "-f", WHOLE_VALUES]
    for setting in facts["set"]:
        args += ["--set", setting]
    done = run(helm, *args)
    assert done.returncode == 0, done.stderr
    return objects(done.stdout)


def test_the_recorded_cases_cover_what_varies() -> None:
    """The fixture holds the cases the comparison needs: a release name holding the chart's name,
    fullname and name overrides, a selector label taken from podLabels, and every claim field."""
    releases = {facts["release"] for facts in KEPT.values()}
    assert "zookeeper" in releases and len(releases) >= 3
    claims = [claim for facts in KEPT.values() for claim in facts["statefulset"]["volumeClaimTemplates"]]
    fields = {key for claim in claims for key in [*claim["metadata"], *claim["spec"]]}
    assert {"labels", "annotations", "storageClassName", "selector", "accessModes", "resources"} <= fields
    instances = {f["statefulset"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] for f in KEPT.values()}
    assert instances - releases, "no case takes the instance label from podLabels"


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize("case", sorted(KEPT))
def test_upgrading_a_bitnami_release_changes_no_field_kubernetes_keeps(case: str, helm: str) -> None:
    facts = KEPT[case]
    rendered = render(case, helm)
    (sts,) = [doc for doc in rendered if doc["kind"] == "StatefulSet"]
    spec = sts["spec"]
    kept = facts["statefulset"]
    assert sts["metadata"]["name"] == kept["name"]
    assert spec["serviceName"] == kept["serviceName"]
    assert spec["selector"] == kept["selector"]
    assert spec["podManagementPolicy"] == kept["podManagementPolicy"]
    assert spec["volumeClaimTemplates"] == kept["volumeClaimTemplates"]
    labels = spec["template"]["metadata"]["labels"]
    assert {key: labels.get(key) for key in kept["podLabels"]} == kept["podLabels"]

    services = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Service"}
    assert set(services) == set(facts["services"])
    headless = kept["serviceName"]
    for name, ports in facts["services"].items():
        ours = [{"name": p["name"], "port": p["port"]} for p in services[name]["spec"]["ports"]]
        expected = ports if name == headless else [p for p in ports if p["name"] not in QUORUM_PORTS]
        assert ours == expected, name
        assert services[name]["spec"]["selector"] == kept["selector"]["matchLabels"], name


@pytest.mark.parametrize(
    ("args", "membership"),
    [
        (("-f", WHOLE_VALUES), "static"),  # Bitnami's ensembles are static: a roll mixes members
        (("-f", WHOLE_VALUES, "--set", "membership=dynamic"), "dynamic"),  # asked for
        (("--set", "diagnosticMode.enabled=false"), "static"),  # one of Bitnami's own keys
        (("-f", str(FIXTURES / "bitnami-values.yaml")), "dynamic"),  # Bitnami's common keys only
        ((), "dynamic"),
    ],
)
def test_membership_is_static_with_bitnamis_values_file(args: tuple[str, ...], membership: str) -> None:
    done = run("helm", "template", "zk", str(CHART), *args)
    assert done.returncode == 0, done.stderr
    (sts,) = [doc for doc in objects(done.stdout) if doc["kind"] == "StatefulSet"]
    env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ZK_MEMBERSHIP"] == membership
    secrets = [doc for doc in objects(done.stdout) if doc["kind"] == "Secret"]
    assert bool(secrets) == (membership == "dynamic")  # the super user's Secret: dynamic only


# What `helm get values --all` adds to Bitnami's values.yaml for its release: the computed values
# of its library chart, common 2.31.3 (its one value, and the parent's globals).
LIBRARY_VALUES = {
    "common": {
        "exampleValue": "common-chart",
        "global": {
            "compatibility": {"openshift": {"adaptSecurityContext": "auto"}},
            "defaultStorageClass": "",
            "imagePullSecrets": [],
            "imageRegistry": "",
            "security": {"allowInsecureImages": False},
            "storageClass": "",
        },
    }
}


@pytest.mark.parametrize("helm", HELMS)
def test_a_releases_computed_values_are_accepted_as_they_are(helm: str) -> None:
    """docs/migration.md takes the release's values with `helm get values --all`, which also
    prints the library chart's: accepted, and nothing renders otherwise for them."""
    computed = values_file({**nested(BITNAMI_13_8_8_KEYS), **LIBRARY_VALUES})
    with_library = run(helm, "template", "zk", str(CHART), "-f", computed)
    assert with_library.returncode == 0, with_library.stderr
    without = run(helm, "template", "zk", str(CHART), "-f", WHOLE_VALUES)

    def stable(text: str) -> list[dict[str, Any]]:
        return [doc for doc in objects(text) if doc["kind"] != "Secret"]  # a random password each render

    assert stable(with_library.stdout) == stable(without.stdout)
