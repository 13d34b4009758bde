"""Changing the ensemble's size in the pod simulator: dynamic membership beside the static roll.

Run from the repository root, as root, with the project's interpreter:

    python tests/bench/bench_membership.py [--runs 3]

Each run boots ``manifests/base`` with 3 pods and keeps a writer (a znode every 50 ms) and a
leader watch (every pod's ``srvr`` every 100 ms) going, then:
- dynamic (manifests/base, ``ZK_MEMBERSHIP=dynamic``): ``scale 5`` -> all 5 serving; ``zkboot shrink --replicas 3``
  in pod 0 -> committed; ``scale 3``; then every acknowledged write is read back from every member;
- static (the old way: ``ZK_REPLICAS`` and ``replicas`` changed together, a rolling update): until
  both new pods have been refused by zkboot's membership guard; the roll stalls there (it never
  completes), and the writes are read back from the three members that serve.
It prints, per run and as the median, the seconds, the writes acknowledged and lost, and the most
leaders seen at once.  Not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
from podsim.cluster import Simulation
from tests.e2e.helpers import (
    BASE,
    LeaderWatch,
    Writer,
    load,
    log_text,
    missing_requirements,
    read_member,
    with_replicas,
)
from tests.e2e.helpers import srvr as ask_srvr

TIMEOUT = 180.0
REFUSAL = "refusing, since two configurations must never each hold a quorum"


def serving(sim: Simulation, count: int) -> bool:
    modes = [a.mode if a is not None else "-" for a in (ask_srvr(sim, i) for i in range(count))]
    return all(m in ("leader", "follower") for m in modes) and modes.count("leader") == 1


def lost(sim: Simulation, ordinals: range, acknowledged: list[str]) -> int:
    views = [read_member(sim, i, set(acknowledged)) for i in ordinals]
    if any(v.error for v in views):
        raise RuntimeError("; ".join(f"{v.error}" for v in views if v.error))
    return len(set().union(*(set(v.missing) for v in views)))


def dynamic_run() -> dict[str, float]:
    with Simulation(load(BASE)) as sim:
        sim.start()
        sim.wait(lambda: serving(sim, 3), TIMEOUT, "3 serving")
        with LeaderWatch(sim) as watch, Writer(sim) as writer:
            writer.wait_for(20, 60)
            sim.scale(5)
            grow = sim.wait(lambda: serving(sim, 5), TIMEOUT, "5 serving")
            pod = sim.pods[0]
            assert pod.process is not None  # kubectl exec: the container's mount, network and UTS namespaces
            argv = ["nsenter", "-t", str(pod.process.pid), "-m", "-n", "-u", "--"]
            began = time.monotonic()
            done = subprocess.run([*argv, "zkboot", "shrink", "--replicas", "3"], env=pod.env, capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
            shrink = time.monotonic() - began
            if done.returncode != 0:
                raise RuntimeError(done.stderr)
            sim.scale(3)
            sim.wait(lambda: sim.ordinals() == [0, 1, 2], TIMEOUT, "pods 3, 4 gone")
            writer.wait_for(len(writer.acknowledged) + 20, 60)
        return {
            "scale -> serving": grow,
            "shrink -> committed": shrink,
            "acknowledged": len(writer.acknowledged),
            "lost": lost(sim, range(3), writer.acknowledged),
            "max leaders": watch.max_leaders,
        }


def static_run() -> dict[str, float]:
    base = load(BASE)
    with Simulation(dataclasses.replace(base, env={**base.env, "ZK_MEMBERSHIP": "static"})) as sim:
        sim.start()
        sim.wait(lambda: serving(sim, 3), TIMEOUT, "3 serving")
        with LeaderWatch(sim) as watch, Writer(sim) as writer:
            writer.wait_for(20, 60)
            sim.update(with_replicas(sim.sts, 5))
            refused = sim.wait(lambda: all(REFUSAL in log_text(sim, i) for i in (3, 4)), TIMEOUT, "both refused")
            writer.wait_for(len(writer.acknowledged) + 20, 60)
            stalled = not sim.rollout_done()
        return {
            "update -> both refused": refused,
            "roll stalled": float(stalled),
            "acknowledged": len(writer.acknowledged),
            "lost": lost(sim, range(3), writer.acknowledged),
            "max leaders": watch.max_leaders,
        }


def show(name: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{name} ({len(runs)} runs)")
    for key in runs[0]:
        values = [run[key] for run in runs]
        print(f"  {key:<24} median {statistics.median(values):8.2f}   runs {', '.join(f'{v:g}' for v in values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    problem = missing_requirements()
    if problem:
        print(f"bench_membership: {problem}", file=sys.stderr)
        return 1
    dynamic = [dynamic_run() for _ in range(args.runs)]
    static = [static_run() for _ in range(args.runs)]
    show("dynamic membership: kubectl scale 3 -> 5, zkboot shrink --replicas 3, scale 3", dynamic)
    show("static membership, the old way: ZK_REPLICAS and replicas 3 -> 5, rolling update", static)
    return 0


if __name__ == "__main__":
    sys.exit(main())
