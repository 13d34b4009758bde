"""The probe console scripts, run as Kubernetes runs them (the installed files, in a subprocess),
against the fake servers of tests/fakes.py: exit 0 pass, 1 fail with one line on stderr naming
why, 2 usage; a deadline that holds when a server accepts and never answers; and no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import (
    Canned,
    ClosesAtOnce,
    FakeAdmin,
    FakeServer,
    Garbage,
    NeverAnswers,
    NotServing,
    NotWhitelisted,
    admin_routes,
    admin_routes_not_serving,
    srvr_text,
)
from tests.helpers import clean_env, free_port, script

KINDS = ("refused", "timed out", "not in the 4lw whitelist", "not serving", "unexpected reply")
DEFAULT_TIMEOUT = 0.8
START_ALLOWANCE = 3.0  # the interpreter's start on a loaded CI machine, and then some: a bound, not a target


@dataclass
class Ran:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    elapsed: float


def run(argv: Sequence[str], env: Mapping[str, str] | None = None, **extra: str) -> Ran:
    """Run a console script (argv[0] names it) with a clean environment plus ``extra``."""
    full = [script(argv[0]), *argv[1:]]
    start = time.monotonic()
    done = subprocess.run(
        full, capture_output=True, text=True, timeout=10, env=dict(env) if env is not None else clean_env(**extra)
    )
    return Ran(list(argv), done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def run_many(commands: Sequence[tuple[Sequence[str], dict[str, str]]]) -> list[Ran]:
    """Several commands at once (each timed on its own), for those that must wait out a deadline."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda c: run(c[0], **c[1]), commands))


