"""A release Bitnami's chart made, taken over in place by this chart (``helm upgrade`` with the
release's values), from the image: the same names, the same PVCs, the data kept.

The Bitnami-made ensemble is tests/fixtures/bitnami-13.8.8-statefulset.yaml: three members with
Bitnami's names, its uid 1001, its mount /bitnami/zookeeper, its zoo.cfg and myid (ordinal + 1)
written by a stand-in for its scripts, snapshots and transaction logs together in
/bitnami/zookeeper/data.  The chart is rendered with Bitnami 13.8.8's whole values.yaml (rebuilt
from tests/fixtures/helm/bitnami-13.8.8-keys.yaml) and the same overrides as that release
(OVERRIDES), and applied to the running StatefulSet as ``helm upgrade`` applies it: podsim's update
refuses any change to what Kubernetes keeps (name, serviceName, selector, podManagementPolicy,
volumeClaimTemplates), and the rolling update replaces the members highest ordinal first, so that
for a while members the chart started serve beside members still on Bitnami's configuration.

Judged by what ZooKeeper did: a writer and a leader watch through the roll (serving throughout,
never two leaders), every acknowledged write and every znode written before on every member,
Prometheus metrics scraped from every member's provider, myid unchanged, and every file of each
volume that ZooKeeper does not write itself byte for byte, mode and owner as it was; then
``helm rollback`` (Bitnami's StatefulSet again) with every write still there.  Also the simple
case: every member stopped, then the chart's started.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet, from_documents
from tests.e2e.helpers import (
    FIXTURES,
    IMAGE_MODE,
    READY_TIMEOUT,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    load,
    missing_requirements,
    read_children,
    wait_healthy,
    write_children,
)
from tests.helm import BITNAMI_13_8_8_KEYS, CHART, nested, objects, run, values_file

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]

BITNAMI = FIXTURES / "bitnami-13.8.8-statefulset.yaml"
RELEASE = "zk"
# What the release was installed with, over Bitnami's defaults (the fixture is its render).
OVERRIDES = {
    "replicaCount": 3,
    "heapSize": 256,
    "metrics": {"enabled": True},
    "resources": {"requests": {"memory": "512Mi"}, "limits": {"memory": "768Mi"}},
}
METRICS_PORT = 9141
MEMBERS = 3
OLD = "/written-by-bitnami"
OLD_COUNT = 200
OLD_ZNODES = {f"n-{i:03d}": f"Bitnami's members wrote {i}".encode() for i in range(OLD_COUNT)}
# The files of a member's volume that ZooKeeper itself writes (relative to the volume).
ZOOKEEPER_WRITES = re.compile(
    r"^data/version-2/(log\.[0-9a-f]+|snapshot\.[0-9a-f]+|currentEpoch|acceptedEpoch|updatingEpoch)$"
)
ZOOKEEPER_DIRS = {"data/version-2"}  # its entries change as ZooKeeper writes


def chart_statefulset() -> StatefulSet:
    """This chart's StatefulSet for the release, from its whole values file and its overrides."""
    values = nested(BITNAMI_13_8_8_KEYS)
    done = run("helm", "template", RELEASE, str(CHART), "-f", values_file(values), "-f", values_file(OVERRIDES))
    assert done.returncode == 0, done.stderr
    return from_documents(objects(done.stdout))


