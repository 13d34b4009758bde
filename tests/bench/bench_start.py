"""Start-up overhead of ``start-zookeeper``: launch to the exec of zkServer.sh.

Run from the repository root with the project's interpreter:

    python tests/bench/bench_start.py

It times ``start-zookeeper`` (settings, identity, installation, rendering, atomic writes, exec)
against a stub zkServer.sh that exits at once, and ``python -c pass`` with the same interpreter,
each the median of 20 runs after a warm-up.  Targets: under 150 ms, and under 8x the bare
interpreter.  Not a pytest module (no ``test_`` prefix): pytest does not collect it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.conftest
from tests.conftest import clean_env, script, stub_home

RUNS = 20
TARGET_MS = 150.0
TARGET_RATIO = 8.0


def time_runs(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall time in ms of each run; every run must exit 0."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if result.returncode != 0:
            sys.exit(f"{argv[0]} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
        times.append(elapsed)
    return times


def main() -> int:
    start_zookeeper = script("start-zookeeper")
    with tempfile.TemporaryDirectory(prefix="zkboot-bench-") as tmp:
        root = Path(tmp)
        marker = root / "exec-happened"
        home = stub_home(root / "zookeeper", f": > {marker}\nexit 0\n", jars=["zookeeper-3.8.4.jar"])
        env = clean_env(root, ZK_HOSTNAME="zk-0")
        command = [start_zookeeper, f"--zookeeper-home={home}"]
        bare = [sys.executable, "-c", "pass"]

        time_runs(command, env, 2)  # warm-up: first write of every file, page cache
        time_runs(bare, env, 2)
        if not marker.exists():
            sys.exit("the stub zkServer.sh never ran: start-zookeeper did not exec it")
        marker.unlink()
        # Interleave so that machine noise hits both alike.
        zk_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(RUNS):
            zk_times += time_runs(command, env, 1)
            bare_times += time_runs(bare, env, 1)
        if not marker.exists():
            sys.exit("the stub zkServer.sh never ran during the timed runs")

    zk = statistics.median(zk_times)
    py = statistics.median(bare_times)
    ratio = zk / py
    under_ms = zk < TARGET_MS
    under_ratio = ratio < TARGET_RATIO
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]})")
    print(f"start-zookeeper -> exec zkServer.sh: median {zk:.1f} ms of {RUNS} (min {min(zk_times):.1f})")
    print(f"python -c pass:                      median {py:.1f} ms of {RUNS} (min {min(bare_times):.1f})")
    print(f"ratio: {ratio:.2f}x")
    print(f"target < {TARGET_MS:.0f} ms: {'met' if under_ms else 'MISSED'}")
    print(f"target < {TARGET_RATIO:.0f}x bare interpreter: {'met' if under_ratio else 'MISSED'}")
    return 0 if under_ms and under_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