def probe_commands(port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every probe entry point, aimed at ``port``, by a short name: (argv, extra environment)."""
    return {
        "zookeeper-ready": (["zookeeper-ready", str(port)], {}),
        "zkOk.sh": (["zkOk.sh"], {"ZK_CLIENT_PORT": str(port)}),
        "probe live": (["zkboot", "probe", "live", "--port", str(port)], {}),
        "probe ready": (["zkboot", "probe", "ready", "--port", str(port)], {}),
    }


LIVE = ("zookeeper-ready", "zkOk.sh", "probe live")


def one_line(ran: Ran) -> str:
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and ran.stderr.endswith("\n"), f"{ran.argv}: stderr {ran.stderr!r}"
    return lines[0]


def assert_fails_with(ran: Ran, kind: str) -> None:
    assert ran.code == 1, f"{ran.argv}: exit {ran.code}, stderr {ran.stderr!r}"
    line = one_line(ran)
    assert f"({kind})" in line, f"{ran.argv}: {line!r} does not name {kind!r}"
    for other in KINDS:
        if other != kind:
            assert f"({other})" not in line, f"{ran.argv}: {line!r} names {other!r} too"
    assert ran.stdout == ""


def assert_passes(ran: Ran) -> None:
    assert (ran.code, ran.stderr, ran.stdout) == (0, "", ""), ran


# --- against each fake -----------------------------------------------------------------------------


def test_all_pass_against_a_healthy_server() -> None:
    with Canned() as fake:
        for argv, extra in probe_commands(fake.port).values():
            assert_passes(run(argv, **extra))
        assert sorted(fake.commands) == ["ruok", "ruok", "ruok", "srvr"]


@pytest.mark.parametrize(
    ("fake_factory", "live_kind", "ready_kind"),
    [
        (NotWhitelisted, "not in the 4lw whitelist", "not in the 4lw whitelist"),
        (Garbage, "unexpected reply", "unexpected reply"),
        (ClosesAtOnce, "unexpected reply", "unexpected reply"),
        (NotServing, None, "not serving"),
        (lambda: Canned({"ruok": "imok", "srvr": srvr_text("looking")}), None, "not serving"),
    ],
    ids=["whitelist", "garbage", "closes", "not-serving", "looking"],
)
def test_each_failure_is_named(fake_factory: Callable[[], FakeServer], live_kind: str | None, ready_kind: str) -> None:
    with fake_factory() as fake:
        results = {name: run(argv, **extra) for name, (argv, extra) in probe_commands(fake.port).items()}
    for name, ran in results.items():
        kind = live_kind if name in LIVE else ready_kind
        if kind is None:
            assert_passes(ran)
        else:
            assert_fails_with(ran, kind)


def test_refused() -> None:
    port = free_port()
    for argv, extra in probe_commands(port).values():
        ran = run(argv, **extra)
        assert_fails_with(ran, "refused")
        assert f"127.0.0.1:{port} refused the connection" in ran.stderr


def test_not_serving_is_live_and_not_ready() -> None:
    # A member without quorum: restarting it would not help (live), clients must not use it (ready).
    with NotServing() as fake:
        live = run(["zkboot", "probe", "live", "--port", str(fake.port)])
        ready = run(["zkboot", "probe", "ready", "--port", str(fake.port)])
    assert_passes(live)
    assert_fails_with(ready, "not serving")
    assert (
        one_line(ready) == f"zkboot probe ready: not ready (not serving): 127.0.0.1:{fake.port} is not serving requests"
    )


def test_never_answers_times_out_within_the_default_deadline() -> None:
    with NeverAnswers() as fake:
        results = run_many(list(probe_commands(fake.port).values()))
        assert fake.connections == len(results)
    for ran in results:
        assert_fails_with(ran, "timed out")
        assert f"after {DEFAULT_TIMEOUT:g}s" in ran.stderr
        assert ran.elapsed < DEFAULT_TIMEOUT + START_ALLOWANCE, f"{ran.argv} took {ran.elapsed:.2f}s"


def test_never_answers_with_timeout_flag() -> None:
    with NeverAnswers() as fake:
        ran = run(["zkboot", "probe", "ready", "--port", str(fake.port), "--timeout", "0.3"])
    assert_fails_with(ran, "timed out")
    assert "after 0.3s" in ran.stderr
    assert ran.elapsed < 0.3 + START_ALLOWANCE


# --- environment -----------------------------------------------------------------------------------


def test_probe_timeout_from_the_environment_and_the_flag_over_it() -> None:
    with NeverAnswers() as fake:
        from_env, from_flag = run_many(
            [
                (["zkOk.sh"], {"ZK_CLIENT_PORT": str(fake.port), "ZK_PROBE_TIMEOUT": "0.3"}),
                (["zookeeper-ready", str(fake.port), "--timeout=0.2"], {"ZK_PROBE_TIMEOUT": "5"}),
            ]
        )
    assert_fails_with(from_env, "timed out")
    assert "after 0.3s" in from_env.stderr
    assert_fails_with(from_flag, "timed out")
    assert "after 0.2s" in from_flag.stderr
    assert from_flag.elapsed < 0.2 + START_ALLOWANCE


def test_probe_host_from_the_environment_and_the_flag_over_it() -> None:
    with Canned() as fake:
        # The fake listens on 127.0.0.1 only; 127.0.0.2 is loopback too, and refuses.
        elsewhere = run(["zkboot", "probe", "live", "--port", str(fake.port)], ZK_PROBE_HOST="127.0.0.2")
        flag = run(
            ["zkboot", "probe", "live", "--port", str(fake.port), "--host", "127.0.0.1"], ZK_PROBE_HOST="127.0.0.2"
        )
        empty = run(["zkboot", "probe", "live", "--port", str(fake.port)], ZK_PROBE_HOST="")
    assert_fails_with(elsewhere, "refused")
    assert f"127.0.0.2:{fake.port}" in elsewhere.stderr
    assert_passes(flag)
    assert_passes(empty)  # empty counts as unset


def test_client_port_from_the_environment_and_the_positional_port_over_it() -> None:
    with Canned() as fake:
        assert_passes(run(["zkOk.sh"], ZK_CLIENT_PORT=str(fake.port)))
        assert_passes(run(["zookeeper-ready", str(fake.port)], ZK_CLIENT_PORT=str(free_port())))
        assert_passes(run(["zkboot", "probe", "ready", f"--port={fake.port}"], ZK_CLIENT_PORT="1"))


def test_http_transport_from_the_environment() -> None:
    with FakeAdmin(admin_routes("follower")) as healthy, FakeAdmin(admin_routes_not_serving()) as quorumless:
        env = {"ZK_PROBE_TRANSPORT": "http", "ZK_CLIENT_PORT": str(free_port())}
        ready = run(["zkboot", "probe", "ready"], ZK_ADMIN_PORT=str(healthy.port), **env)
        live_nq = run(["zkboot", "probe", "live"], ZK_ADMIN_PORT=str(quorumless.port), **env)
        ready_nq = run(["zkboot", "probe", "ready"], ZK_ADMIN_PORT=str(quorumless.port), **env)
        flag = run(["zkboot", "probe", "ready", "--transport", "http", "--admin-port", str(healthy.port)])
    assert_passes(ready)
    assert_passes(live_nq)
    assert_fails_with(ready_nq, "not serving")
    assert_passes(flag)
    assert healthy.requests == ["/commands/srvr", "/commands/srvr"]


# --- usage -----------------------------------------------------------------------------------------

USAGE_ERRORS = [
    (["zookeeper-ready", "0"], {}),
    (["zookeeper-ready", "65536"], {}),
    (["zookeeper-ready", "2181", "2182"], {}),
    (["zkboot", "probe", "live", "--port", "abc"], {}),
    (["zkboot", "probe", "live", "--port=-1"], {}),
    (["zkboot", "probe", "live", "--timeout", "0"], {}),
    (["zkboot", "probe", "live", "--timeout", "nan"], {}),
    (["zkboot", "probe", "live", "--timeout", "301"], {}),
    (["zkboot", "probe", "ready", "--timeout"], {}),
    (["zkboot", "probe", "live", "--transport", "ftp"], {}),
    (["zkboot", "probe", "live", "--bogus", "1"], {}),
    (["zkboot", "probe", "live", "-p", "2181"], {}),
    (["zkboot", "probe"], {}),
    (["zkboot", "probe", "maybe"], {}),
    (["zkOk.sh"], {"ZK_CLIENT_PORT": "abc"}),
    (["zkOk.sh"], {"ZK_PROBE_TIMEOUT": "-1"}),
    (["zkOk.sh"], {"ZK_PROBE_HOST": "two words"}),
    (["zkOk.sh"], {"ZK_PROBE_TRANSPORT": "udp"}),
    (["zkboot", "probe", "live", "--transport", "tls", "--tls-ca", "/nonexistent/ca.pem"], {}),
]


@pytest.mark.parametrize(("argv", "extra"), USAGE_ERRORS, ids=[" ".join(a) + str(e) for a, e in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(argv: list[str], extra: dict[str, str]) -> None:
    ran = run(argv, **extra)
    assert ran.code == 2, ran
    line = one_line(ran)
    assert ": error: " in line, line
    assert ran.stdout == ""


def test_usage_error_names_the_variable() -> None:
    ran = run(["zkOk.sh"], ZK_CLIENT_PORT="abc")
    assert one_line(ran) == "zkOk.sh: error: ZK_CLIENT_PORT='abc': expected an integer from 1 to 65535"


@pytest.mark.parametrize(
    "argv",
    [
        ["zookeeper-ready", "--help"],
        ["zkOk.sh", "-h"],
        ["zkboot", "probe", "--help"],
        ["zkboot", "probe", "live", "--help"],
        ["zkboot", "probe", "ready", "--port", "1", "-h"],
    ],
)
def test_help_exits_0(argv: list[str]) -> None:
    ran = run(argv)
    assert (ran.code, ran.stderr) == (0, "")
    assert ran.stdout.startswith("usage: ")
    assert "ZK_PROBE_TIMEOUT" in ran.stdout


def into_a_closed_pipe(argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([script(argv[0]), *argv[1:]], stdout=write_end, stderr=subprocess.PIPE, timeout=10,
                              env=clean_env())  # fmt: skip
    finally:
        os.close(write_end)


def test_metrics_into_a_closed_pipe_fail_with_one_line() -> None:
    """``zkboot metrics | head -c0``: exit 1 and one line naming the problem, not a traceback."""
    with Canned({"mntr": "zk_version\t3.8.0\n"}) as small, Canned() as large:  # buffered, and bigger than the buffer
        for port in (small.port, large.port):
            for argv in (["zookeeper-metrics", str(port)], ["zkboot", "metrics", f"--port={port}"]):
                done = into_a_closed_pipe(argv)
                assert done.returncode == 1, (argv, done)
                assert done.stderr.decode() == f"{' '.join(argv[:2]) if argv[0] == 'zkboot' else argv[0]}: " \
                    "cannot write the metrics: Broken pipe\n", (argv, done.stderr)  # fmt: skip


def test_usage_into_a_closed_pipe_fails_with_one_line() -> None:
    for argv in (["zookeeper-ready", "--help"], ["zkboot", "probe", "--help"]):
        done = into_a_closed_pipe(argv)
        assert (done.returncode, done.stderr.count(b"\n")) == (1, 1), (argv, done)
        assert b"cannot write the usage: Broken pipe" in done.stderr, (argv, done)


# --- imports ---------------------------------------------------------------------------------------

# What the probe path must not load: the kubelet runs a probe every few seconds in every pod.
HEAVY = ("typer", "jinja2", "kazoo", "psutil", "pydantic", "rich")

# Runs the installed console-script file as its own __main__, then says which of HEAVY got imported.
# ``preloaded``: those already imported before the script ran (the harness could not tell then).
RUN_AND_LIST = f"""
import json, runpy, sys
names = {HEAVY!r}
preloaded = [m for m in names if m in sys.modules]
path = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(path, run_name="__main__")
    code = None
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
modules = [m for m in names if m in sys.modules]
print("\\nIMPORTS " + json.dumps({{"code": code, "modules": modules, "preloaded": preloaded}}))
"""


def imports_of(argv: Sequence[str], **extra: str) -> tuple[object, list[str]]:
    """(exit code, names of HEAVY in sys.modules after running the script)."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, script(argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=10,
        env=clean_env(**extra),
    )
    last = done.stdout.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith("IMPORTS "), f"{argv}: {done.stdout!r} {done.stderr!r}"
    result = json.loads(last.removeprefix("IMPORTS "))
    assert not set(HEAVY) & set(result["preloaded"]), result  # else the harness could not tell
    return result["code"], result["modules"]