def volume_files(pvc: Path) -> dict[str, tuple[object, ...]]:
    """Every entry of a volume but ZooKeeper's own files: kind, mode, owner, and a file's content
    and modification time; a directory ZooKeeper writes in, without its modification time."""
    found: dict[str, tuple[object, ...]] = {}
    for path in [pvc, *sorted(pvc.rglob("*"))]:
        name = path.relative_to(pvc).as_posix()
        if ZOOKEEPER_WRITES.match(name):
            continue
        st = path.lstat()
        entry: tuple[object, ...] = (st.st_mode, st.st_uid, st.st_gid)
        if path.is_file():
            entry += (st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        elif name not in ZOOKEEPER_DIRS:
            entry += (st.st_mtime_ns,)
        found[name] = entry
    return found


def scrape(sim: Simulation, ordinal: int) -> dict[str, float]:
    """The provider's samples at pod ``ordinal``'s metrics port, parsed as Prometheus parses them."""
    url = f"http://{sim.address(ordinal)}:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read(4 << 20).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def boot_bitnamis(sim: Callable[..., Simulation]) -> tuple[Simulation, dict[int, dict[str, tuple[object, ...]]]]:
    """Bitnami's ensemble serving with OLD written; each member's volume as it is then."""
    s = sim(BITNAMI)
    wait_healthy(s, what="Bitnami's members")
    write_children(s, OLD, OLD_ZNODES)
    assert [s.myid(i) for i in range(MEMBERS)] == ["1", "2", "3"]
    return s, {i: volume_files(s.pvc_dir(i, "data")) for i in range(MEMBERS)}


def assert_taken_over(s: Simulation, volumes: dict[int, dict[str, tuple[object, ...]]]) -> None:
    for ordinal in range(MEMBERS):
        assert read_children(s, ordinal, OLD) == OLD_ZNODES, f"zk-zookeeper-{ordinal}: not every znode Bitnami's wrote"
    assert [s.myid(i) for i in range(MEMBERS)] == ["1", "2", "3"]
    for ordinal in range(MEMBERS):
        after = volume_files(s.pvc_dir(ordinal, "data"))
        assert after == volumes[ordinal], f"zk-zookeeper-{ordinal}: a file of its volume changed"
        assert (s.pvc_dir(ordinal, "data") / "data" / "version-2").is_dir()
        assert not (s.pvc_dir(ordinal, "data") / "log").exists(), "a second log dir beside the data dir's"
    for ordinal in range(MEMBERS):
        samples = scrape(s, ordinal)
        assert samples["znode_count"] >= OLD_COUNT, f"zk-zookeeper-{ordinal}: {samples.get('znode_count')}"


def test_the_fixture_is_bitnamis_render() -> None:
    """What the fixture says of itself: the fields Kubernetes keeps are those recorded from
    Bitnami's render (tests/fixtures/helm/bitnami-13.8.8-kept.yaml), and this chart keeps them."""
    kept = yaml.safe_load((FIXTURES / "helm" / "bitnami-13.8.8-kept.yaml").read_text())["three-members"]
    bitnami = load(BITNAMI)
    (claim,) = kept["statefulset"]["volumeClaimTemplates"]
    claim["spec"]["resources"]["requests"]["storage"] = "8Gi"  # that case asked for 20Gi
    del claim["spec"]["storageClassName"]  # and for a class
    assert (bitnami.name, bitnami.service, dict(bitnami.selector)) == (
        kept["statefulset"]["name"],
        kept["statefulset"]["serviceName"],
        kept["statefulset"]["selector"]["matchLabels"],
    )
    assert yaml.safe_load(bitnami.claim_templates) == [claim]
    assert chart_statefulset().immutable() == bitnami.immutable()


@IMAGE_MODE
def test_helm_upgrade_rolls_a_bitnami_ensemble_onto_the_chart_keeping_its_data(
    sim: Callable[..., Simulation],
) -> None:
    s, volumes = boot_bitnamis(sim)
    chart = chart_statefulset()
    assert chart.env["ZK_MEMBERSHIP"] == "static"  # Bitnami's ensemble is static: no reconfiguration

    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        before = len(writer.acknowledged)
        s.update(chart)
        took = s.wait(s.rollout_done, MEMBERS * READY_TIMEOUT, "the rollout onto the chart")
        rolled = len(writer.acknowledged)
        wait_healthy(s, what="after the rollout onto the chart")
        writer.wait_for(len(writer.acknowledged) + 20, 60)

    assert all(s.revision_of(i) == s.revision for i in range(MEMBERS)) and s.revision == 2
    assert [s.creations(i) for i in range(MEMBERS)] == [2, 2, 2]
    assert rolled - before > 0, "no write was acknowledged while the members were being replaced"
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    assert_taken_over(s, volumes)
    print(
        f"\nBitnami -> chart rolling update: rollout done in {took:.1f}s; {len(writer.acknowledged)} writes "
        f"acknowledged ({rolled - before} during the roll), {writer.failed.total()} failed attempts, 0 lost; "
        f"leaders in turn {watch.leaders_in_turn()}; {watch.summary()}"
    )

    # helm rollback: Bitnami's StatefulSet again (revision 1's template), rolled the same way.
    acknowledged = set(writer.acknowledged)
    assert s.update(load(BITNAMI)) == 1
    back = s.wait(s.rollout_done, MEMBERS * READY_TIMEOUT, "the rollback onto Bitnami's StatefulSet")
    wait_healthy(s, what="after the rollback")
    assert [s.creations(i) for i in range(MEMBERS)] == [3, 3, 3]
    assert_all_members_agree(s, acknowledged)
    assert all(read_children(s, ordinal, OLD) == OLD_ZNODES for ordinal in range(MEMBERS))
    assert [s.myid(i) for i in range(MEMBERS)] == ["1", "2", "3"]
    print(f"rolled back onto Bitnami's StatefulSet in {back:.1f}s, every write still on every member")


@IMAGE_MODE
def test_a_stopped_bitnami_ensemble_starts_on_the_chart_with_its_data(sim: Callable[..., Simulation]) -> None:
    s, volumes = boot_bitnamis(sim)
    s.scale(0)
    s.wait(lambda: s.ordinals() == [], READY_TIMEOUT, "every Bitnami member stopped")
    s.update(dataclasses.replace(chart_statefulset(), replicas=MEMBERS))
    took = wait_healthy(s, what="the chart's members on Bitnami's volumes")
    assert all(s.revision_of(i) == 2 for i in range(MEMBERS))
    assert_taken_over(s, volumes)
    print(f"\nBitnami stopped -> chart started: serving after {took:.1f}s")
