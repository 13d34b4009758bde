"""What a probe costs: CPU and wall time of each probe command against a real ZooKeeper.

Run from the repository root with the interpreter whose zkboot install you want to measure
(``./dev bench`` uses a regular, not editable, install in .bench-venv, as ``pip install`` makes it):

    python tests/bench/bench_probe.py

It starts a standalone ZooKeeper through ``start-zookeeper`` (Debian's package or any other
installation zkboot finds) in a temporary directory on a free port, waits until it serves, then
runs each command below RUNS times, interleaved, and reports the medians of the child's CPU time
(user + sys from os.wait4's rusage, which includes the children it waited for, e.g. sh's nc) and
of the wall time:

    python -c pass                     the bare interpreter start (the same interpreter)
    zookeeper-ready PORT, zkOk.sh      the old probe names
    zkboot probe live|ready --port P   the new ones
    sh -c 'echo ruok | nc -q1 ...'     what the old image's probe did (skipped without nc)

Target: every probe's CPU median within 1.3x of the bare interpreter's.  It shares
tests/helpers.py, so the venv needs zkboot's test extras (``./dev bench`` installs them); not a
pytest module (no ``test_`` prefix).  Exit status: 0 when the target holds, 1 when it is missed,
2 when the benchmark could not run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.helpers
from tests.helpers import clean_env, four_letter, free_port, install_kind, script, stop

RUNS = 30
WARMUP = 2
TARGET_RATIO = 1.3  # every probe within 1.3x of `python -c pass`
START_TIMEOUT = 60.0
NC_HINT = "apt-get install -y netcat-openbsd"
BARE, NC = "python -c pass", "echo ruok | nc -q1"


class BenchError(Exception):
    pass


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one run, output discarded; BenchError unless it exits 0."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - start) * 1000
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise BenchError(f"{' '.join(argv)} exited {code}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    flags = [
        f"--conf_dir={root / 'conf'}",
        f"--data_dir={root / 'data'}",
        f"--data_log_dir={root / 'datalog'}",
        f"--log_dir={root / 'log'}",
        f"--client_port={port}",
        "--heap=128M",
    ]
    log = root / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [script("start-zookeeper"), *flags],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env(ZK_HOSTNAME="zk-0", JMXDISABLE="true"),
        )
    deadline = time.monotonic() + START_TIMEOUT
    while "Mode: " not in four_letter(port, "srvr"):
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise BenchError(f"start-zookeeper exited {process.returncode} before serving:\n{tail}")
        if time.monotonic() > deadline:
            stop(process)
            raise BenchError(f"ZooKeeper did not serve on port {port} within {START_TIMEOUT:g}s; see {log}")
        time.sleep(0.1)
    return process, port, log


def bytecode_note() -> str:
    """Whether the probe's modules load from cached bytecode or are compiled from source on every run.

    Asked of a child outside the repository, whose zkboot/ would shadow the installed one here.
    """
    code = "import importlib.util as u; s = u.find_spec('zkboot.cli.probe'); print(s.cached if s else '')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd="/")
    cached = done.stdout.strip()
    if not cached:
        return "unknown"
    if Path(cached).exists():
        return f"cached ({Path(cached).parent})"
    why = "PYTHONDONTWRITEBYTECODE is set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not writable there?"
    return f"NOT cached ({why}): every probe compiles zkboot's modules from source"


def commands(port: int) -> tuple[list[tuple[str, list[str], dict[str, str]]], str | None]:
    """(label, argv, env) of each command to time, and why nc is skipped (None when it is not)."""
    env = clean_env()
    probes = [
        (f"zookeeper-ready {port}", ["zookeeper-ready", str(port)], env),
        ("zkOk.sh", ["zkOk.sh"], clean_env(ZK_CLIENT_PORT=str(port))),
        ("zkboot probe live", ["zkboot", "probe", "live", "--port", str(port)], env),
        ("zkboot probe ready", ["zkboot", "probe", "ready", "--port", str(port)], env),
    ]
    found = [(BARE, [sys.executable, "-c", "pass"], env)]
    found += [(label, [script(argv[0]), *argv[1:]], probe_env) for label, argv, probe_env in probes]
    nc = shutil.which("nc")
    if nc is None:
        return found, f"nc is not installed; install it with: {NC_HINT}"
    shell = f"echo ruok | {nc} -q1 127.0.0.1 {port}"
    reply = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=10, check=False).stdout
    if reply.strip() != "imok":
        return found, f"{nc} did not get imok (got {reply.strip()[:40]!r}); is it netcat-openbsd? ({NC_HINT})"
    found.append((NC, ["/bin/sh", "-c", shell], env))
    return found, None


def measure(port: int) -> tuple[dict[str, list[tuple[float, float]]], str | None]:
    todo, skipped = commands(port)
    for _ in range(WARMUP):
        for _label, argv, env in todo:
            run_once(argv, env)
    results: dict[str, list[tuple[float, float]]] = {label: [] for label, _argv, _env in todo}
    for _ in range(RUNS):  # interleaved, so that machine noise hits every command alike
        for label, argv, env in todo:
            results[label].append(run_once(argv, env))
    return results, skipped


def report(results: dict[str, list[tuple[float, float]]], skipped: str | None) -> bool:
    cpu = {label: statistics.median(c for c, _w in runs) for label, runs in results.items()}
    wall = {label: statistics.median(w for _c, w in runs) for label, runs in results.items()}
    bare = cpu[BARE]
    nc = cpu.get(NC)
    width = max(len(label) for label in results)
    header = f"{'command':<{width}}  {'CPU ms':>7}  {'wall ms':>7}  {'CPU/bare':>8}  {'CPU/nc':>7}"
    print(header)
    print("-" * len(header))
    for label in results:
        vs_nc = f"{cpu[label] / nc:6.1f}x" if nc else f"{'-':>7}"
        print(f"{label:<{width}}  {cpu[label]:7.1f}  {wall[label]:7.1f}  {cpu[label] / bare:7.2f}x  {vs_nc}")
    if skipped:
        print(f"({NC}: skipped: {skipped})")
    print()
    probes = [label for label in results if label not in (BARE, NC)]
    worst = max(probes, key=lambda label: cpu[label])
    held = cpu[worst] <= TARGET_RATIO * bare
    print(
        f"target: every probe's CPU within {TARGET_RATIO}x of the bare interpreter ({TARGET_RATIO * bare:.1f} ms): "
        f"{'met' if held else 'MISSED'} (worst: {worst}, {cpu[worst] / bare:.2f}x)"
    )
    return held


def main() -> int:
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}), zkboot install: {install_kind()}")
    print(f"CPUs: {os.cpu_count()}, {RUNS} runs per command after {WARMUP} warm-up runs, medians")
    with tempfile.TemporaryDirectory(prefix="zkboot-bench-probe-") as tmp:
        try:
            process, port, _log = start_server(Path(tmp))
        except BenchError as exc:
            print(f"bench_probe: {exc}", file=sys.stderr)
            return 2
        try:
            print(f"ZooKeeper (pid {process.pid}) serving on 127.0.0.1:{port}")
            results, skipped = measure(port)
            print(f"zkboot bytecode after the runs: {bytecode_note()}")
            print()
        except (BenchError, RuntimeError) as exc:
            print(f"bench_probe: {exc}", file=sys.stderr)
            return 2
        finally:
            stop(process)
    return 0 if report(results, skipped) else 1


if __name__ == "__main__":
    sys.exit(main())