def every_entry_point(port: int) -> list[tuple[list[str], dict[str, str]]]:
    env = {"ZK_CLIENT_PORT": str(port)}
    return [
        (["zookeeper-ready", str(port)], {}),
        (["zkOk.sh"], env),
        (["zkboot", "probe", "live", "--port", str(port)], {}),
        (["zkboot", "probe", "ready", "--port", str(port)], {}),
        (["zkboot", "metrics", "--port", str(port)], {}),
        (["zkboot", "metrics", "--format", "prometheus", "--port", str(port)], {}),
        (["zkboot", "metrics", "--format", "json", "--port", str(port)], {}),
        (["zookeeper-metrics", str(port)], {}),
        (["zkMetrics.sh"], env),
    ]


def test_probe_entry_points_import_nothing_heavy() -> None:
    with Canned() as fake:
        for argv, extra in every_entry_point(fake.port):
            code, modules = imports_of(argv, **extra)
            assert code in (0, None), f"{argv} exited {code}"
            heavy = [m for m in modules if m in HEAVY]
            assert heavy == [], f"{' '.join(argv)} imported {heavy}"


def test_probe_entry_points_import_nothing_heavy_when_failing() -> None:
    port = free_port()
    for argv, extra in every_entry_point(port)[::2]:
        code, modules = imports_of(argv, **extra)
        assert code == 1, f"{argv} exited {code}"
        assert [m for m in modules if m in HEAVY] == [], argv


def test_the_heavy_path_does_import_typer() -> None:
    # The same harness on zkboot's full CLI: proves the harness sees imports at all.
    code, modules = imports_of(["zkboot", "render", "--help"])
    assert code in (0, None)
    assert "typer" in modules


def test_zkboot_start_parses_without_typer(tmp_path: Path) -> None:
    """``zkboot start`` is every pod's entrypoint: parsed like the old commands, without typer,
    through the plan up to its first check (and kazoo is loaded only when a session is opened);
    with ``--help`` it is typer's command still."""
    argv = ["zkboot", "start", "--servers=3", "--hostname=zk-7.zk-hs.default.svc.cluster.local",
            f"--conf-dir={tmp_path}/conf", f"--data-dir={tmp_path}/data"]  # fmt: skip
    code, modules = imports_of(argv)
    assert code == 2  # ordinal 7 of 3 servers: refused by the identity step, after the settings
    assert not {"typer", "kazoo"} & set(modules), modules
    assert list(tmp_path.iterdir()) == []
    code, modules = imports_of(["zkboot", "start", "--help"])
    assert code in (0, None) and "typer" in modules
