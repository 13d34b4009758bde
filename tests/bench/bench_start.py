"""Start-up overhead of ``start-zookeeper`` and ``zkboot start``: launch to the exec of zkServer.sh.

Run from the repository root with the project's interpreter:

    python tests/bench/bench_start.py

It times ``start-zookeeper`` (the old manifests' command) and ``zkboot start`` (manifests/base's
and the Helm chart's): settings, identity, installation, rendering, atomic writes, exec, against a
stub zkServer.sh that exits at once, and ``python -c pass`` with the same interpreter, each the
median of 20 runs after a warm-up, interleaved.  Target: ``start-zookeeper`` under 150 ms (``zkboot
start`` is shown beside it).  Exit status 0 when the target holds, 1 when it is missed.  Not a
pytest module (no ``test_`` prefix): pytest does not collect it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.helpers
from tests.helpers import clean_env, script, stub_home

RUNS = 20
TARGET_MS = 150.0  # start-zookeeper, launch to the exec of zkServer.sh


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
    with tempfile.TemporaryDirectory(prefix="zkboot-bench-") as tmp:
        root = Path(tmp)
        marker = root / "exec-happened"
        home = stub_home(root / "zookeeper", f": > {marker}\nexit 0\n", jars=["zookeeper-3.8.4.jar"])
        env = clean_env(root, ZK_HOSTNAME="zk-0")
        commands = {
            "start-zookeeper": [script("start-zookeeper"), f"--zookeeper-home={home}"],
            "zkboot start": [script("zkboot"), "start", f"--zookeeper-home={home}"],
        }
        bare = [sys.executable, "-c", "pass"]

        for command in commands.values():  # warm-up: first write of every file, page cache
            time_runs(command, env, 2)
            if not marker.exists():
                sys.exit(f"the stub zkServer.sh never ran: {command[0]} did not exec it")
            marker.unlink()
        time_runs(bare, env, 2)
        # Interleave so that machine noise hits all alike.
        times: dict[str, list[float]] = {name: [] for name in commands}
        bare_times: list[float] = []
        for _ in range(RUNS):
            for name, command in commands.items():
                times[name] += time_runs(command, env, 1)
            bare_times += time_runs(bare, env, 1)

    py = statistics.median(bare_times)
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]})")
    print(f"{'python -c pass':18} median {py:5.1f} ms of {RUNS} (min {min(bare_times):.1f})")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:18} median {median:5.1f} ms of {RUNS} (min {min(values):.1f}) -> exec zkServer.sh, "
              f"{median / py:.2f}x the bare interpreter")  # fmt: skip
    met = statistics.median(times["start-zookeeper"]) < TARGET_MS
    print(f"target: start-zookeeper to the exec of zkServer.sh under {TARGET_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
