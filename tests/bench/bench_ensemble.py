"""Ensemble start-up and recovery in the pod simulator, beside plain zkServer.sh in the same pods.

Run from the repository root, as root, with the project's interpreter:

    python tests/bench/bench_ensemble.py [--runs 3]

For each StatefulSet it boots the pods (podsim), then kills the leader (SIGKILL; the kubelet
restarts it) and reports the median [min-max] of ``--runs`` runs of:
- start -> serving: from the StatefulSet's creation until every server is a leader or follower
  (``srvr`` from the host, polled every 50 ms): how long the ensemble really takes;
- last pod -> serving: the same, from the last pod's container start (OrderedReady creates the
  pods one by one; its target is 5 s);
- start -> Ready: until every pod is Ready, as the kubelet sees it through the manifest's probes
  (so it includes the probes' periods: startup every 2 s, readiness every 5 s in manifests/base);
- kill -> serving, kill -> Ready: the same, from the leader's kill until the killed pod is back
  (restarted by the kubelet after podsim's 1 s back-off) and every pod serves / is Ready again;
- DNS misses: runs in which some server looked a peer's name up before that peer's pod existed
  (``UnknownHostException`` in its log).  The JDK keeps such a failure 10 s (java.security's
  negative DNS cache); zkboot turns that cache off, the baseline's plain zkServer.sh does not.

The pods run this interpreter's installed zkboot commands; run it with ``.bench-venv/bin/python``
(``./dev bench`` does) for a regular install, as the image has it.  The runs of the StatefulSets
are interleaved, so that the machine's drift hits each alike.  Targets: manifests/base's start ->
serving within 1.15x of the baseline's, the legacy overlay all serving within 5 s of the last pod's
start (medians); exit status 1 when one is missed.

StatefulSets: manifests/base (Parallel, ``zkboot probe live``/``ready``) and
manifests/overlays/legacy (OrderedReady, ``start-zookeeper`` flags, ``zookeeper-ready 2181`` for
every probe), with 3 and 5 pods; and the baseline: manifests/base with zkboot replaced by a shell
command that writes an equivalent zoo.cfg, myid and console log configuration by hand and execs
Debian's ``zkServer.sh start-foreground`` (same pods, probes, heap, ports; the log configuration so
that both servers log the same lines, and the baseline's misses show), so that zkboot's own share
shows as the ratio zkboot / baseline.  Not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
from podsim.cluster import Simulation, SimulationError
from podsim.manifest import StatefulSet
from tests.e2e.helpers import (
    BASE,
    LEGACY,
    SERVING,
    leader,
    load,
    log_text,
    missing_requirements,
    with_replicas,
)
from tests.helpers import DEBIAN_ZKSERVER, install_kind

TIMEOUT = 180.0
HEAP = "512m"  # what manifests/base gets from ZK_HEAP_SIZE=auto and its 1Gi limit, and legacy's --heap=512M
COLUMNS = ("start -> serving", "last pod -> serving", "start -> Ready", "kill -> serving", "kill -> Ready")
# OrderedReady: every pod serving within this many seconds of the last pod's container start.
ORDERED_TARGET = 5.0
# Parallel (manifests/base): start -> serving within this ratio of the baseline's (median).
PARALLEL_TARGET = 1.15
CONF = "/opt/zookeeper/conf"
# Debian's classpath plus an SLF4J binding (without one its server logs nothing), as zkboot's is.
CLASSPATH = ":".join(
    [
        CONF,
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/slf4j-log4j12.jar",
        "/usr/share/java/log4j-1.2.jar",
        "/usr/share/java/netty-codec.jar",
    ]
)
LOG4J = [
    "log4j.rootLogger=INFO, CONSOLE",
    "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender",
    "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n",
]


def baseline(replicas: int) -> StatefulSet:
    """manifests/base with a hand-written zoo.cfg and myid and a plain ``zkServer.sh start-foreground``."""
    sts = load(BASE)
    servers = [f"server.{i + 1}={sts.name}-{i}.{sts.domain}:2888:3888" for i in range(replicas)]
    config = [
        "clientPort=2181",
        "dataDir=/var/lib/zookeeper/data",
        "dataLogDir=/var/lib/zookeeper/log",
        "tickTime=2000",
        "initLimit=10",
        "syncLimit=5",
        "maxClientCnxns=60",
        "minSessionTimeout=4000",
        "maxSessionTimeout=40000",
        "autopurge.snapRetainCount=3",
        "autopurge.purgeInterval=0",
        *servers,
        "4lw.commands.whitelist=ruok,srvr,mntr",  # the probes need them, as zkboot's do
        "admin.enableServer=false",
    ]
    script = "\n".join(
        [
            "set -e",
            'host=$(hostname); ordinal="${host##*-}"',
            f"mkdir -p /var/lib/zookeeper/data /var/lib/zookeeper/log {CONF}",
            "[ -f /var/lib/zookeeper/data/myid ] || echo $((ordinal + 1)) > /var/lib/zookeeper/data/myid",
            f"printf '%s\\n' {shlex.join(config)} > {CONF}/zoo.cfg",
            f"printf '%s\\n' {shlex.join(LOG4J)} > {CONF}/log4j.properties",
            f"exec {DEBIAN_ZKSERVER} start-foreground {CONF}/zoo.cfg",
        ]
    )
    flags = f"-Xmx{HEAP} -Xms{HEAP} -Dlog4j.configuration=file:{CONF}/log4j.properties -cp {CLASSPATH}"
    return dataclasses.replace(sts, replicas=replicas, command=("sh", "-c", script), env={"SERVER_JVMFLAGS": flags})


def all_serving(sim: Simulation) -> bool:
    modes = [sim.mode(i) for i in range(sim.replicas)]
    return all(mode in SERVING for mode in modes) and modes.count("leader") == 1


def watch(sim: Simulation, since: float, back: tuple[int, int] | None = None) -> tuple[float, float]:
    """Seconds from ``since`` until all serve and until all are Ready; with ``back`` (ordinal,
    restarts before its kill), only once that pod has been restarted."""
    serving = ready = None
    while serving is None or ready is None:
        now = time.monotonic()
        if now - since > TIMEOUT:
            raise SimulationError(f"not serving and Ready after {TIMEOUT:g}s\n{sim.table()}")
        if back is None or sim.pods[back[0]].restarts > back[1]:
            if ready is None and sim.ready_count() >= sim.replicas:
                ready = now - since
            if serving is None and all_serving(sim):
                serving = now - since
        time.sleep(0.05)
    return serving, ready


def one_run(sts: StatefulSet, bin_dir: Path) -> tuple[list[float], bool]:
    """The five timings of one boot and leader kill, and whether a peer name went unresolved."""
    with Simulation(sts, image_bin=bin_dir) as sim:
        start = time.monotonic()
        sim.start()
        serving, ready = watch(sim, start)
        # The last container start, on the same clock (podsim's pods record time.monotonic()).
        last_start = max(sim.pods[i].started_at for i in range(sim.replicas)) - start
        old = leader(sim)
        restarts = sim.pods[old].restarts
        killed = time.monotonic()
        sim.kill(old)
        serving_again, ready_again = watch(sim, killed, (old, restarts))
        missed = any("UnknownHostException" in log_text(sim, i) for i in range(sim.replicas))
    return [serving, serving - last_start, ready, serving_again, ready_again], missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    problem = missing_requirements()
    if problem:
        print(f"bench_ensemble: {problem}", file=sys.stderr)
        return 1

    configs: list[tuple[str, int, StatefulSet]] = []
    for replicas in (3, 5):
        configs.append(("zkboot manifests/base", replicas, with_replicas(load(BASE), replicas)))
        configs.append(("zkboot overlays/legacy", replicas, with_replicas(load(LEGACY), replicas)))
        configs.append(("baseline zkServer.sh", replicas, baseline(replicas)))

    bin_dir = Path(sys.executable).parent
    print(f"zkboot: {install_kind()} install of {sys.executable} ({bin_dir})", file=sys.stderr)
    results: dict[tuple[str, int], list[tuple[list[float], bool]]] = {(n, r): [] for n, r, _ in configs}
    for run in range(args.runs):
        for name, replicas, sts in configs:
            result, missed = one_run(sts, bin_dir)
            results[name, replicas].append((result, missed))
            seconds = ", ".join(f"{value:.2f}s" for value in result) + (" (DNS miss)" if missed else "")
            print(f"  {name}, {replicas} pods, run {run + 1}: {seconds}", file=sys.stderr, flush=True)

    medians: dict[tuple[str, int], list[float]] = {}
    bests: dict[tuple[str, int], list[float]] = {}
    rows = []
    for name, replicas, sts in configs:
        runs = [result for result, _missed in results[name, replicas]]
        misses = sum(missed for _result, missed in results[name, replicas])
        columns = list(zip(*runs, strict=True))
        medians[name, replicas] = [statistics.median(column) for column in columns]
        bests[name, replicas] = [min(column) for column in columns]
        cells = [f"{statistics.median(c):6.2f} [{min(c):5.2f}-{max(c):5.2f}]" for c in columns]
        rows.append([name, str(replicas), sts.policy, *cells, f"{misses} of {args.runs}"])

    header = ["StatefulSet", "pods", "policy", *(f"{c} (s)" for c in COLUMNS), "DNS misses"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"median [min-max] of {args.runs} runs; heap {HEAP} everywhere; podsim back-off 1 s before a restart")
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print()
    print("zkboot manifests/base / baseline (same pods, probes, heap and log output), medians and best runs:")
    for replicas in (3, 5):
        for label, table in (("median", medians), ("best", bests)):
            zkboot, plain = table["zkboot manifests/base", replicas], table["baseline zkServer.sh", replicas]
            ratios = ", ".join(f"{c} {z / b:.2f}x" for c, z, b in zip(COLUMNS, zkboot, plain, strict=True))
            print(f"  {replicas} pods, {label:6}: {ratios}")
    met = True
    for replicas in (3, 5):
        ratio = medians["zkboot manifests/base", replicas][0] / medians["baseline zkServer.sh", replicas][0]
        met = met and ratio <= PARALLEL_TARGET
        verdict = "within" if ratio <= PARALLEL_TARGET else "NOT within"
        print(f"  manifests/base (Parallel), {replicas} pods: start -> serving {ratio:.2f}x the baseline's "
              f"(median), {verdict} the {PARALLEL_TARGET:g}x target")  # fmt: skip
    for replicas in (3, 5):
        ordered = medians["zkboot overlays/legacy", replicas][1]
        met = met and ordered <= ORDERED_TARGET
        verdict = "within" if ordered <= ORDERED_TARGET else "NOT within"
        print(f"  overlays/legacy (OrderedReady), {replicas} pods: all serving {ordered:.2f}s after the last "
              f"pod's start (median), {verdict} the {ORDERED_TARGET:g} s target")  # fmt: skip
    print()
    print("Ready is the kubelet's view through the probes, quantized by their periods (a readiness run that")
    print("comes before the server serves waits a whole periodSeconds for the next); serving is the servers'.")
    print("The legacy overlay's Ready is liveness (ruok), not serving: OrderedReady starts zk-0 before its")
    print("peers' names exist, so every run has DNS misses; zkboot turns the JVM's cache of failed lookups")
    print("off (java.security), so a member finds each peer as soon as its pod exists.")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
