"""``python -m podsim``: boot a StatefulSet's pods on this machine and watch them (needs root).

    python -m podsim                         # zkboot's manifests/base, 3 pods, with a demonstration
    python -m podsim --manifest manifests/overlays/legacy
    python -m podsim --seed path/to/article.txt --replicas 3   # an article's cat <<END>x.yaml block

It prints the status table whenever it changes while the pods come up (a progress line every few
seconds in between), then writes a znode through the first pod and reads it through the last,
and keeps running (table on every change) until Ctrl-C, when it removes everything it made.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from podsim.cluster import Simulation, SimulationError
from podsim.manifest import StatefulSet, load_kustomization, load_seed, load_yaml

REPO = Path(__file__).resolve().parent.parent


def load(args: argparse.Namespace) -> StatefulSet:
    if args.seed:
        sts = load_seed(Path(args.seed))
    elif Path(args.manifest).is_dir():
        sts = load_kustomization(Path(args.manifest))
    else:
        sts = load_yaml(Path(args.manifest).read_text())
    if args.replicas:
        env = dict(sts.env)
        if "ZK_REPLICAS" in env:
            env["ZK_REPLICAS"] = str(args.replicas)
        sts = dataclasses.replace(sts, replicas=args.replicas, env=env)
    return sts


def demonstrate(sim: Simulation) -> None:
    from kazoo.client import KazooClient  # type: ignore[import-untyped]

    first, last = min(sim.pods), max(sim.pods)
    writer = KazooClient(hosts=f"{sim.address(first)}:2181", timeout=10)
    reader = KazooClient(hosts=f"{sim.address(last)}:2181", timeout=10)
    writer.start(timeout=30)
    reader.start(timeout=30)
    try:
        path = writer.create("/podsim/demo-", b"written through " + sim.pods[first].hostname.encode(),
                             makepath=True, sequence=True)  # fmt: skip
        reader.sync(path)
        value, stat = reader.get(path)
        print(f"\nwrote {path} through {sim.pods[first].hostname} ({sim.address(first)}), "
              f"read it through {sim.pods[last].hostname} ({sim.address(last)}): {value.decode()!r}, "
              f"zxid {stat.czxid:#x}\n", flush=True)  # fmt: skip
    finally:
        for client in (writer, reader):
            client.stop()
            client.close()


def watch(sim: Simulation, until: float | None, want_ready: int | None) -> None:
    """Print the table when it changes (and a progress line every 5 s); return at the goal."""
    shown = ""
    start = last_progress = time.monotonic()
    while until is None or time.monotonic() < until:
        table = sim.table()
        if table != shown:
            print(f"\n[{time.monotonic() - start:5.1f}s]\n{table}", flush=True)
            shown = table
            last_progress = time.monotonic()
        elif want_ready is not None and time.monotonic() - last_progress > 5:
            print(f"[{time.monotonic() - start:5.1f}s] {sim.ready_count()} of {sim.replicas} Ready ...", flush=True)
            last_progress = time.monotonic()
        if want_ready is not None and sim.ready_count() >= want_ready:
            return
        time.sleep(0.5)
    if want_ready is not None:
        raise SimulationError(f"not all {want_ready} pods Ready in time\n{sim.table()}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m podsim", description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default=str(REPO / "manifests" / "base"), help="kustomize dir or YAML file")
    parser.add_argument("--seed", help="a seed article holding a cat <<END>x.yaml block")
    parser.add_argument("--replicas", type=int, help="override spec.replicas (and ZK_REPLICAS)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for all pods Ready")
    parser.add_argument("--no-demo", action="store_true", help="skip the write/read demonstration")
    parser.add_argument("--once", action="store_true", help="exit once all pods are Ready (and demonstrated)")
    args = parser.parse_args()
    try:
        sts = load(args)
        with Simulation(sts) as sim:
            print(f"podsim run {sim.run_id}: StatefulSet {sts.name} ({sts.replicas} pods, {sts.policy}), "
                  f"pods on {sim.net.subnet}, files under {sim.root}", flush=True)  # fmt: skip
            sim.start()
            if sim.removed_runs:
                gone = ", ".join(sim.removed_runs)
                print(f"removed what runs {gone} left behind (their owners are gone)", flush=True)
            watch(sim, time.monotonic() + args.timeout, sts.replicas)
            if not args.no_demo:
                demonstrate(sim)
            if args.once:
                return 0
            print("running; Ctrl-C to stop and clean up", flush=True)
            watch(sim, None, None)
    except KeyboardInterrupt:
        print("\nstopped; cleaned up", flush=True)
        return 0
    except SimulationError as exc:
        print(f"podsim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
